"""Listing image files and reading images and instance masks."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from instagan.util.cli import UserError

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".tif", ".tiff", ".webp", ".gif")  # a GIF: its first frame


def is_image_file(path: str | Path) -> bool:
    return str(path).lower().endswith(IMG_EXTENSIONS)


DATA_SET_FOLDER = "--dataroot and --phase (expected <dataroot>/<phase>A)"


def make_dataset(folder: str | Path, max_dataset_size: float = float("inf"), check: str = DATA_SET_FOLDER) -> list[Path]:
    """Sorted image files directly inside ``folder`` (not recursive), at most max_dataset_size; other files are skipped
    with a warning (hidden ones silently). ``check``: the flags that name the folder, for the errors."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder: check {check}")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    paths = [p for p in files if is_image_file(p)]
    if not paths:
        raise FileNotFoundError(f"{folder} holds no images ({', '.join(IMG_EXTENSIONS)}): check {check}")
    if len(paths) < len(files):
        others = [p.name for p in files if not is_image_file(p)]
        warnings.warn(f"{len(others)} files in {folder} are not images of a kind this reads ({', '.join(IMG_EXTENSIONS)}) "
                      f"and are skipped: {', '.join(others[:3])}{', ...' if len(others) > 3 else ''}", stacklevel=2)  # fmt: skip
    seen: dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise UserError(
                f"{seen[path.stem]} and {path.name} share the name {path.stem!r}: masks and results are named by it, "
                "so rename one of them"
            )
        seen[path.stem] = path
    return paths[: int(min(max_dataset_size, len(paths)))]


_MASK_NAME = re.compile(r"^(?P<stem>.+)_(?P<k>\d+)\.png$", re.IGNORECASE)


_OTHER_MASK_NAME = re.compile(r"^(?P<stem>.+)_(?P<k>\d+)\.\w+$")


def index_masks(folder: str | Path) -> dict[str, list[Path]]:
    """Map each image stem to its mask files ``<stem>_<k>.png`` in ``folder``, ordered by k.

    A missing folder gives an empty index: the images then have no instances.
    """
    index: dict[str, list[tuple[int, Path]]] = {}
    folder = Path(folder)
    if folder.is_dir():
        for path in folder.iterdir():
            match = _MASK_NAME.match(path.name)
            if match:
                index.setdefault(match["stem"], []).append((int(match["k"]), path))
    return {stem: [p for _, p in sorted(items)] for stem, items in index.items()}


def masks_not_png(folder: str | Path) -> list[Path]:
    """Files in a mask folder named like masks (``<stem>_<k>.<ext>``) but not PNG, which are not read."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _OTHER_MASK_NAME.match(p.name) and not _MASK_NAME.match(p.name))


EXIF_ORIENTATION = 0x0112  # values 5 to 8 turn the image by 90 degrees: width and height swap


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation read from what opening the file parsed: a PNG's eXIf chunk after its pixels is not looked
    for, as finding it would decode the whole image."""
    if img.format == "PNG" and "exif" not in img.info:
        return 1
    return img.getexif().get(EXIF_ORIENTATION, 1)


def image_size(path: Path) -> tuple[int, int] | None:
    """(H, W) of the image as read (upright, after its EXIF orientation), from the file's header without decoding it;
    None when it is not a readable image or is larger than PIL's limit."""
    try:
        with Image.open(path) as img:
            h, w = img.size[1], img.size[0]
            return (w, h) if _orientation(img) in (5, 6, 7, 8) else (h, w)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def _to_uint8(img: Image.Image, path: Path) -> np.ndarray:
    """Pixel values of 16-bit and integer modes scaled to 0..255 (converting them would clip them to white)."""
    array = np.asarray(img)
    if img.mode.startswith("I;16") or (img.mode == "I" and array.max(initial=0) > 255):
        if array.max(initial=0) > 65535 or array.min(initial=0) < 0:
            raise UserError(f"{path}: {img.mode} values outside 0..65535; save it as an 8- or 16-bit image")
        return np.round(array.astype(np.float64) / 257.0).astype(np.uint8)
    if img.mode == "F":
        if array.min(initial=0) < 0 or array.max(initial=0) > 1:
            raise UserError(f"{path}: floating-point pixels outside 0..1; save it as an 8- or 16-bit image")
        return np.round(array.astype(np.float64) * 255.0).astype(np.uint8)
    return array.astype(np.uint8)


class UnreadableImage(OSError):
    """An image or mask file that cannot be decoded; ``path`` names it."""

    def __init__(self, path: Path, reason: object, what: str = "image") -> None:
        super().__init__(f"{path}: cannot read this {what} ({reason}); remove or replace the file")
        self.path = Path(path)


