"""Two unpaired domains of images without masks (the CycleGAN baseline's data).

Layout: ``<dataroot>/<phase>A/*`` and ``<dataroot>/<phase>B/*``; mask folders, if present, are ignored.
"""

from __future__ import annotations

import argparse
import random
import warnings
from pathlib import Path

import torch
from torchvision import tv_tensors

from instagan.data.base_dataset import BaseDataset, build_transform, load_skipping_unreadable, usable_images
from instagan.data.image_folder import image_size, make_dataset, read_image
from instagan.util.cli import UserError
from instagan.util.images import from_uint8


class UnalignedDataset(BaseDataset):
    def __init__(self, opt: argparse.Namespace) -> None:
        super().__init__(opt)
        self.paths_A = _readable(self.root / f"{opt.phase}A", opt)
        self.paths_B = _readable(self.root / f"{opt.phase}B", opt)
        self.transform = build_transform(opt, opt.isTrain)

    def __len__(self) -> int:
        return max(len(self.paths_A), len(self.paths_B))

    def _load(self, path) -> torch.Tensor:
        return from_uint8(self.transform(tv_tensors.Image(read_image(path))).as_subclass(torch.Tensor))

    def describe(self) -> str:
        return f"{self.opt.phase}A: {len(self.paths_A)} images; {self.opt.phase}B: {len(self.paths_B)} images"

    def __getitem__(self, index: int) -> dict:
        return load_skipping_unreadable(self._load_pair, index, len(self))

    def _load_pair(self, index: int) -> dict:
        index_B = index % len(self.paths_B) if self.opt.serial_batches else random.randrange(len(self.paths_B))
        return self.pair(index % len(self.paths_A), index_B)

    def pair(self, index_A: int, index_B: int) -> dict:
        """The sample of the index_A-th A image and the index_B-th B image."""
        path_A, path_B = self.paths_A[index_A], self.paths_B[index_B]
        return {"A": self._load(path_A), "B": self._load(path_B), "A_paths": str(path_A), "B_paths": str(path_B)}


def _readable(folder, opt: argparse.Namespace) -> list:
    """The folder's images whose header can be read and that fit the networks (``usable_images``); the others are
    skipped with a warning."""
    paths = make_dataset(folder, opt.max_dataset_size)
    sizes = {p: image_size(p) for p in paths}
    readable = [p for p in paths if sizes[p] is not None]
    if len(readable) < len(paths):
        warnings.warn(f"{len(paths) - len(readable)} of the images in {folder} cannot be read and are skipped", stacklevel=2)
    if not readable:
        raise UserError(f"none of the images in {folder} can be read: check the files")
    return usable_images(readable, [sizes[p] for p in readable], Path(folder), opt)
