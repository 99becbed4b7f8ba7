"""One folder of images with instance masks, translated in one direction (test.py on a single domain).

``--dataroot`` is the image folder itself; its masks are in ``<dataroot>_seg`` (so ``.../testA`` reads
``.../testA_seg``). Samples carry the key of the source domain: ``A`` for ``--direction AtoB``, ``B`` for
``BtoA``, so that a model trained A -> B translates the folder with G_A, or with G_B for ``BtoA``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from instagan.data.base_dataset import BaseDataset, build_transform, load_image_and_masks, load_skipping_unreadable
from instagan.data.unaligned_seg_dataset import DomainFolder, add_mask_options


class SingleSegDataset(BaseDataset):
    domains = 1
    gives_masks = True

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        return add_mask_options(parser)

    @staticmethod
    def data_set_root(dataroot: str | Path) -> Path:
        return Path(dataroot).parent  # --dataroot is one of its folders (.../testA)

    def __init__(self, opt: argparse.Namespace) -> None:
        super().__init__(opt)
        self.domain = DomainFolder(self.root, opt)
        self.domain.check_masks(required=opt.isTrain)
        self.key = "A" if opt.direction == "AtoB" else "B"
        self.transform = build_transform(opt, opt.isTrain)

    def __len__(self) -> int:
        return len(self.domain)

    def describe(self) -> str:
        return self.domain.describe()

    def __getitem__(self, index: int) -> dict:
        return load_skipping_unreadable(self._load, index, len(self))

    def _load(self, index: int) -> dict:
        path = self.domain.paths[index]
        image, masks = load_image_and_masks(path, self.domain.mask_paths(index), self.transform, self.opt.mask_slots)
        return {self.key: image, f"{self.key}_segs": masks, f"{self.key}_paths": str(path)}
