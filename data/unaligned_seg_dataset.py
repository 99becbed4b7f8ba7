"""Two unpaired domains of images with instance masks (InstaGAN's data).

Layout: ``<dataroot>/<phase>A/<stem>.<ext>`` with masks ``<dataroot>/<phase>A_seg/<stem>_<k>.png``,
k = 0, 1, ...; the same for B. Each sample pairs the i-th A image with a random B image (the i-th with
``--serial_batches``).
"""

from __future__ import annotations

import argparse
import random

from data.base_dataset import BaseDataset, build_transform, load_image_and_masks
from data.image_folder import index_masks, make_dataset


def add_mask_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--max_instances", type=int, default=20, help="mask slots per image; batches are padded with empty masks to this"
    )
    return parser


class DomainFolder:
    """The images of one domain folder and the index of their masks in ``<folder>_seg``."""

    def __init__(self, folder, opt: argparse.Namespace) -> None:
        self.paths = make_dataset(folder, opt.max_dataset_size)
        self.masks = index_masks(f"{folder}_seg")

    def __len__(self) -> int:
        return len(self.paths)

    def mask_paths(self, index: int):
        return self.masks.get(self.paths[index].stem, [])


class UnalignedSegDataset(BaseDataset):
    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        return add_mask_options(parser)

    def __init__(self, opt: argparse.Namespace) -> None:
        super().__init__(opt)
        self.domain_A = DomainFolder(self.root / f"{opt.phase}A", opt)
        self.domain_B = DomainFolder(self.root / f"{opt.phase}B", opt)
        self.transform = build_transform(opt, opt.isTrain)

    def __len__(self) -> int:
        return max(len(self.domain_A), len(self.domain_B))

    def __getitem__(self, index: int) -> dict:
        index_A = index % len(self.domain_A)
        index_B = index % len(self.domain_B) if self.opt.serial_batches else random.randrange(len(self.domain_B))
        item = {}
        for key, domain, i in (("A", self.domain_A, index_A), ("B", self.domain_B, index_B)):
            image, masks = load_image_and_masks(domain.paths[i], domain.mask_paths(i), self.transform, self.opt.max_instances)
            item.update({key: image, f"{key}_segs": masks, f"{key}_paths": str(domain.paths[i])})
        return item