def upright(img: Image.Image, source: str | Path = "image") -> Image.Image:
    """The image turned as its EXIF orientation says (phone photos), with a warning; itself when it has none."""
    orientation = _orientation(img)
    if orientation == 1:
        return img
    warnings.warn(f"{source}: turned upright by its EXIF orientation ({orientation}); draw its masks on the upright "
                  "image", stacklevel=3)  # fmt: skip
    return ImageOps.exif_transpose(img)


def _open(path: Path, what: str) -> Image.Image:
    """The file's first frame, upright (its EXIF orientation applied, with a warning), decoded."""
    try:
        img = Image.open(path)
        if getattr(img, "n_frames", 1) > 1:
            warnings.warn(f"{path}: {img.n_frames} frames; the first one is read", stacklevel=3)
            img.seek(0)
        img = upright(img, path)
        img.load()
        return img
    except Image.DecompressionBombError as err:
        raise UnreadableImage(path, f"{' '.join(str(err).split())}: larger than PIL allows, possibly a decompression "
                              "bomb", what) from err  # fmt: skip
    except (OSError, SyntaxError, ValueError) as err:
        raise UnreadableImage(path, err, what) from err


def pil_to_uint8(img: Image.Image, source: str | Path = "image") -> np.ndarray:
    """A PIL image as uint8 RGB (H, W, 3): grey, palette and alpha modes converted, 16-bit and float pixels scaled to
    0..255 (converting them would clip them to white). The one conversion of every reader: data sets, translate.py,
    the Python interface, evaluate.py."""
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        grey = _to_uint8(img, Path(source))
        return np.repeat(grey[..., None], 3, axis=2)
    return np.asarray(img.convert("RGB"))


def pil_to_mask(img: Image.Image) -> np.ndarray:
    """A PIL mask as uint8 (H, W): any mode read as one channel (16-bit and float scaled to their maximum), 0/1 masks
    scaled to 0/255. A mask with transparency is read over black; one drawn in its alpha channel alone (every colour
    the same, the instance opaque, the rest transparent) is its alpha channel."""
    if img.mode in ("I", "I;16", "I;16B", "F"):
        array = np.asarray(img, dtype=np.float64)
        array = np.clip(array * (255.0 / max(array.max(), 1.0)), 0, 255).astype(np.uint8)
    elif img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (img.mode == "P" and "transparency" in img.info):
        grey_alpha = np.asarray(img.convert("LA"), dtype=np.uint16)
        grey, alpha = grey_alpha[..., 0], grey_alpha[..., 1]
        if grey.size and np.ptp(grey) == 0 and np.ptp(alpha) > 0:
            array = alpha.astype(np.uint8)
        else:
            array = (grey * alpha // 255).astype(np.uint8)
    else:
        array = np.asarray(img.convert("L"))
    return array * 255 if array.max(initial=0) == 1 else array


def read_image(path: Path) -> torch.Tensor:
    """An RGB image as a uint8 tensor (3, H, W), upright; grey, palette, 16-bit and float images are converted."""
    with _open(path, "image") as img:
        array = pil_to_uint8(img, path)
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def read_mask(path: Path, size: tuple[int, int]) -> torch.Tensor:
    """An instance mask as a uint8 tensor (H, W), 255 inside the instance.

    Any PNG mode is read as one channel (grey, RGB, palette, 16-bit); masks stored as 0/1 are scaled
    to 0/255. ``size`` is the (H, W) of the mask's image, which the mask must have.
    """
    with _open(path, "mask") as img:
        array = pil_to_mask(img)
    if array.shape != tuple(size):
        raise ValueError(
            f"{path}: mask is {array.shape[1]}x{array.shape[0]} but its image is {size[1]}x{size[0]} (WxH); "
            "write the masks at the image's size"
        )
    return torch.from_numpy(array.copy())


def mask_is_empty(path: Path) -> bool:
    """Whether a mask file marks no pixel (every pixel black, as ``read_mask`` reads it)."""
    with _open(path, "mask") as img:
        return not pil_to_mask(img).any()


def read_masks(paths: list[Path], size: tuple[int, int], slots: int, image_path: Path) -> torch.Tensor:
    """The masks of one image as uint8 (K, H, W), K <= slots (extra masks dropped, with a warning)."""
    if len(paths) > slots:
        warnings.warn(
            f"{image_path} has {len(paths)} instance masks; only the first {slots} are read (raise --mask_slots to read more)",
            stacklevel=2,
        )
        paths = paths[:slots]
    if not paths:
        return torch.zeros((0, *size), dtype=torch.uint8)
    return torch.stack([read_mask(p, size) for p in paths])
