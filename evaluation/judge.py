"""The judge of the classification score: an ensemble of small CNNs that tell an instance of domain A from one of B.

InstaGAN translates instances, so the judge looks at instances: each is cut out of its image as a square around its
mask (with a margin of background, resized to CROP x CROP) and classified. Trained on the instances of the real
training images of both domains, a member is right on about 0.99 of the real test instances of the shapes data,
where a classifier of whole images struggled to learn the shape that tells the domains apart and, when it did,
judged translated images by other cues, differently for every seed.

Each member has its own seed. Training is deterministic (one thread, a fixed order of batches and augmentations), so
the same data set gives the same members and the same scores in every run; the ensemble is cached next to the data
set, keyed by its file list and the training settings. The spread of the members' scores shows how much a score
depends on the judge.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from instagan.data.image_folder import index_masks, make_dataset, read_image
from instagan.util.cli import UserError
from instagan.util.file_set import load_file
from instagan.util.files import atomic_torch_save
from instagan.util.images import from_uint8
from instagan.util.progress import progress_bar

VERSION = 5  # part of the cache fingerprint: a changed judge is retrained
CROP = 32
MARGIN = 1.3  # the crop's side, relative to the instance's larger side
MEMBERS = 5
STEPS = 600
MIN_PIXELS = 6


class DomainClassifier(nn.Module):
    """Instance crops (B, 3, CROP, CROP) in [-1, 1] -> (B,) logits, positive for domain B; ``features`` are the
    pooled activations."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for out, stride in ((width, 1), (width, 2), (2 * width, 2), (4 * width, 2), (4 * width, 2)):
            layers += [nn.Conv2d(channels, out, 3, stride=stride, padding=1), nn.BatchNorm2d(out), nn.ReLU(True)]
            channels = out
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(channels, 1)
        self.num_features = channels

    def features(self, x: torch.Tensor) -> torch.Tensor:
        # max over positions: the evidence for a shape is local (a corner, a curve), wherever it is
        return self.body(x).amax(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))[:, 0]


def crop(image: torch.Tensor, region: torch.Tensor) -> torch.Tensor | None:
    """The square around a boolean region (H, W) of an image (3, H, W) in [-1, 1], with a margin, as (3, CROP, CROP);
    None for a region of fewer than MIN_PIXELS pixels. Outside the image, its border pixels are repeated."""
    ys, xs = torch.nonzero(region, as_tuple=True)
    if len(ys) < MIN_PIXELS:
        return None
    top, bottom, left, right = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    side = int(max(bottom - top, right - left) * MARGIN) + 2
    y0, x0 = round((top + bottom - side) / 2), round((left + right - side) / 2)
    rows = torch.arange(y0, y0 + side).clamp(0, image.shape[1] - 1)  # outside the image: its border, repeated
    cols = torch.arange(x0, x0 + side).clamp(0, image.shape[2] - 1)
    square = image[:, rows][:, :, cols]
    return F.interpolate(square[None], size=(CROP, CROP), mode="bilinear", antialias=True, align_corners=False)[0]


def folder_crops(folder: Path, limit: int = 1000) -> tuple[torch.Tensor, list[int]]:
    """The instance crops of a data-set folder's images (N, 3, CROP, CROP) and, for each crop, its image's index."""
    masks = index_masks(f"{folder}_seg")
    crops, owners = [], []
    for i, path in enumerate(make_dataset(folder, limit)):
        image = from_uint8(read_image(path))
        for mask_path in masks.get(path.stem, []):
            piece = crop(image, read_image(mask_path)[0] > 127)
            if piece is not None:
                crops.append(piece)
                owners.append(i)
    if not crops:
        return torch.empty(0, 3, CROP, CROP), []
    return torch.stack(crops), owners


class Ensemble:
    """Independently seeded ``DomainClassifier`` members, evaluated together."""

    def __init__(self, members: list[DomainClassifier]) -> None:
        self.members = members
        for member in members:
            member.eval()

    @torch.no_grad()
    def member_probs_B(self, crops: torch.Tensor, batch: int = 512) -> torch.Tensor:
        """(M, N): each member's probability that each crop (N, 3, CROP, CROP) shows an instance of domain B."""
        if len(crops) == 0:
            return torch.empty(len(self.members), 0)
        return torch.stack([torch.cat([torch.sigmoid(m(x)) for x in crops.split(batch)]) for m in self.members])

    @torch.no_grad()
    def features(self, crops: torch.Tensor, batch: int = 512) -> torch.Tensor:
        """(N, F): the first member's pooled features of crops, for distances between sets of instances."""
        return torch.cat([self.members[0].features(x) for x in crops.split(batch)])


