"""The instance-set logic of InstaGAN, in one place.

Every mask tensor in this project follows one convention: float values in [-1, 1], +1 inside the
instance and -1 outside, soft at the edges where the source was anti-aliased. A batch of masks has
shape (B, N, H, W): N instance *slots* per sample. A slot is *empty* when it is -1 everywhere; data
loaders pad with empty slots, and the networks pass empty slots through untouched.

The data loader, the networks and the model all use these helpers, so "empty" means one thing.
"""

from __future__ import annotations

import torch

EMPTY = -1.0


def nonempty(masks: torch.Tensor) -> torch.Tensor:
    """Which slots hold an instance.

    masks: (B, N, H, W) in [-1, 1]. Returns a (B, N) bool tensor, True where any pixel is above -1
    (the original's test ``(mask + 1).mean() > 0``).
    """
    return (masks > EMPTY).any(dim=3).any(dim=2)


def encoded_slots(masks: torch.Tensor) -> torch.Tensor:
    """The slots a set network encodes: the non-empty ones, or slot 0 of a sample that has none.

    The original encoded slot 0 of an all-empty input so that the set feature is never an empty sum;
    here the rule holds per sample. masks: (B, N, H, W). Returns (B, N) bool.
    """
    slots = nonempty(masks)
    first = torch.arange(slots.shape[1], device=slots.device) == 0  # (written without slicing or in-place: exports)
    return slots | (first[None, :] & ~slots.any(dim=1, keepdim=True))


def empty_like_slots(masks: torch.Tensor, n: int) -> torch.Tensor:
    """n empty slots with the batch size, size, dtype and device of ``masks`` (B, N, H, W)."""
    b, _, h, w = masks.shape
    return masks.new_full((b, n, h, w), EMPTY)


def pad_slots(masks: torch.Tensor, n: int) -> torch.Tensor:
    """Pad (B, N, H, W) masks with empty slots up to n slots; no-op when N >= n."""
    missing = n - masks.shape[1]
    if missing <= 0:
        return masks
    return torch.cat([masks, empty_like_slots(masks, missing)], dim=1)


def select(
    masks: torch.Tensor, ins_max: int, order: str = "decreasing", generator: torch.Generator | None = None
) -> torch.Tensor:
    """Pick the ins_max instances a sample is translated with, in processing order.

    masks: (B, N, H, W) in [-1, 1]. Returns (B, ins_max, H, W): the ins_max largest instances
    (by mean mask value, i.e. area for hard masks), padded with empty slots.
    ``decreasing`` keeps them largest first; ``random`` shuffles the non-empty ones among themselves,
    as the original did (it shuffles the largest ins_max, it does not sample from all instances).
    """
    return select_and_rest(masks, ins_max, order, generator)[0]


def select_and_rest(
    masks: torch.Tensor, ins_max: int, order: str = "decreasing", generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``select``'s instances and the ones it leaves out: (B, ins_max, H, W) and (B, max(0, N - ins_max), H, W), the
    latter the smaller instances beyond the ins_max largest, largest first (empty slots where a sample has fewer)."""
    if order not in ("decreasing", "random"):
        raise ValueError(f"unknown set order {order!r}: use 'decreasing' or 'random'")
    masks = pad_slots(masks, ins_max)
    area = masks.mean(dim=(2, 3))
    order_idx = area.topk(ins_max, dim=1).indices  # (B, ins_max), largest first
    left = area.scatter(1, order_idx, float("-inf"))  # the others, ranked after them
    rest_idx = left.argsort(dim=1, descending=True, stable=True)[:, : masks.shape[1] - ins_max]
    if order == "random":
        counts = nonempty(masks).gather(1, order_idx).sum(dim=1)
        for row, count in zip(order_idx, counts.tolist()):
            perm = torch.randperm(count, generator=generator).to(row.device)
            row[:count] = row[:count][perm]
    return masks.gather(1, _expand(order_idx, masks)), masks.gather(1, _expand(rest_idx, masks))


def _expand(index: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(B, K) slot indices -> (B, K, H, W), for gathering whole slots of (B, N, H, W) masks."""
    return index[:, :, None, None].expand(-1, -1, *masks.shape[2:])


def step_slices(ins_max: int, ins_per: int) -> list[slice]:
    """The slot ranges of the sequential mini-batch steps: ins_per instances each, the last may be shorter.

    The original ran ins_max // ins_per steps and silently dropped the remainder; here every selected
    instance is processed.
    """
    if ins_per < 1 or ins_max < 1:
        raise ValueError(f"--ins_max ({ins_max}) and --ins_per ({ins_per}) must be at least 1")
    return [slice(start, min(start + ins_per, ins_max)) for start in range(0, ins_max, ins_per)]


def merge(masks: torch.Tensor) -> torch.Tensor:
    """Union of a set of masks: (B, N, H, W) in [-1, 1] -> (B, 1, H, W) in [-1, 1]."""
    union = ((masks + 1) / 2).sum(dim=1, keepdim=True)
    return union.clamp(min=0, max=1) * 2 - 1


def context_weight(masks_in: torch.Tensor, masks_out: torch.Tensor) -> torch.Tensor:
    """Weight of the context-preserving loss: 1 outside every input and output instance, 0 inside.

    masks_in, masks_out: (B, N, H, W) and (B, M, H, W) in [-1, 1]. Returns (B, 1, H, W) in [0, 1],
    w = 1 - min(1, sum of (m + 1) / 2). Not detached: as in the original, the loss also moves the masks.
    """
    return (1 - merge(torch.cat([masks_in, masks_out], dim=1))) / 2


def dilate(region: torch.Tensor, radius: int) -> torch.Tensor:
    """Grow a boolean (..., H, W) region by ``radius`` pixels (square structuring element)."""
    if radius <= 0:
        return region
    shape = region.shape
    flat = region.reshape(-1, 1, *shape[-2:]).float()
    grown = torch.nn.functional.max_pool2d(flat, kernel_size=2 * radius + 1, stride=1, padding=radius)
    return grown.reshape(shape) > 0


def paste_background(
    source: torch.Tensor, translated: torch.Tensor, masks_in: torch.Tensor, masks_out: torch.Tensor, radius: int
) -> torch.Tensor:
    """Keep the translation only inside the instances: ``translated`` within the union of the input and
    translated masks grown by ``radius`` pixels, ``source`` (exactly) everywhere else.

    source, translated: (B, C, H, W); masks_in, masks_out: (B, N, H, W) and (B, M, H, W) in [-1, 1].
    """
    region = dilate(merge(torch.cat([masks_in, masks_out], dim=1)) > 0, radius)
    return torch.where(region, translated, source)
