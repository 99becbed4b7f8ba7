"""The dataset base class and the shared image + mask transform."""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from instagan.data.image_folder import UnreadableImage, read_image, read_masks
from instagan.util import instance_set
from instagan.util.cli import UserError
from instagan.util.images import from_uint8

PREPROCESS_MODES = ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none")


class BaseDataset(Dataset):
    """A data set built from the options; subclasses add their flags in ``modify_commandline_options``."""

    def __init__(self, opt: argparse.Namespace) -> None:
        self.opt = opt
        self.root = Path(opt.dataroot)

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        return parser

    def describe(self) -> str:
        """One line on what was found: images per domain, how many with masks."""
        return f"{len(self)} samples"


MAX_UNREADABLE_IN_A_ROW = 10


def load_skipping_unreadable(load: Callable[[int], dict], index: int, length: int) -> dict:
    """``load(index)``; when one of its files cannot be decoded, warn once with the file and load the next sample.

    The item's ``skipped`` names the files skipped for it ("" when none), so the training loop can count them.
    """
    skipped = []
    for attempt in range(MAX_UNREADABLE_IN_A_ROW):
        try:
            item = load((index + attempt) % length)
        except UnreadableImage as err:
            warnings.warn(f"{err}; skipped", stacklevel=2)
            skipped.append(str(err.path))
            continue
        item["skipped"] = "|".join(skipped)
        return item
    raise UserError(f"{MAX_UNREADABLE_IN_A_ROW} samples in a row cannot be read (last: {skipped[-1]}): check the data set")


def _round_to_4(size: int) -> int:
    # The generators halve the size twice and double it back: sides must be multiples of 4.
    return max(4, int(round(size / 4)) * 4)


def build_transform(opt: argparse.Namespace, train: bool) -> v2.Compose:
    """Resize / crop / flip on uint8 tv_tensors.Image inputs; one call transforms an image and its masks
    with one set of sampled parameters. Masks are resized bicubic, as the original did.

    Training crops at random; testing crops at the centre, so that test outputs are reproducible.
    """
    mode = opt.resize_or_crop
    load = (opt.loadSizeH, opt.loadSizeW)
    fine = (opt.fineSizeH, opt.fineSizeW)
    bicubic = v2.InterpolationMode.BICUBIC
    crop = v2.RandomCrop if train else v2.CenterCrop
    steps: list[v2.Transform] = []
    if mode == "resize_and_crop":
        steps += [v2.Resize(load, interpolation=bicubic, antialias=True), crop(fine)]
    elif mode == "crop":
        steps += [crop(fine)]
    elif mode == "scale_width":
        steps += [v2.Lambda(lambda x: _scale_width(x, opt.fineSizeW))]
    elif mode == "scale_width_and_crop":
        steps += [v2.Lambda(lambda x: _scale_width(x, opt.loadSizeW)), crop(fine)]
    elif mode == "none":
        steps += [v2.Lambda(_multiple_of_4)]
    else:
        raise ValueError(f"unknown --resize_or_crop {mode!r}: use one of {', '.join(PREPROCESS_MODES)}")
    if train and not opt.no_flip:
        steps.append(v2.RandomHorizontalFlip(p=0.5))
    return v2.Compose(steps)


def _scale_width(x: torch.Tensor, width: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    size = (_round_to_4(h * width / w), _round_to_4(width))
    return v2.functional.resize(x, size, interpolation=v2.InterpolationMode.BICUBIC, antialias=True)


def _multiple_of_4(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    size = (_round_to_4(h), _round_to_4(w))
    if size == (h, w):
        return x
    return v2.functional.resize(x, size, interpolation=v2.InterpolationMode.BICUBIC, antialias=True)


def load_image_and_masks(
    image_path: Path, mask_paths: list[Path], transform: v2.Compose, slots: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Read an image and its instance masks and transform them together (``transform_image_and_masks``)."""
    image = read_image(image_path)
    return transform_image_and_masks(image, read_masks(mask_paths, tuple(image.shape[1:]), slots, image_path),
                                     transform, slots)  # fmt: skip


def transform_image_and_masks(
    image: torch.Tensor, masks: torch.Tensor, transform: v2.Compose, slots: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """An image uint8 (3, H, W) and its masks uint8 (K, H, W), transformed together with one set of random draws.

    Returns the image (3, h, w) and the masks (slots, h, w), both float in [-1, 1]; slots
    beyond the image's instances are empty (-1). An image without masks gets only empty slots.
    """
    if len(masks):
        image, masks = transform(tv_tensors.Image(image), tv_tensors.Image(masks))
    else:
        image = transform(tv_tensors.Image(image))
    image = from_uint8(image.as_subclass(torch.Tensor))
    masks = from_uint8(masks.as_subclass(torch.Tensor)) if len(masks) else masks.float()
    empty = torch.full((0, *image.shape[1:]), instance_set.EMPTY)
    masks = instance_set.pad_slots((masks if len(masks) else empty).unsqueeze(0), slots)[0]
    return image, masks