def _degrade(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Blur, noise and colour shifts on half the crops: translated images are blurrier and tinted, and the
    classifier must judge their content, not their quality."""
    n = len(batch)
    pick = (torch.rand(n, generator=generator) < 0.5)[:, None, None, None]
    blurred = F.avg_pool2d(batch, 3, stride=1, padding=1, count_include_pad=False)
    noisy = blurred + 0.05 * torch.randn(batch.shape, generator=generator)
    tinted = noisy + 0.3 * (torch.rand(n, 3, 1, 1, generator=generator) - 0.5)
    return torch.where(pick, tinted.clamp(-1, 1), batch)


def _fingerprint(folders: list[Path], limit: int, steps: int, members: int) -> str:
    digest = hashlib.sha1(f"v{VERSION}:{CROP}:{MARGIN}:{steps}:{members};".encode())
    for folder in folders:
        for p in make_dataset(folder, limit):
            digest.update(f"{p.name}:{p.stat().st_size};".encode())
        for p in sorted(Path(f"{folder}_seg").glob("*.png")) if Path(f"{folder}_seg").is_dir() else []:
            digest.update(f"{p.name}:{p.stat().st_size};".encode())
    return digest.hexdigest()


@contextlib.contextmanager
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_member(
    model: DomainClassifier, x: torch.Tensor, y: torch.Tensor, seed: int, steps: int, progress: tqdm | None = None
) -> DomainClassifier:
    """One member from its initial weights: batches of 32 with flips, rotations by 90 degrees and degradations, Adam
    with a cosine schedule; every random draw from its own generator (members may train at the same time)."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / steps)))
    model.train()
    batches = (idx for _epoch in itertools.count() for idx in torch.randperm(len(x), generator=generator).split(32))
    for _step, idx in zip(range(steps), batches):
        batch = x[idx]
        flip = torch.rand(len(idx), generator=generator) < 0.5
        batch = torch.where(flip[:, None, None, None], batch.flip(-1), batch)
        batch = torch.rot90(batch, int(torch.randint(4, (1,), generator=generator)), dims=(2, 3))
        batch = _degrade(batch, generator)
        loss = F.binary_cross_entropy_with_logits(model(batch), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if progress is not None:
            progress.update(1)
    return model.eval()


def train_or_load(
    dataroot: Path, cache: Path, phase: str = "train", limit: int = 1000, steps: int = STEPS, members: int = MEMBERS
) -> Ensemble:
    """The ensemble for ``<dataroot>/<phase>A`` vs ``<phase>B`` instances, trained once and cached at ``cache``.

    Each member trains for a fixed number of steps (batches of 32) with a cosine-decayed learning rate, whatever the
    data set's size, on one thread, as many members at a time as there are cores.
    """
    folders = [Path(dataroot) / f"{phase}A", Path(dataroot) / f"{phase}B"]
    fingerprint = _fingerprint(folders, limit, steps, members)
    saved = {}
    if cache.is_file():
        try:
            saved = load_file(cache)
        except UserError as err:
            warnings.warn(f"{err}: the judge is trained again and the cache rewritten", stacklevel=2)
        if saved.get("fingerprint") == fingerprint:
            ensemble = []
            for state in saved["members"]:
                member = DomainClassifier()
                member.load_state_dict(state)
                ensemble.append(member)
            return Ensemble(ensemble)
    (a, _), (b, _) = (folder_crops(f, limit) for f in folders)
    if len(a) == 0 or len(b) == 0:
        raise ValueError(f"the judge needs instance masks in {folders[0]}_seg and {folders[1]}_seg")
    x = torch.cat([a, b])
    y = torch.cat([torch.zeros(len(a)), torch.ones(len(b))])
    initial = []
    for seed in range(members):  # each member's initial weights from its own seed, before any trains
        torch.manual_seed(seed)
        initial.append(DomainClassifier())
    # the members train side by side, one per core; each on one thread, so each is the same as trained alone
    workers = max(1, min(members, os.cpu_count() or 1))
    with _one_thread(), progress_bar(total=steps * members, desc="training the domain classifiers", unit="step") as progress:
        with ThreadPoolExecutor(workers) as pool:
            trained = list(pool.map(lambda seed: train_member(initial[seed], x, y, seed, steps, progress), range(members)))
    try:
        atomic_torch_save(cache, {"fingerprint": fingerprint, "members": [m.state_dict() for m in trained]})
    except OSError as err:
        warnings.warn(f"the judge could not be cached at {cache} ({err.strerror}): pass --cache with a writable file "
                      "to train it once", stacklevel=2)  # fmt: skip
    return Ensemble(trained)
