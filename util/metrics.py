"""Evaluation metrics for translated images and instance masks.

Conventions: images are float (3, H, W) in [-1, 1]; masks are float (H, W) in [-1, 1] (+1 inside), or
boolean where a function says so. A mask pixel counts as inside when its value is above 0.
"""

from __future__ import annotations

import torch

from util import instance_set

# Fill ratio of a shape within its bounding box: 1.0 for an axis-aligned box, pi / 4 = 0.785 for an
# ellipse. The box/round threshold sits halfway; below ROUND_MIN a mask is neither (a ragged blob).
ROUND_BOX_THRESHOLD = (1.0 + torch.pi / 4) / 2
ROUND_MIN = 0.60
MIN_INSTANCE_PIXELS = 4


def binarize(mask: torch.Tensor) -> torch.Tensor:
    """(H, W) in [-1, 1] -> bool (H, W), True inside."""
    return mask > 0


def fill_ratio(mask: torch.Tensor) -> float:
    """Area of a boolean (H, W) mask over the area of its bounding box; 0 for an empty mask."""
    ys, xs = torch.nonzero(mask, as_tuple=True)
    if len(ys) == 0:
        return 0.0
    box = (int(ys.max() - ys.min()) + 1) * (int(xs.max() - xs.min()) + 1)
    return float(mask.sum()) / box


def shape_of(mask: torch.Tensor) -> str | None:
    """``box``, ``round`` or ``other`` for a boolean mask by its fill ratio; None when it is (nearly) empty."""
    if int(mask.sum()) < MIN_INSTANCE_PIXELS:
        return None
    ratio = fill_ratio(mask)
    if ratio >= ROUND_BOX_THRESHOLD:
        return "box"
    return "round" if ratio >= ROUND_MIN else "other"


def shape_accuracy(masks: list[torch.Tensor], target: str) -> float:
    """Fraction of the masks (each (H, W) in [-1, 1]) whose shape is ``target``; empty masks count as wrong."""
    if not masks:
        return float("nan")
    return sum(shape_of(binarize(m)) == target for m in masks) / len(masks)


def context_error(source: torch.Tensor, output: torch.Tensor, masks: list[torch.Tensor], radius: int = 2) -> float:
    """Mean |source - output| over the pixels outside the dilated union of the masks (input and translated).

    source, output: (3, H, W) in [-1, 1]. Lower is better; 0 when the background is untouched.
    Returns nan when the masks cover the whole image.
    """
    union = torch.zeros(source.shape[1:], dtype=torch.bool)
    for m in masks:
        union |= binarize(m)
    outside = ~instance_set.dilate(union, radius)
    if not outside.any():
        return float("nan")
    return float((source - output).abs().mean(dim=0)[outside].mean())


def instances_kept(input_masks: list[torch.Tensor], output_masks: list[torch.Tensor]) -> float:
    """Translated masks that are not empty, over the number of input instances (1.0 when none vanish)."""
    if not input_masks:
        return float("nan")
    kept = sum(int(binarize(m).sum()) >= MIN_INSTANCE_PIXELS for m in output_masks)
    return kept / len(input_masks)
