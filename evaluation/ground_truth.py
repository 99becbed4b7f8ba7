"""Ground truth: where a data set knows the ideal translation of each test image, the metrics that compare a
translation with it.

The shapes data set writes, beside each test folder ``<phase><domain>``, the ideal translations
(``<phase><domain>_ideal/<stem>.png``, masks ``<phase><domain>_ideal_seg/<stem>_<k>.png``, mask k the translation of
the source's mask k) and each image's background alone (``<phase><domain>_background/<stem>.png``). They are
resized and cropped as test.py did the source image, and each translated instance of a results folder is matched to
its source mask (and so its ideal mask) by overlap.

Instances beyond ``--ins_max`` were not translated: the ideal keeps them as they were (``Truth.image``), which is
exact where instances do not touch (``--apart``).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision import tv_tensors

from instagan.data.base_dataset import build_transform
from instagan.data.builders.shapes import BACKGROUND, IDEAL
from instagan.data.image_folder import index_masks, read_image, read_mask
from instagan.util.images import from_uint8

PSNR_MAX = 60.0  # dB, for images equal within float noise (8-bit rounding alone gives about 59)
MATCH_IOU = 0.5  # a translated instance is matched to the data set's mask it overlaps most, at least this much
SOURCE_TOLERANCE = 0.02  # in [-1, 1]: the results' source image must be the data set's, read as test.py read it


@dataclass
class Truth:
    """The ideal of one translated image at its output's size. Images are (3, H, W) in [-1, 1], masks boolean (H, W).

    ``image``: the ideal translation of the instances that were translated, with those left untranslated as they were;
    ``masks[i]``: the ideal mask of the i-th translated instance; ``regions[i]``: where that instance was or should be
    (its source mask or its ideal mask); ``left``: the same regions of the untranslated instances; ``background``:
    the background alone."""

    image: torch.Tensor
    masks: list[torch.Tensor]
    regions: list[torch.Tensor]
    left: list[torch.Tensor]
    background: torch.Tensor

    def instance_region(self) -> torch.Tensor:
        """Every pixel that a translated instance covered or should cover."""
        return _union(self.regions, self.image.shape[1:])

    def background_region(self) -> torch.Tensor:
        """Every pixel that no instance covers, translated or not, before or after: no mask can shrink it."""
        return ~_union(self.regions + self.left, self.image.shape[1:])


def _union(masks: list[torch.Tensor], size) -> torch.Tensor:
    union = torch.zeros(tuple(size), dtype=torch.bool)
    for m in masks:
        union |= m
    return union


def iou(a: torch.Tensor, b: torch.Tensor) -> float:
    """Intersection over union of two boolean masks; 1.0 when both are empty."""
    union = int((a | b).sum())
    return 1.0 if union == 0 else int((a & b).sum()) / union


def error(a: torch.Tensor, b: torch.Tensor, region: torch.Tensor) -> float | None:
    """Mean absolute difference of two images (3, H, W) in [-1, 1] over a boolean region; None where it is empty."""
    if not region.any():
        return None
    return float((a - b).abs().mean(dim=0)[region].mean())


def psnr(a: torch.Tensor, b: torch.Tensor, region: torch.Tensor | None = None) -> float | None:
    """Peak signal-to-noise ratio (dB) of two images (3, H, W) in [-1, 1] taken to [0, 1], over a boolean region (the
    whole image by default), at most PSNR_MAX; None where the region is empty."""
    squared = ((a - b) / 2).pow(2).mean(dim=0)
    if region is not None:
        if not region.any():
            return None
        squared = squared[region]
    mse = float(squared.mean())
    return PSNR_MAX if mse <= 10 ** (-PSNR_MAX / 10) else min(PSNR_MAX, 10 * math.log10(1 / mse))


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Structural similarity (torchmetrics, Gaussian window of 11 pixels) of two images (3, H, W) in [-1, 1]."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    return float(structural_similarity_index_measure(((a + 1) / 2)[None], ((b + 1) / 2)[None], data_range=1.0))


def drawn(output: torch.Tensor, truth: Truth) -> torch.Tensor | None:
    """Where the translated image (3, H, W) shows an instance: the pixels that differ from the background alone by
    more than half the contrast of the ideal's instances (the median over their pixels). None when the ideal has no
    instance pixels, or its instances do not stand out from the background."""
    inside = _union(truth.masks + truth.left, output.shape[1:])
    if not inside.any():
        return None
    contrast = float((truth.image - truth.background).abs().mean(dim=0)[inside].median())
    if contrast < 0.05:
        return None
    return (output - truth.background).abs().mean(dim=0) > contrast / 2


class IdealFolder:
    """The ideal translations of one test folder's images, read as test.py read their sources (``opt``: the
    results folder's test options)."""

    def __init__(self, dataroot: Path, phase: str, domain: str, opt: dict) -> None:
        self.folder = Path(dataroot) / f"{phase}{domain}"
        self.ideal = Path(f"{self.folder}{IDEAL}")
        self.background = Path(f"{self.folder}{BACKGROUND}")
        self.available = self.ideal.is_dir() and self.background.is_dir()
        if self.available:
            self.transform = build_transform(argparse.Namespace(**opt), train=False)
            self.source_masks = index_masks(f"{self.folder}_seg")
            self.ideal_masks = index_masks(f"{self.ideal}_seg")

    def truth(self, source_file: str, source: torch.Tensor, translated: list[torch.Tensor],
              left: list[torch.Tensor]) -> Truth | None:  # fmt: skip
        """The ``Truth`` of one translated image: its source image (3, H, W) and the source masks of its translated
        and untranslated instances ((H, W) in [-1, 1]), as the results folder holds them. None when the data set
        has no ideal of that image, or the results' source or an instance is not the data set's."""
        stem = Path(source_file).stem
        path = self.folder / Path(source_file).name  # the results may name it relative to another folder
        ideal_path, background_path = self.ideal / f"{stem}.png", self.background / f"{stem}.png"
        if not self.available or not ideal_path.is_file() or not background_path.is_file() or not path.is_file():
            return None
        raw = read_image(path)
        size = tuple(raw.shape[1:])
        source_masks = [read_mask(p, size) for p in self.source_masks.get(stem, [])]
        ideal_masks = [read_mask(p, size) for p in self.ideal_masks.get(stem, [])]
        if len(ideal_masks) != len(source_masks):
            return None
        images = [tv_tensors.Image(x) for x in (raw, read_image(ideal_path), read_image(background_path))]
        stacks = [tv_tensors.Image(torch.stack(m)) for m in (source_masks, ideal_masks) if m]
        done = self.transform(*images, *stacks)
        raw_t, ideal_t, background_t = (from_uint8(x.as_subclass(torch.Tensor)) for x in done[:3])
        if raw_t.shape != source.shape or (raw_t - source).abs().max() > SOURCE_TOLERANCE:
            return None
        src_m = done[3].as_subclass(torch.Tensor) > 127 if source_masks else torch.zeros(0, *raw_t.shape[1:], dtype=torch.bool)
        ideal_m = done[4].as_subclass(torch.Tensor) > 127 if source_masks else src_m
        matched = [_match(m > 0, src_m) for m in translated + left]
        if any(k is None for k in matched):
            return None
        regions = [src_m[k] | ideal_m[k] for k in matched]
        image = ideal_t.clone()
        for region in regions[len(translated) :]:  # the untranslated instances stay as they were
            image[:, region] = source[:, region]
        masks = [ideal_m[k] for k in matched[: len(translated)]]
        return Truth(image, masks, regions[: len(translated)], regions[len(translated) :], background_t)


def _match(mask: torch.Tensor, candidates: torch.Tensor) -> int | None:
    """The index of the candidate mask (K, H, W) that a boolean mask overlaps most, if by at least MATCH_IOU."""
    scores = [iou(mask, c) for c in candidates]
    if not scores or max(scores) < MATCH_IOU:
        return None
    return max(range(len(scores)), key=scores.__getitem__)
