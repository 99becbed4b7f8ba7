"""The judge of the classification score: an ensemble of small CNNs that tell an instance of domain A from one of B,
or from neither.

InstaGAN translates instances, so the judge looks at instances: each is cut out of its image as a square around its
mask (with a margin of background, resized to CROP x CROP) and classified. Trained on the instances of the real
training images of both domains, a member is right on about 0.99 of the real test instances of the shapes data,
where a classifier of whole images struggled to learn the shape that tells the domains apart and, when it did,
judged translated images by other cues, differently for every seed.

A forced choice between A and B would call anything without corners a disc: a blurred box, a smear, an erased
instance. So the judge has a third class, ``neither``, trained on the same real instances made unrecognisable
(``unrecognisable``: blurred by 3 to 5 pixels of a crop, smeared, erased into the background around them) and on crops of
background alone; a translation judged ``neither`` counts as a failure.

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

VERSION = 10  # part of the cache fingerprint: a changed judge is retrained
CLASSES = ("A", "B", "neither")
NEITHER = 2
CROP = 32
MARGIN = 1.3  # the crop's side, relative to the instance's larger side
MEMBERS = 5
STEPS = 600
MIN_PIXELS = 6
# Gaussian blurs in crop pixels (a crop is CROP pixels wide): up to MILD_BLUR the instance keeps its class (translations
# are a little soft); from STRONG_BLUR on it is neither
MILD_BLUR, STRONG_BLUR = (0.3, 1.8), (3.0, 5.0)


class DomainClassifier(nn.Module):
    """Instance crops (B, 3, CROP, CROP) in [-1, 1] -> (B, classes) logits (by default of ``CLASSES``: A, B,
    neither); ``features`` are the pooled activations."""

    def __init__(self, width: int = 16, classes: int = len(CLASSES)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for out, stride in ((width, 1), (width, 2), (2 * width, 2), (4 * width, 2), (4 * width, 2)):
            layers += [nn.Conv2d(channels, out, 3, stride=stride, padding=1), nn.BatchNorm2d(out), nn.ReLU(True)]
            channels = out
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(channels, classes)
        self.num_features = channels

    def features(self, x: torch.Tensor) -> torch.Tensor:
        # max over positions: the evidence for a shape is local (a corner, a curve), wherever it is
        return self.body(x).amax(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def crop(image: torch.Tensor, region: torch.Tensor) -> torch.Tensor | None:
    """The square around a boolean region (H, W) of an image (3, H, W) in [-1, 1], with a margin, as (3, CROP, CROP);
    None for a region of fewer than MIN_PIXELS pixels. Outside the image, its border pixels are repeated."""
    ys, xs = torch.nonzero(region, as_tuple=True)
    if len(ys) < MIN_PIXELS:
        return None
    return crop_box(image, int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1)


def crop_box(image: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """``crop`` of the region whose bounding box is rows top:bottom and columns left:right."""
    side = int(max(bottom - top, right - left) * MARGIN) + 2
    y0, x0 = round((top + bottom - side) / 2), round((left + right - side) / 2)
    rows = torch.arange(y0, y0 + side).clamp(0, image.shape[1] - 1)  # outside the image: its border, repeated
    cols = torch.arange(x0, x0 + side).clamp(0, image.shape[2] - 1)
    square = image[:, rows][:, :, cols]
    return F.interpolate(square[None], size=(CROP, CROP), mode="bilinear", antialias=True, align_corners=False)[0]


def folder_images(folder: Path, limit: int = 1000) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
    """The images of a data-set folder (3, H, W) in [-1, 1], each with its instance masks (boolean (H, W))."""
    masks = index_masks(f"{folder}_seg")
    return [(from_uint8(read_image(path)), [read_image(m)[0] > 127 for m in masks.get(path.stem, [])])
            for path in make_dataset(folder, limit)]  # fmt: skip


def folder_crops(folder: Path, limit: int = 1000) -> tuple[torch.Tensor, list[int]]:
    """The instance crops of a data-set folder's images (N, 3, CROP, CROP) and, for each crop, its image's index."""
    crops, owners = [], []
    for i, (image, masks) in enumerate(folder_images(folder, limit)):
        for mask in masks:
            piece = crop(image, mask)
            if piece is not None:
                crops.append(piece)
                owners.append(i)
    return stacked(crops), owners


def stacked(crops: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack(crops) if crops else torch.empty(0, 3, CROP, CROP)


def blurred(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """An image (3, H, W), or a batch (B, 3, H, W), blurred by a Gaussian of ``sigma`` pixels (its border repeated)."""
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    batch = image if image.dim() == 4 else image[None]
    padded = F.pad(batch, (radius,) * 4, mode="replicate")
    rows = F.conv2d(padded, kernel.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)
    out = F.conv2d(rows, kernel.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)
    return out if image.dim() == 4 else out[0]


def smeared(image: torch.Tensor, length: int, angle: float) -> torch.Tensor:
    """An image (3, H, W) averaged along a line of ``length`` pixels at ``angle`` (radians): motion blur."""
    radius = length // 2
    kernel = torch.zeros(2 * radius + 1, 2 * radius + 1)
    for t in torch.linspace(-radius, radius, 4 * length):
        kernel[round(radius + float(t) * math.sin(angle)), round(radius + float(t) * math.cos(angle))] = 1.0
    kernel = (kernel / kernel.sum()).expand(3, 1, -1, -1)
    return F.conv2d(F.pad(image[None], (radius,) * 4, mode="replicate"), kernel, groups=3)[0]


def erased(image: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """An image (3, H, W) with a boolean region (H, W) filled in from the pixels around it, ring by ring: the
    instance gone, its place a smooth continuation of the background."""
    known = (~region).float()[None, None]
    x = image[None] * known
    for _ in range(max(image.shape[1:])):
        if bool(known.all()):
            break
        total = F.avg_pool2d(x * known, 3, stride=1, padding=1, count_include_pad=False)
        weight = F.avg_pool2d(known, 3, stride=1, padding=1, count_include_pad=False)
        fresh = (known == 0) & (weight > 0)
        x = torch.where(fresh, total / weight.clamp(min=1e-6), x)
        known = known + fresh.float()
    return x[0]


def background_box(masks: list[torch.Tensor], height: int, width: int, generator: torch.Generator,
                   tries: int = 20) -> tuple[int, int, int, int] | None:  # fmt: skip
    """A box (top, bottom, left, right) of the given size whose crop (``crop_box``, with its margin) shows no
    instance of ``masks``; None when ``tries`` random places all touch one."""
    h, w = masks[0].shape if masks else (0, 0)
    union = torch.zeros(h, w, dtype=torch.bool)
    for m in masks:
        union |= m
    side = int(max(height, width) * MARGIN) + 2
    for _ in range(tries):
        top = int(torch.randint(0, max(1, h - height + 1), (1,), generator=generator))
        left = int(torch.randint(0, max(1, w - width + 1), (1,), generator=generator))
        y0, x0 = round(top + height / 2 - side / 2), round(left + width / 2 - side / 2)
        if not union[max(0, y0) : y0 + side, max(0, x0) : x0 + side].any():
            return top, top + height, left, left + width
    return None


def unrecognisable(image: torch.Tensor, masks: list[torch.Tensor], generator: torch.Generator) -> list[torch.Tensor]:
    """Crops of ``neither`` class from one real image and its instance masks: each instance's crop blurred (by
    STRONG_BLUR crop pixels: the blur is relative to the instance's size, as the crop is), smeared (over 5 to 9 crop
    pixels), or the instance erased into the background around it, or in its place a crop of background alone of its
    size; one of the four at random per instance."""
    crops = []
    for mask in masks:
        ys, xs = torch.nonzero(mask, as_tuple=True)
        if len(ys) < MIN_PIXELS:
            continue
        box = (int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1)
        kind = int(torch.randint(4, (1,), generator=generator))
        if kind == 0:
            sigma = STRONG_BLUR[0] + (STRONG_BLUR[1] - STRONG_BLUR[0]) * float(torch.rand(1, generator=generator))
            crops.append(blurred(crop_box(image, *box), sigma))
        elif kind == 1:
            length = int(torch.randint(5, 10, (1,), generator=generator))
            angle = math.pi * float(torch.rand(1, generator=generator))
            crops.append(smeared(crop_box(image, *box), length, angle))
        elif kind == 2:
            crops.append(crop_box(erased(image, mask), *box))
        else:
            place = background_box(masks, box[1] - box[0], box[3] - box[2], generator)
            if place is not None:
                crops.append(crop_box(image, *place))
    return crops


class Ensemble:
    """Independently seeded ``DomainClassifier`` members, evaluated together."""

    def __init__(self, members: list[DomainClassifier], fingerprint: str = "") -> None:
        self.members = members
        self.fingerprint = fingerprint  # what it was trained on and how (``train_or_load``); "" when not known
        for member in members:
            member.eval()

    @torch.no_grad()
    def member_probs(self, crops: torch.Tensor, batch: int = 512) -> torch.Tensor:
        """(M, N, 3): each member's probabilities that each crop (N, 3, CROP, CROP) shows an instance of domain A, of
        domain B, or neither (``CLASSES``)."""
        if len(crops) == 0:
            return torch.empty(len(self.members), 0, len(CLASSES))

        def probs(member: DomainClassifier) -> torch.Tensor:
            with torch.no_grad():
                return torch.cat([member(x).softmax(dim=1) for x in crops.split(batch)])

        # the members side by side, one per core, each on one thread (as they were trained)
        with one_thread(), ThreadPoolExecutor(max(1, min(len(self.members), os.cpu_count() or 1))) as pool:
            return torch.stack(list(pool.map(probs, self.members)))

    def member_votes(self, crops: torch.Tensor) -> torch.Tensor:
        """(M, N) long: each member's verdict on each crop, an index into ``CLASSES``."""
        return self.member_probs(crops).argmax(dim=2)

    @torch.no_grad()
    def features(self, crops: torch.Tensor, batch: int = 512) -> torch.Tensor:
        """(N, F): the first member's pooled features of crops, for distances between sets of instances."""
        return torch.cat([self.members[0].features(x) for x in crops.split(batch)])


