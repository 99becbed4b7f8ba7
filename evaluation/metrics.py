"""Evaluation metrics for translated images and instance masks.

Conventions: images are float (3, H, W) in [-1, 1]; masks are float (H, W) in [-1, 1] (+1 inside), or
boolean where a function says so. A mask pixel counts as inside when its value is above 0.
"""

from __future__ import annotations

import warnings

import torch

from instagan.util import instance_set

# Fill ratio of a shape within its bounding box: 1.0 for an axis-aligned box, pi / 4 = 0.785 for an
# ellipse. The box/round threshold sits halfway; below ROUND_MIN a mask is neither (a ragged blob).
ROUND_BOX_THRESHOLD = (1.0 + torch.pi / 4) / 2
ROUND_MIN = 0.60
MIN_INSTANCE_PIXELS = 4
# A connected part of a mask smaller than this is a speck (a stray pixel of a translated mask), not part of its shape.
SPECK_PIXELS = 6


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


def components(mask: torch.Tensor) -> torch.Tensor:
    """Labels (H, W) of the connected parts of a boolean (H, W) mask (8-neighbourhood): 0 outside, and each part the
    largest flat index + 1 of its pixels."""
    h, w = mask.shape
    dtype = torch.float32 if h * w < 2**24 else torch.float64  # labels stay exact integers
    inside = mask.to(dtype)[None, None]
    labels = torch.arange(1, h * w + 1, dtype=dtype).reshape(1, 1, h, w) * inside
    while True:  # spread each part's largest label over the part: as many steps as its longest path
        spread = torch.nn.functional.max_pool2d(labels, 3, stride=1, padding=1) * inside
        if torch.equal(spread, labels):
            return labels[0, 0].long()
        labels = spread


def without_specks(mask: torch.Tensor) -> torch.Tensor:
    """A boolean (H, W) mask without its specks, the connected parts of fewer than SPECK_PIXELS pixels; a mask made of
    specks alone is returned as it is. One stray pixel would otherwise set the mask's bounding box, and with it the
    verdict on its shape and the judge's crop. The result may be ``mask`` itself."""
    mask = mask.bool()
    ys, xs = torch.nonzero(mask, as_tuple=True)
    if len(ys) == 0:
        return mask
    box = (slice(int(ys.min()), int(ys.max()) + 1), slice(int(xs.min()), int(xs.max()) + 1))
    labels = components(mask[box])  # within the bounding box: the same parts, fewer pixels
    ids, counts = torch.unique(labels[mask[box]], return_counts=True)
    small = ids[counts < SPECK_PIXELS]
    if len(small) == 0 or len(small) == len(ids):
        return mask
    body = mask.clone()
    body[box] &= ~torch.isin(labels, small)
    return body


def has_specks(mask: torch.Tensor) -> bool:
    """Whether a boolean (H, W) mask has a speck beside a larger part (see ``without_specks``)."""
    return bool((without_specks(mask) != mask).any())


def shape_of(mask: torch.Tensor) -> str | None:
    """``box``, ``round`` or ``other`` for a boolean mask by the fill ratio of its body (its specks left out); None
    when it is (nearly) empty."""
    if int(mask.sum()) < MIN_INSTANCE_PIXELS:
        return None
    ratio = fill_ratio(without_specks(mask))
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


def estimate(numerators: list[float], denominators: list[float] | None = None, resamples: int = 2000, seed: int = 0) -> dict:
    """sum(numerators) / sum(denominators) over the units (images; a mean when ``denominators`` is None) with a 95 %
    percentile bootstrap interval from resampling the units. Deterministic: the same values give the same numbers.
    Units whose numerator is nan are left out; None when none is left."""
    num = torch.tensor(numerators, dtype=torch.float64)
    den = torch.ones_like(num) if denominators is None else torch.tensor(denominators, dtype=torch.float64)
    keep = ~torch.isnan(num) & (den > 0)
    num, den = num[keep], den[keep]
    if len(num) == 0:
        return {"value": None, "ci95": None, "n": 0}
    generator = torch.Generator().manual_seed(seed)
    index = torch.randint(len(num), (resamples, len(num)), generator=generator)
    stats = num[index].sum(dim=1) / den[index].sum(dim=1)
    low, high = torch.quantile(stats, torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
    return {"value": round(float(num.sum() / den.sum()), 4), "ci95": [round(low, 4), round(high, 4)], "n": len(num)}


class _Given(torch.nn.Module):
    """A 'feature extractor' that returns its input: torchmetrics' distances on features computed beforehand."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def feature_distances(real: torch.Tensor, fake: torch.Tensor, resamples: int = 100, seed: int = 0) -> dict[str, dict]:
    """Frechet distance (FID's formula) and kernel distance (KID's: polynomial-kernel MMD over random subsets) between
    two sets of features (N, F), computed by torchmetrics, each with a 95 % bootstrap interval.

    Both sets are resampled with replacement. Repeated samples make both distances larger (for the Frechet distance
    this bias is large at a few hundred samples), so the interval is the bootstrap distribution's 2.5 % to 97.5 %
    spread around its mean, placed around the estimate: it shows the sampling noise, not the resampling bias.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    given = _Given(real.shape[1])
    subset = min(50, len(real), len(fake))
    frechet = FrechetInceptionDistance(feature=given, reset_real_features=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "will save all extracted features in buffer": they are few here
        kernel = KernelInceptionDistance(feature=given, subsets=20, subset_size=subset, reset_real_features=True)

    def both(r: torch.Tensor, f: torch.Tensor) -> tuple[float, float]:
        torch.manual_seed(seed)  # KID draws its subsets at random
        values = []
        for metric in (frechet, kernel):
            metric.reset()
            metric.update(r.double(), real=True)
            metric.update(f.double(), real=False)
            out = metric.compute()
            values.append(float(out[0] if isinstance(out, tuple) else out))
        return values[0], values[1]

    fd, kd = both(real, fake)
    generator = torch.Generator().manual_seed(seed)
    draws = [both(real[torch.randint(len(real), (len(real),), generator=generator)],
                  fake[torch.randint(len(fake), (len(fake),), generator=generator)]) for _ in range(resamples)]  # fmt: skip
    out = {}
    for name, value, samples in (("fd", fd, [d[0] for d in draws]), ("kd", kd, [d[1] for d in draws])):
        samples = torch.tensor(samples, dtype=torch.float64)
        low, high = (torch.quantile(samples, torch.tensor([0.025, 0.975], dtype=torch.float64)) - samples.mean()).tolist()
        out[name] = {"value": round(value, 4), "ci95": [round(value + low, 4), round(value + high, 4)], "n": len(fake)}
    return out
