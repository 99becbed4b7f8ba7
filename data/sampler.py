"""The order in which a training run visits its samples, so that a run can resume in the middle of an epoch."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler[int]):
    """Epoch ``e`` visits a permutation of the samples fixed by (``seed``, ``e``), or 0..n-1 when not ``shuffle``.

    With several processes, rank r takes every ``world_size``-th index of it (padded by repetition so that every
    process gets as many, as DistributedSampler does). ``set_epoch(e, start)`` skips the first ``start`` indices of the
    epoch's order: the samples all processes together had trained on when the run was saved, so a run resumed from
    a mid-epoch checkpoint trains on each sample once, with any batch size and number of processes.
    """

    def __init__(self, length: int, shuffle: bool, seed: int, rank: int = 0, world_size: int = 1) -> None:
        self.length, self.shuffle, self.seed = length, shuffle, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.start = 1, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, min(max(start, 0), self.length)

    def order(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.length))
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return torch.randperm(self.length, generator=generator).tolist()

    def __iter__(self) -> Iterator[int]:
        remaining = self.order()[self.start :]
        if not remaining:
            return iter([])
        total = len(self) * self.world_size
        remaining += (remaining * math.ceil(total / len(remaining)))[: total - len(remaining)]
        return iter(remaining[self.rank :: self.world_size])

    def __len__(self) -> int:
        return math.ceil((self.length - self.start) / self.world_size)
