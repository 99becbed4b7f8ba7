"""A template for a new data set: copy this file to ``data/<name>_dataset.py``, rename the class to
``<Name>Dataset`` and fill in the parts marked TODO; ``--dataset_mode <name>`` then finds it (``data/__init__.py``).

As written it is a working data set: the images of one folder per domain, listed in ``<dataroot>/<phase>.txt``
(one ``A<tab>B`` pair of relative paths per line: a paired data set), without masks.
"""

from __future__ import annotations

import argparse

from instagan.data.base_dataset import BaseDataset, build_transform, load_skipping_unreadable
from instagan.data.image_folder import read_image
from instagan.util.cli import UserError
from instagan.util.images import from_uint8


class TemplateDataset(BaseDataset):
    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        """TODO: the data set's own flags and defaults."""
        parser.add_argument("--list_file", default=None, help="TODO: the pairs file (default: <dataroot>/<phase>.txt)")
        return parser

    def __init__(self, opt: argparse.Namespace) -> None:
        super().__init__(opt)
        listing = self.root / (opt.list_file or f"{opt.phase}.txt")
        if not listing.is_file():
            raise UserError(f"{listing} not found: it lists the pairs, one 'A<tab>B' per line")
        self.pairs = [line.split("\t") for line in listing.read_text().splitlines() if line.strip()]  # TODO: your index
        self.transform = build_transform(opt, opt.isTrain)

    def __len__(self) -> int:
        return len(self.pairs)

    def describe(self) -> str:
        return f"{len(self)} pairs"

    def __getitem__(self, index: int) -> dict:
        return load_skipping_unreadable(self._load, index, len(self))

    def _load(self, index: int) -> dict:
        """TODO: one sample: ``A`` and ``B`` images (3, H, W) in [-1, 1], their ``_paths`` and, with instances,
        ``A_segs`` / ``B_segs`` (slots, H, W) masks (see base_dataset.transform_image_and_masks)."""
        item = {}
        for key, relative in zip(("A", "B"), self.pairs[index]):
            path = self.root / relative.strip()
            item[key] = from_uint8(self.transform(read_image(path)))
            item[f"{key}_paths"] = str(path)
        return item