def _degrade(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mild blur (by MILD_BLUR crop pixels at most), noise and colour shifts, each on about half the crops and
    independently: translated images are a little soft, noisy or tinted, and the classifier must judge their content,
    not their quality."""
    n = len(batch)

    def some() -> torch.Tensor:
        return (torch.rand(n, generator=generator) < 0.5)[:, None, None, None]

    sigma = MILD_BLUR[0] + (MILD_BLUR[1] - MILD_BLUR[0]) * float(torch.rand(1, generator=generator))
    batch = torch.where(some(), blurred(batch, sigma), batch)
    batch = torch.where(some(), batch + 0.05 * torch.randn(batch.shape, generator=generator), batch)
    batch = torch.where(some(), batch + 0.3 * (torch.rand(n, 3, 1, 1, generator=generator) - 0.5), batch)
    return batch.clamp(-1, 1)


def fingerprint(folders: list[Path], limit: int, steps: int, members: int) -> str:
    """A digest of what a judge (or a test on real crops) is computed from: the folders' images and masks (names and
    sizes) and the settings."""
    digest = hashlib.sha1(f"v{VERSION}:{CROP}:{MARGIN}:{steps}:{members};".encode())
    for folder in folders:
        for p in make_dataset(folder, limit):
            digest.update(f"{p.name}:{p.stat().st_size};".encode())
        for p in sorted(Path(f"{folder}_seg").glob("*.png")) if Path(f"{folder}_seg").is_dir() else []:
            digest.update(f"{p.name}:{p.stat().st_size};".encode())
    return digest.hexdigest()


@contextlib.contextmanager
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_member(
    model: DomainClassifier, x: torch.Tensor, y: torch.Tensor, seed: int, steps: int, progress: tqdm | None = None
) -> DomainClassifier:
    """One member from its initial weights, on crops ``x`` with class indices ``y``: batches of 32 with flips,
    rotations by 90 degrees and mild degradations, Adam with a cosine schedule; every random draw from its own
    generator (members may train at the same time)."""
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
        loss = F.cross_entropy(model(batch), y[idx])
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
    """The ensemble for ``<dataroot>/<phase>A`` vs ``<phase>B`` instances vs neither, trained once and cached at
    ``cache``. The ``neither`` crops are made from the same images (``unrecognisable``), one per instance of each.

    Each member trains for a fixed number of steps (batches of 32) with a cosine-decayed learning rate, whatever the
    data set's size, on one thread, as many members at a time as there are cores.
    """
    folders = [Path(dataroot) / f"{phase}A", Path(dataroot) / f"{phase}B"]
    digest = fingerprint(folders, limit, steps, members)
    saved = {}
    if cache.is_file():
        try:
            saved = load_file(cache)
        except UserError as err:
            warnings.warn(f"{err}: the judge is trained again and the cache rewritten", stacklevel=2)
        if saved.get("fingerprint") == digest:
            ensemble = []
            for state in saved["members"]:
                member = DomainClassifier()
                member.load_state_dict(state)
                ensemble.append(member)
            return Ensemble(ensemble, digest)
    (a, _), (b, _) = (folder_crops(f, limit) for f in folders)
    if len(a) == 0 or len(b) == 0:
        raise ValueError(f"the judge needs instance masks in {folders[0]}_seg and {folders[1]}_seg")
    generator = torch.Generator().manual_seed(0)
    neither = stacked([piece for f in folders for image, masks in folder_images(f, limit)
                       for piece in unrecognisable(image, masks, generator)])  # fmt: skip
    neither = neither[torch.randperm(len(neither), generator=generator)[: (len(a) + len(b)) // 2]]  # a third of the crops
    x = torch.cat([a, b, neither])
    y = torch.cat([torch.full((len(a),), 0), torch.full((len(b),), 1), torch.full((len(neither),), NEITHER)])
    initial = []
    for seed in range(members):  # each member's initial weights from its own seed, before any trains
        torch.manual_seed(seed)
        initial.append(DomainClassifier())
    # the members train side by side, one per core; each on one thread, so each is the same as trained alone
    workers = max(1, min(members, os.cpu_count() or 1))
    with one_thread(), progress_bar(total=steps * members, desc="training the domain classifiers", unit="step") as progress:
        with ThreadPoolExecutor(workers) as pool:
            trained = list(pool.map(lambda seed: train_member(initial[seed], x, y, seed, steps, progress), range(members)))
    try:
        atomic_torch_save(cache, {"fingerprint": digest, "members": [m.state_dict() for m in trained]})
    except OSError as err:
        warnings.warn(f"the judge could not be cached at {cache} ({err.strerror}): pass --cache with a writable file "
                      "to train it once", stacklevel=2)  # fmt: skip
    return Ensemble(trained, digest)
