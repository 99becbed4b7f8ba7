"""Listing image files and reading images and instance masks."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".tif", ".tiff", ".webp")


def is_image_file(path: str | Path) -> bool:
    return str(path).lower().endswith(IMG_EXTENSIONS)


def make_dataset(folder: str | Path, max_dataset_size: float = float("inf")) -> list[Path]:
    """Sorted image files directly inside ``folder`` (not recursive), at most max_dataset_size."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder: check --dataroot and --phase (expected <dataroot>/<phase>A)")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p))
    if not paths:
        raise FileNotFoundError(f"{folder} holds no images ({', '.join(IMG_EXTENSIONS)}): check --dataroot and --phase")
    return paths[: int(min(max_dataset_size, len(paths)))]


_MASK_NAME = re.compile(r"^(?P<stem>.+)_(?P<k>\d+)\.png$", re.IGNORECASE)


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


def read_image(path: Path) -> torch.Tensor:
    """An RGB image as a uint8 tensor (3, H, W)."""
    try:
        with Image.open(path) as img:
            array = np.asarray(img.convert("RGB"))
    except OSError as err:
        raise OSError(f"{path}: cannot read this image ({err}); remove or replace the file") from err
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def read_mask(path: Path, size: tuple[int, int]) -> torch.Tensor:
    """An instance mask as a uint8 tensor (H, W), 255 inside the instance.

    Any PNG mode is read as one channel (grey, RGB, palette, 16-bit); masks stored as 0/1 are scaled
    to 0/255. ``size`` is the (H, W) of the mask's image, which the mask must have.
    """
    try:
        with Image.open(path) as img:
            if img.mode in ("I", "I;16", "I;16B", "F"):
                array = np.asarray(img, dtype=np.float64)
                array = np.clip(array * (255.0 / max(array.max(), 1.0)), 0, 255).astype(np.uint8)
            else:
                array = np.asarray(img.convert("L"))
    except OSError as err:
        raise OSError(f"{path}: cannot read this mask ({err}); remove or replace the file") from err
    if array.shape != tuple(size):
        raise ValueError(
            f"{path}: mask is {array.shape[1]}x{array.shape[0]} but its image is {size[1]}x{size[0]} (WxH); "
            "write the masks at the image's size"
        )
    if array.max() == 1:
        array = array * 255
    return torch.from_numpy(array.copy())


def read_masks(paths: list[Path], size: tuple[int, int], max_instances: int, image_path: Path) -> torch.Tensor:
    """The masks of one image as uint8 (K, H, W), K <= max_instances (extra masks dropped, with a warning)."""
    if len(paths) > max_instances:
        warnings.warn(
            f"{image_path} has {len(paths)} instance masks; only the first {max_instances} are read "
            "(raise --max_instances to read more)",
            stacklevel=2,
        )
        paths = paths[:max_instances]
    if not paths:
        return torch.zeros((0, *size), dtype=torch.uint8)
    return torch.stack([read_mask(p, size) for p in paths])
