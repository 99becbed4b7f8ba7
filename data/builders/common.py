"""What the data set builders share: writing samples safely, resizing, names, clear errors."""

from __future__ import annotations

import argparse
import difflib
import re
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

from instagan.util.cli import UserError
from instagan.util.files import StagedFolder, atomic_write_bytes
from instagan.util.flags import HelpFormatter


class SourceError(UserError):
    """The source folder is not what a builder expects; the message says what is missing and what to do."""


def builder_parser(
    description: str, source: str, domains: tuple[str, str], kind: str, min_pixels: int, cat1_help: str = ""
) -> argparse.ArgumentParser:
    """The flags every builder has: source and output folders, the two domains' names, the smallest instance."""
    parser = argparse.ArgumentParser(description=description, formatter_class=HelpFormatter)
    parser.add_argument("--data_root", required=True, help=source)
    parser.add_argument("--save_root", required=True, help="output data set folder")
    parser.add_argument("--cat1", default=domains[0], help=f"{kind} of domain A{cat1_help}")
    parser.add_argument("--cat2", default=domains[1], help=f"{kind} of domain B")
    parser.add_argument(
        "--min_pixels", type=int, default=min_pixels, help="instances smaller than this after resizing are dropped"
    )
    return parser


def require(path: Path, what: str, hint: str) -> Path:
    if not path.exists():
        raise SourceError(f"{path} not found: {what} ({hint})")
    return path


def unknown_name(kind: str, name: str, known: list[str]) -> SourceError:
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
    suggestion = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(known))}"
    return SourceError(f"unknown {kind} {name!r}{suggestion}")


def png(array: np.ndarray) -> bytes:
    buffer = BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


MARK = ".instagan_dataset"  # in every folder a builder wrote: a rerun may replace it


class BuildFolder:
    """The output of a builder, which owns it: everything is written into a hidden sibling (``partial``), and ``commit``
    replaces the output with it whole, so a rerun never mixes two runs and an interrupted one changes nothing.

    ``parts`` (e.g. ``["testA", "testA_seg"]``) limits what is owned to those subfolders of the output; without it the
    whole folder is, and a non-empty folder that no builder of this project wrote is refused, not deleted.
    """

    def __init__(self, root: str | Path, parts: list[str] | None = None, flag: str = "--save_root") -> None:
        self.root, self.parts = Path(root), parts
        if self.root.exists() and not self.root.is_dir():
            raise UserError(f"{self.root} is a file: give a folder to {flag}")
        foreign = self.root.is_dir() and not _built(self.root)
        if parts is None and foreign:
            raise UserError(f"{self.root} holds files that no data set builder of this project wrote: give another {flag}, "
                            "or empty it first (nothing is deleted)")  # fmt: skip
        self.staged = StagedFolder(self.root)

    @property
    def partial(self) -> Path:
        return self.staged.partial

    def __enter__(self) -> BuildFolder:
        self.staged.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.staged.__exit__(*exc)

    def commit(self) -> Path:
        if self.parts is None:
            (self.partial / MARK).write_text("written by a data set builder of this project; a rerun replaces this folder\n")
            return self.staged.commit()
        self.root.mkdir(parents=True, exist_ok=True)
        for part in self.parts:
            (self.partial / part).mkdir(exist_ok=True)
            StagedFolder(self.root / part).commit_from(self.partial / part)
        return self.root


def _built(folder: Path) -> bool:
    """Whether a folder is empty or holds a data set a builder wrote: its mark, or (written before marks) nothing but
    <split>A, <split>B, their _seg folders and evaluate.py's cached judge."""
    names = [p.name for p in folder.iterdir()]
    return MARK in names or all(re.fullmatch(r"\w+[AB](_seg)?", n) or n == "domain_classifier.pth" for n in names)


def write_sample(save_root: Path, split: str, domain: str, stem: str, image: np.ndarray, masks: list[np.ndarray]) -> None:
    """Write ``<split><domain>/<stem>.png`` and its masks ``<split><domain>_seg/<stem>_<k>.png``.

    image: uint8 (H, W, 3); masks: bool or uint8 (H, W). Every file is written atomically and masks left by an
    earlier run of the same stem are removed first (builders write into a fresh ``BuildFolder``).
    """
    img_dir, seg_dir = save_root / f"{split}{domain}", save_root / f"{split}{domain}_seg"
    seg_dir.mkdir(parents=True, exist_ok=True)
    img_dir.mkdir(parents=True, exist_ok=True)
    for old in seg_dir.glob(f"{stem}_*.png"):
        if old.stem[len(stem) + 1 :].isdigit():
            old.unlink()
    for k, mask in enumerate(masks):
        atomic_write_bytes(seg_dir / f"{stem}_{k}.png", png((np.asarray(mask) > 0).astype(np.uint8) * 255))
    atomic_write_bytes(img_dir / f"{stem}.png", png(image))


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 (H, W, 3) -> (size[0], size[1], 3), bicubic."""
    return np.asarray(Image.fromarray(image).resize((size[1], size[0]), Image.BICUBIC))


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """bool (H, W) -> bool (size), bilinear then thresholded at one half."""
    img = Image.fromarray((np.asarray(mask) > 0).astype(np.uint8) * 255)
    return np.asarray(img.resize((size[1], size[0]), Image.BILINEAR)) >= 128


def cover_and_crop(array: np.ndarray, size: tuple[int, int], resample: int) -> np.ndarray:
    """Resize keeping the aspect ratio so that ``size`` (H, W) is covered, then crop the centre."""
    h, w = array.shape[:2]
    scale = max(size[0] / h, size[1] / w)
    new = (max(size[0], round(h * scale)), max(size[1], round(w * scale)))
    img = Image.fromarray(array).resize((new[1], new[0]), resample)
    top, left = (new[0] - size[0]) // 2, (new[1] - size[1]) // 2
    return np.asarray(img.crop((left, top, left + size[1], top + size[0])))


def keep_instances(masks: list[np.ndarray], min_pixels: int) -> list[np.ndarray]:
    """Drop instances that (nearly) vanished after resizing."""
    return [m for m in masks if int(np.count_nonzero(m)) >= min_pixels]

