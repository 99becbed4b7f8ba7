"""Two unpaired domains of images with instance masks (InstaGAN's data).

Layout: ``<dataroot>/<phase>A/<stem>.<ext>`` with masks ``<dataroot>/<phase>A_seg/<stem>_<k>.png``,
k = 0, 1, ...; the same for B. Each sample pairs the i-th A image with a random B image (the i-th with
``--serial_batches``).
"""

from __future__ import annotations

import argparse
import random
import warnings
from pathlib import Path

from instagan.data.base_dataset import (
    BaseDataset,
    build_transform,
    load_image_and_masks,
    load_skipping_unreadable,
    usable_images,
)
from instagan.data.image_folder import image_size, index_masks, make_dataset, mask_is_empty, masks_not_png
from instagan.util.cli import UserError
from instagan.util.flags import at_least


def add_mask_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--mask_slots",
        "--max_instances",
        dest="mask_slots",
        default=20,
        help="mask slots per loaded image (more masks are dropped, fewer padded with empty ones); the model "
        "translates --ins_max (cycle_gan_seg: --seg_slots) of them",
        **at_least(1),
    )
    return parser


MASKS_SAMPLED = 64  # masks whose pixels a data set reads up front, spread over its folder


class DomainFolder:
    """The images of one domain folder and the index of their masks in ``<folder>_seg``.

    Checked up front from the files' headers: an image that cannot be read is skipped with a warning; a mask that
    cannot be read, or whose size is not its image's, is an error that names the file.
    """

    def __init__(self, folder, opt: argparse.Namespace) -> None:
        self.folder = Path(folder)
        self.seg_folder = Path(f"{folder}_seg")
        self.masks = index_masks(self.seg_folder)
        self.paths, unreadable, sizes = [], [], []
        for path in make_dataset(folder, opt.max_dataset_size):
            size = image_size(path)
            if size is None:
                unreadable.append(path)
                continue
            sizes.append(size)
            for mask in self.masks.get(path.stem, []):
                mask_size = image_size(mask)
                if mask_size is None:
                    raise UserError(f"{mask}: cannot read this mask; remove or replace it")
                if mask_size != size:
                    raise UserError(
                        f"{mask}: mask is {mask_size[1]}x{mask_size[0]} but its image is {size[1]}x{size[0]} (WxH); "
                        "write the masks at the image's size"
                    )
            self.paths.append(path)
        if unreadable:
            warnings.warn(
                f"{len(unreadable)} of the images in {self.folder} cannot be read and are skipped: "
                f"{', '.join(p.name for p in unreadable[:3])}{', ...' if len(unreadable) > 3 else ''}",
                stacklevel=2,
            )
        if not self.paths:
            raise UserError(f"none of the images in {self.folder} can be read: check the files")
        self.paths = usable_images(self.paths, sizes, self.folder, opt)
        self.with_masks = sum(1 for p in self.paths if self.masks.get(p.stem))

    def __len__(self) -> int:
        return len(self.paths)

    def mask_paths(self, index: int):
        return self.masks.get(self.paths[index].stem, [])

    def describe(self) -> str:
        return f"{self.folder.name}: {len(self)} images, {self.with_masks} with instance masks"

    def check_masks(self, required: bool) -> None:
        """Refuse (``required``: training) or warn when images have no masks, saying where masks are expected; refuse
        masks that mark nothing (``check_mask_pixels``)."""
        self.check_mask_pixels()
        if self.with_masks == len(self):
            return
        not_png = masks_not_png(self.seg_folder)
        if not self.seg_folder.is_dir():
            why = f"{self.seg_folder} does not exist (masks are <stem>_<k>.png there, k = 0, 1, ...)"
        elif not_png:
            why = f"{self.seg_folder} holds {len(not_png)} masks that are not PNG (e.g. {not_png[0].name}): save them as .png"
        else:
            example = next(p.stem for p in self.paths if not self.masks.get(p.stem))
            why = f"masks are {self.seg_folder}/<stem>_<k>.png, e.g. {example}_0.png"
        if required and self.with_masks == 0:
            raise UserError(f"none of the {len(self)} images in {self.folder} has an instance mask: {why}")
        warnings.warn(
            f"{len(self) - self.with_masks} of the {len(self)} images in {self.folder} have no instance mask and are "
            f"not translated (they pass through): {why}",
            stacklevel=2,
        )


    def check_mask_pixels(self) -> None:
        """Read up to ``MASKS_SAMPLED`` masks spread over the folder: refuse when every one marks nothing (black, or
        drawn in a colour that reads as black), warn when some do (their instances are never translated)."""
        masks = [mask for path in self.paths for mask in self.masks.get(path.stem, [])]
        sample = masks[:: max(1, len(masks) // MASKS_SAMPLED)][:MASKS_SAMPLED]
        empty = [mask for mask in sample if mask_is_empty(mask)]
        if not empty:
            return
        what = "masks are white (or any non-black grey) where the instance is and black elsewhere, as PNG"
        if len(empty) == len(sample):
            raise UserError(f"every mask read in {self.seg_folder} is empty ({len(sample)} read, e.g. {empty[0].name}): "
                            f"{what}")  # fmt: skip
        warnings.warn(f"{len(empty)} of the {len(sample)} masks read in {self.seg_folder} are empty (e.g. {empty[0].name}): "
                      f"their instances are not translated; {what}", stacklevel=3)  # fmt: skip


class UnalignedSegDataset(BaseDataset):
    gives_masks = True

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        return add_mask_options(parser)

    def __init__(self, opt: argparse.Namespace) -> None:
        super().__init__(opt)
        self.domain_A = DomainFolder(self.root / f"{opt.phase}A", opt)
        self.domain_B = DomainFolder(self.root / f"{opt.phase}B", opt)
        for domain in (self.domain_A, self.domain_B):
            domain.check_masks(required=opt.isTrain)
        self.transform = build_transform(opt, opt.isTrain)

    def __len__(self) -> int:
        return max(len(self.domain_A), len(self.domain_B))

    def describe(self) -> str:
        return f"{self.domain_A.describe()}; {self.domain_B.describe()}"

    def __getitem__(self, index: int) -> dict:
        return load_skipping_unreadable(self._load, index, len(self))

    def _load(self, index: int) -> dict:
        index_B = index % len(self.domain_B) if self.opt.serial_batches else random.randrange(len(self.domain_B))
        return self.pair(index % len(self.domain_A), index_B)

    def pair(self, index_A: int, index_B: int) -> dict:
        """The sample of the index_A-th A image and the index_B-th B image, with their masks."""
        item = {}
        for key, domain, i in (("A", self.domain_A, index_A), ("B", self.domain_B, index_B)):
            image, masks = load_image_and_masks(domain.paths[i], domain.mask_paths(i), self.transform, self.opt.mask_slots)
            item.update({key: image, f"{key}_segs": masks, f"{key}_paths": str(domain.paths[i])})
        return item
