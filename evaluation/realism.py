"""Realism by a classifier two-sample test: can a small CNN tell translated crops from real ones?

Half of each set trains a fresh classifier (``judge.DomainClassifier`` with two classes, no degradations: blur, noise
and specks are exactly what it should see), the other half scores it; repeated over ``SPLITS`` random splits. An
accuracy of 0.5 means the two sets cannot be told apart; 1.0 that every crop gives itself away. The same test on two
halves of the real crops gives the floor that finite samples and training noise leave (about 0.5).

Two kinds of crops: instances (``judge.crop`` around each instance, as the judge sees them) and backgrounds (squares
that show no instance, ``background_patches``).
"""

from __future__ import annotations

import os
import statistics
from concurrent.futures import ThreadPoolExecutor

import torch
import torch.nn.functional as F
from tqdm import tqdm

from instagan.evaluation.judge import CROP, DomainClassifier, one_thread

SPLITS = 3
STEPS = 300
MIN_CROPS = 8  # per set: fewer and there is nothing to split


def background_patches(image: torch.Tensor, occupied: torch.Tensor, count: int, generator: torch.Generator,
                       tries: int = 50) -> list[torch.Tensor]:  # fmt: skip
    """Up to ``count`` square patches of an image (3, H, W) that touch no pixel of ``occupied`` (boolean (H, W), the
    instances grown by a pixel), each of side a quarter of the image's smaller side, resized to (3, CROP, CROP)."""
    h, w = occupied.shape
    side = max(4, min(h, w) // 4)
    patches = []
    for _ in range(tries):
        if len(patches) == count:
            break
        top = int(torch.randint(0, h - side + 1, (1,), generator=generator))
        left = int(torch.randint(0, w - side + 1, (1,), generator=generator))
        if not occupied[top : top + side, left : left + side].any():
            square = image[:, top : top + side, left : left + side][None]
            patches.append(F.interpolate(square, size=(CROP, CROP), mode="bilinear", align_corners=False)[0])
    return patches


def _fresh(seed: int) -> DomainClassifier:
    """A two-class classifier with initial weights of its own seed (the global random state is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return DomainClassifier(width=8, classes=2)


def _train(model: DomainClassifier, x: torch.Tensor, y: torch.Tensor, seed: int, steps: int) -> DomainClassifier:
    """``model`` trained on crops x with labels y: batches of 32 with flips and rotations by 90 degrees (symmetries of
    both sets), every random draw from a generator of ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for _ in range(steps):
        idx = torch.randint(len(x), (32,), generator=generator)
        batch = x[idx]
        flip = torch.rand(len(idx), generator=generator) < 0.5
        batch = torch.where(flip[:, None, None, None], batch.flip(-1), batch)
        batch = torch.rot90(batch, int(torch.randint(4, (1,), generator=generator)), dims=(2, 3))
        loss = F.cross_entropy(model(batch), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def two_sample_accuracy(real: torch.Tensor, other: torch.Tensor, splits: int = SPLITS, steps: int = STEPS,
                        seed: int = 0, progress: tqdm | None = None) -> dict | None:  # fmt: skip
    """How well a classifier trained on half of ``real`` and ``other`` (each (N, 3, CROP, CROP)) tells the other
    halves apart: the mean accuracy over ``splits`` random splits, its spread, and each split's. Both sets are cut to
    the smaller one's size, so that 0.5 is chance. None when either has fewer than MIN_CROPS crops. Deterministic:
    each split draws from its own generator and trains on one thread (as many splits at a time as there are cores)."""
    n = min(len(real), len(other))
    if n < MIN_CROPS:
        return None

    def accuracy(split: int) -> float:
        generator = torch.Generator().manual_seed(seed + split)
        r = real[torch.randperm(len(real), generator=generator)[:n]]
        o = other[torch.randperm(len(other), generator=generator)[:n]]
        half = n // 2
        x = torch.cat([r[:half], o[:half]])
        y = torch.cat([torch.zeros(half, dtype=torch.long), torch.ones(half, dtype=torch.long)])
        model = _train(initial[split], x, y, seed + split, steps)
        with torch.no_grad():
            right = torch.cat([model(r[half:]).argmax(1) == 0, model(o[half:]).argmax(1) == 1])
        if progress is not None:
            progress.update(1)
        return float(right.double().mean())

    initial = [_fresh(seed + split) for split in range(splits)]  # built here: the global random state is not per thread
    with one_thread(), ThreadPoolExecutor(max(1, min(splits, os.cpu_count() or 1))) as pool:
        accuracies = list(pool.map(accuracy, range(splits)))
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    return {"value": round(statistics.mean(accuracies), 4), "std": round(spread, 4), "n": n,
            "splits": [round(a, 4) for a in accuracies]}  # fmt: skip


def floor(real: torch.Tensor, splits: int = SPLITS, steps: int = STEPS, seed: int = 0,
          progress: tqdm | None = None) -> dict | None:  # fmt: skip
    """``two_sample_accuracy`` of two random halves of the real crops: what the test gives when nothing differs."""
    order = torch.randperm(len(real), generator=torch.Generator().manual_seed(seed + 1000))
    half = len(real) // 2
    return two_sample_accuracy(real[order[:half]], real[order[half : 2 * half]], splits, steps, seed, progress)
