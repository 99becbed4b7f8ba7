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
    """A data set built from the options; subclasses add their flags in ``modify_commandline_options``.

    What it gives, which the options check against the model's needs before anything is read: ``domains``, the
    domains of a sample (2: A and B; 1: one folder, for test.py), and ``gives_masks``, whether samples carry instance
    masks."""

    domains = 2
    gives_masks = False

    def __init__(self, opt: argparse.Namespace) -> None:
        self.opt = opt
        self.root = Path(opt.dataroot)

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        return parser

    @staticmethod
    def data_set_root(dataroot: str | Path) -> Path:
        """The data set that a ``--dataroot`` of this mode reads (the folder of trainA, testA, ...)."""
        return Path(dataroot)

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


def smallest_side(opt: argparse.Namespace) -> int:
    """The smallest image side the networks take: the generators halve it twice and pad what is left by 1 (8); in
    training the discriminators halve it ``n`` times and shrink it by 2 more (3 * 2^n: 24 for the default 3 layers)."""
    if not opt.isTrain:
        return 8
    layers = 3 if opt.netD == "basic" else opt.n_layers_D
    return max(8, 3 * 2**layers)


def network_size(size: tuple[int, int], opt: argparse.Namespace) -> tuple[int, int] | str:
    """The (H, W) at which an image of ``size`` (H, W) reaches the networks under ``--resize_or_crop``, or why it
    cannot (too small for the crop, or for the networks)."""
    h, w = size
    mode, fine = opt.resize_or_crop, (opt.fineSizeH, opt.fineSizeW)
    if mode == "resize_and_crop":
        return fine
    if mode == "crop":
        return fine if h >= fine[0] and w >= fine[1] else f"{w}x{h} is smaller than the crop --fineSizeW/H {fine[1]}x{fine[0]}"
    if mode in ("scale_width", "scale_width_and_crop"):
        width = opt.fineSizeW if mode == "scale_width" else opt.loadSizeW
        out = (_round_to_4(h * width / w), _round_to_4(width))
        if mode == "scale_width_and_crop":
            if out[0] < fine[0] or out[1] < fine[1]:
                return f"{w}x{h}, scaled to {out[1]}x{out[0]}, is smaller than the crop --fineSizeW/H {fine[1]}x{fine[0]}"
            return fine
    else:
        out = (_round_to_4(h), _round_to_4(w))
    least = smallest_side(opt)
    if min(out) < least:
        return f"{w}x{h} is {out[1]}x{out[0]} after --resize_or_crop {mode}, and the networks need sides of at least {least}"
    return out


def usable_images(paths: list[Path], sizes: list[tuple[int, int]], folder: Path, opt: argparse.Namespace) -> list[Path]:
    """The images that reach the networks whole (``network_size``); the others are skipped with one warning. Refuses
    a folder none of whose images fits, and images of several sizes where a batch of more than one would stack them
    (``--resize_or_crop none`` or ``scale_width``)."""
    fitted = [(path, network_size(size, opt)) for path, size in zip(paths, sizes)]
    kept = [(path, out) for path, out in fitted if not isinstance(out, str)]
    unfit = [(path, out) for path, out in fitted if isinstance(out, str)]
    if unfit:
        what = f"{unfit[0][0].name}: {unfit[0][1]}"
        if not kept:
            raise UserError(f"none of the {len(paths)} images in {folder} fits: {what}; choose --resize_or_crop and the sizes "
                            "to fit the images")  # fmt: skip
        warnings.warn(f"{len(unfit)} of the images in {folder} do not fit and are skipped ({what}"
                      f"{', ...' if len(unfit) > 1 else ''})", stacklevel=3)  # fmt: skip
    if opt.batch_size > 1 and len({out for _, out in kept}) > 1:
        (first, a), (second, b) = kept[0], next(item for item in kept if item[1] != kept[0][1])
        raise UserError(f"--resize_or_crop {opt.resize_or_crop} keeps the sizes of {folder}'s images, which differ "
                        f"({first.name} becomes {a[1]}x{a[0]}, {second.name} {b[1]}x{b[0]}), and a batch holds images of "
                        "one size: use --batch_size 1, or --resize_or_crop resize_and_crop")  # fmt: skip
    return [path for path, _ in kept]


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
