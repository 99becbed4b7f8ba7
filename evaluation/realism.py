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


def accuracies(tests: dict[str, tuple[torch.Tensor, torch.Tensor]], splits: int = SPLITS, steps: int = STEPS,
               seed: int = 0, progress: tqdm | None = None) -> dict[str, dict | None]:  # fmt: skip
    """``two_sample_accuracy`` of each named pair (real, other), all their splits side by side: as many classifiers
    at a time as there are cores, each on one thread, so that every result is the one its pair gives alone."""
    jobs = [(name, split) for name, (real, other) in tests.items() if min(len(real), len(other)) >= MIN_CROPS
            for split in range(splits)]  # fmt: skip
    initial = {job: _fresh(seed + job[1]) for job in jobs}  # built here: the global random state is not per thread

    def accuracy(job: tuple[str, int]) -> float:
        name, split = job
        real, other = tests[name]
        n = min(len(real), len(other))
        generator = torch.Generator().manual_seed(seed + split)
        r = real[torch.randperm(len(real), generator=generator)[:n]]
        o = other[torch.randperm(len(other), generator=generator)[:n]]
        half = n // 2
        x = torch.cat([r[:half], o[:half]])
        y = torch.cat([torch.zeros(half, dtype=torch.long), torch.ones(half, dtype=torch.long)])
        model = _train(initial[job], x, y, seed + split, steps)
        with torch.no_grad():
            right = torch.cat([model(r[half:]).argmax(1) == 0, model(o[half:]).argmax(1) == 1])
        if progress is not None:
            progress.update(1)
        return float(right.double().mean())

    with one_thread(), ThreadPoolExecutor(max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
        found = dict(zip(jobs, pool.map(accuracy, jobs)))
    out: dict[str, dict | None] = {}
    for name, (real, other) in tests.items():
        scores = [found[(name, split)] for split in range(splits) if (name, split) in found]
        if not scores:
            out[name] = None
            continue
        spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
        out[name] = {"value": round(statistics.mean(scores), 4), "std": round(spread, 4),
                     "n": min(len(real), len(other)), "splits": [round(a, 4) for a in scores]}  # fmt: skip
    return out


def two_sample_accuracy(real: torch.Tensor, other: torch.Tensor, splits: int = SPLITS, steps: int = STEPS,
                        seed: int = 0, progress: tqdm | None = None) -> dict | None:  # fmt: skip
    """How well a classifier trained on half of ``real`` and ``other`` (each (N, 3, CROP, CROP)) tells the other
    halves apart: the mean accuracy over ``splits`` random splits, its spread, and each split's. Both sets are cut to
    the smaller one's size, so that 0.5 is chance. None when either has fewer than MIN_CROPS crops. Deterministic:
    each split draws from its own generator and trains on one thread (as many splits at a time as there are cores)."""
    return accuracies({"test": (real, other)}, splits, steps, seed, progress)["test"]


def halves(real: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two random halves of the real crops, the pair whose test is the floor."""
    order = torch.randperm(len(real), generator=torch.Generator().manual_seed(seed + 1000))
    half = len(real) // 2
    return real[order[:half]], real[order[half : 2 * half]]


def floor(real: torch.Tensor, splits: int = SPLITS, steps: int = STEPS, seed: int = 0,
          progress: tqdm | None = None) -> dict | None:  # fmt: skip
    """``two_sample_accuracy`` of two random halves of the real crops: what the test gives when nothing differs."""
    return two_sample_accuracy(*halves(real, seed), splits, steps, seed, progress)
