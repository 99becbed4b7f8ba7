"""Generate the built-in two-domain shapes data set: squares and rectangles (A) vs discs and ellipses (B).

    python datasets/make_shapes_dataset.py --out datasets/shapes --size 64 --train 400 --test 40

Writes the standard layout: <out>/trainA/<stem>.png with masks <out>/trainA_seg/<stem>_<k>.png, the same
for trainB, testA and testB. Each image has --min_instances to --max_instances instances with random sizes,
positions, colours and striped or dotted textures, on a textured background of one of a few materials (see
MATERIALS); instances may touch or overlap (a mask holds the visible part of its instance), or with --apart keep a
pixel of background between them. The same --seed gives the same files.

Every test image also gets its ideal translation, which the data set knows exactly: the same background, each
instance redrawn as the other domain's shape in its bounding box with its look, in the same stacking order
(testA_ideal/<stem>.png, its masks testA_ideal_seg/<stem>_<k>.png, mask k the translation of mask k), and its
background alone (testA_background/<stem>.png); the same for testB. evaluate.py scores translations against them.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from instagan.data.builders.common import BuildFolder, png, write_sample
from instagan.util.cli import UserError
from instagan.util.files import atomic_write_bytes
from instagan.util.flags import HelpFormatter

DOMAINS = {"A": "box", "B": "round"}
OTHER = {"box": "round", "round": "box"}
# beside every test folder: <split><domain>_ideal/<stem>.png, the ideal translation of each image, with its masks in
# <split><domain>_ideal_seg/<stem>_<k>.png (mask k translates mask k), and <split><domain>_background/<stem>.png,
# the background alone
IDEAL, BACKGROUND = "_ideal", "_background"


# Background materials: (name, RGB colour, wave pattern). An instance-normalised generator (InstaGAN's and
# CycleGAN's) cannot see an image's absolute colour: its output is exactly the same when a constant colour is
# added to the input. It can keep a background's colour only where the colour follows from what the background
# is, as grass is green in photos. So each background is one of a few materials whose pattern tells its colour,
# with a small jitter; with free random colours no amount of training could keep the background.
MATERIALS = (
    ("sand", (188, 168, 124), "horizontal"),
    ("grass", (96, 140, 82), "vertical"),
    ("water", (92, 124, 170), "diagonal"),
    ("stone", (138, 130, 142), "checker"),
)
COLOUR_JITTER = 3  # per channel, in grey levels: the part of the colour nothing can recover
MONO = (235, 228, 212)  # the colour of every instance with --instances mono
SIDES = (1 / 8, 1 / 3)  # an instance's height and width, as fractions of the image side: the default --sides


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A textured material: its colour, its wave pattern at a random frequency and phase, and mild noise."""
    _name, colour, pattern = MATERIALS[int(rng.integers(len(MATERIALS)))]
    yy, xx = np.mgrid[0:size, 0:size] / size
    freq, phase = rng.uniform(4.5, 6.5), rng.uniform(0, 2 * math.pi, size=2)
    wave_x, wave_y = np.sin(2 * math.pi * freq * xx + phase[0]), np.sin(2 * math.pi * freq * yy + phase[1])
    waves = {
        "horizontal": wave_y,
        "vertical": wave_x,
        "diagonal": np.sin(2 * math.pi * freq * (xx + yy) / math.sqrt(2) + phase[0]),
        "checker": 1.4 * wave_x * wave_y,
    }[pattern]
    base = np.asarray(colour, dtype=float) + rng.uniform(-COLOUR_JITTER, COLOUR_JITTER, size=3)
    return base + 16 * waves[..., None] + rng.normal(0, 2, size=(size, size, 3))


@dataclass(frozen=True)
class Placed:
    """One instance of a scene: its shape (``box`` or ``round``) inside the bounding box (top, left, height, width),
    and its look, a (size, size, 3) float texture shown where the shape is."""

    kind: str
    top: int
    left: int
    height: int
    width: int
    texture: np.ndarray

    def mask(self, size: int) -> np.ndarray:
        """The shape drawn in its bounding box, as a boolean (size, size) mask: a box fills it; an ellipse touches
        each of its sides."""
        yy, xx = np.mgrid[0:size, 0:size]
        top, left, h, w = self.top, self.left, self.height, self.width
        if self.kind == "box":
            return (yy >= top) & (yy < top + h) & (xx >= left) & (xx < left + w)
        cy, cx, ry, rx = top + (h - 1) / 2, left + (w - 1) / 2, h / 2, w / 2
        return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0

    def swapped(self) -> Placed:
        """The same instance as the other domain's shape, in the same bounding box and with the same look."""
        return replace(self, kind=OTHER[self.kind])


@dataclass(frozen=True)
class Scene:
    """What one image shows: a background (size, size, 3), float) and instances drawn over it in order, each over
    the ones before. ``labelled`` are the instances that get a mask (those whose visible part is not too small)."""

    background: np.ndarray
    instances: tuple[Placed, ...]
    labelled: tuple[int, ...]

    @property
    def size(self) -> int:
        return self.background.shape[0]

    def visible(self) -> list[np.ndarray]:
        """The visible part of every instance (boolean masks, in drawing order)."""
        visible: list[np.ndarray] = []
        for placed in self.instances:
            shape = placed.mask(self.size)
            visible = [m & ~shape for m in visible] + [shape]
        return visible

    def render(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """The image (size, size, 3) uint8 and the masks of the labelled instances (each (size, size) uint8, 255
        inside the visible part)."""
        img = self.background
        for placed in self.instances:
            img = np.where(placed.mask(self.size)[..., None], placed.texture, img)
        visible = self.visible()
        masks = [visible[k].astype(np.uint8) * 255 for k in self.labelled]
        return np.clip(img, 0, 255).astype(np.uint8), masks

    def translated(self) -> Scene:
        """The ideal translation into the other domain: the same background, every instance as the other shape in
        its bounding box with its look, in the same stacking order; the same instances labelled, mask k for mask k."""
        return replace(self, instances=tuple(placed.swapped() for placed in self.instances))

    def background_image(self) -> np.ndarray:
        """The background alone, uint8 (size, size, 3)."""
        return np.clip(self.background, 0, 255).astype(np.uint8)


def _placement(kind: str, rng: np.random.Generator, size: int, sides: tuple[float, float] = SIDES) -> Placed:
    """An axis-aligned box or ellipse (texture not yet drawn) with random size and position; its height and width
    are drawn between the fractions ``sides`` of the image side."""
    # + 1e-9: a product such as 48 * 0.45 = 21.599... or 30 * (1 / 3) = 9.999... must not lose a pixel to rounding
    lo, hi = max(4, int(size * sides[0] + 1e-9)), max(6, int(size * sides[1] + 1e-9))
    h, w = int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1))
    if rng.uniform() < 0.4:  # squares and discs as often as rectangles and ellipses
        w = h
    top, left = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
    return Placed(kind, top, left, h, w, np.empty(0))


def _texture(rng: np.random.Generator, size: int, style: str = "patterned") -> np.ndarray:
    """The look of an instance (size, size, 3): a random colour, plain or with stripes or dots of a second one; or
    ``mono``: the same light colour for every instance (up to a small jitter)."""
    if style == "mono":
        colour = np.asarray(MONO, dtype=float) + rng.uniform(-8, 8, size=3)
        return np.broadcast_to(colour, (size, size, 3)).copy()
    colour = rng.uniform(0, 255, size=3)
    if style == "plain":
        return np.broadcast_to(colour, (size, size, 3)).copy()
    other = np.clip(colour + rng.choice([-1, 1], size=3) * rng.uniform(40, 90, size=3), 0, 255)
    yy, xx = np.mgrid[0:size, 0:size]
    period = int(rng.integers(3, 7))
    if rng.uniform() < 0.5:
        pattern = ((xx + yy * rng.choice([0, 1])) // period) % 2 == 0
    else:
        pattern = ((xx % period) < period // 2) & ((yy % period) < period // 2)
    return np.where(pattern[..., None], colour, other)


def _grown(mask: np.ndarray) -> np.ndarray:
    """A boolean mask grown by one pixel in every direction (8-neighbourhood)."""
    padded = np.pad(mask, 1)
    h, w = mask.shape
    return np.logical_or.reduce([padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)])


def make_scene(
    kind: str,
    rng: np.random.Generator,
    size: int,
    max_instances: int,
    style: str = "patterned",
    sides: tuple[float, float] = SIDES,
    min_instances: int = 1,
    apart: bool = False,
) -> Scene:
    """One scene of min_instances to max_instances instances of ``kind``, each with height and width between the
    fractions ``sides`` of ``size``.

    Instances may overlap a little (each keeps most of its area; a mask holds the visible part); with ``apart`` they
    neither overlap nor touch, and an image on which the drawn number does not fit is drawn again."""
    for _image_attempt in range(100):
        background = _background(rng, size)
        count = int(rng.integers(min_instances, max_instances + 1))
        placed: list[Placed] = []
        visible: list[np.ndarray] = []
        min_pixels = max(6, size * size // 400)
        for _ in range(count):
            for _attempt in range(50 if apart else 20):
                candidate = _placement(kind, rng, size, sides)
                shape = candidate.mask(size)
                if apart:
                    fits = not any((_grown(m) & shape).any() for m in visible)
                else:  # touching and small overlaps are fine; an instance must keep most of its own area
                    fits = all((m & shape).sum() < 0.5 * m.sum() for m in visible)
                if fits:
                    break
            else:
                if apart:
                    break  # no room left: draw the image again
            placed.append(replace(candidate, texture=_texture(rng, size, style)))
            visible = [m & ~shape for m in visible] + [shape]
        labelled = tuple(k for k, m in enumerate(visible) if m.sum() >= min_pixels)
        if len(labelled) >= min_instances and (not apart or len(visible) == count):
            return Scene(background, tuple(placed), labelled)
    raise UserError(
        f"{min_instances} instances of sides {sides[0]}-{sides[1]} do not fit a {size}x{size} image"
        f"{' apart' if apart else ''}: lower --min_instances or --sides, or raise --size"
    )


def write_split(out: Path, split: str, domain: str, count: int, rng: np.random.Generator, args: argparse.Namespace) -> None:
    """``count`` samples of a split and domain; a test split also gets each sample's ideal translation, its masks
    and its background (``IDEAL``)."""
    for i in range(count):
        scene = make_scene(DOMAINS[domain], rng, args.size, args.max_instances, args.instances, tuple(args.sides),
                           args.min_instances, args.apart)  # fmt: skip
        stem = f"{i:05d}"
        write_sample(out, split, domain, stem, *scene.render())
        if split == "test":
            write_sample(out, split, f"{domain}{IDEAL}", stem, *scene.translated().render())
            folder = out / f"{split}{domain}{BACKGROUND}"
            folder.mkdir(exist_ok=True)
            atomic_write_bytes(folder / f"{stem}.png", png(scene.background_image()))


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    parser.add_argument("--out", default="datasets/shapes", help="output folder")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--train", type=int, default=400, help="training images per domain")
    parser.add_argument("--test", type=int, default=40, help="test images per domain")
    parser.add_argument("--min_instances", type=int, default=1, help="at least this many instances per image")
    parser.add_argument("--max_instances", type=int, default=6, help="at most this many instances per image")
    parser.add_argument(
        "--test_min_instances", type=int, default=None, help="at least this many per test image (default: --min_instances)"
    )
    parser.add_argument(
        "--test_max_instances", type=int, default=None, help="at most this many per test image (default: --max_instances)"
    )
    parser.add_argument("--apart", action="store_true", help="instances neither overlap nor touch (a pixel between them)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--instances",
        choices=("patterned", "plain", "mono"),
        default="patterned",
        help="instances of random colours with stripes or dots, or plain; or mono: all of one light colour",
    )
    parser.add_argument(
        "--sides",
        type=float,
        nargs=2,
        default=SIDES,
        metavar=("MIN", "MAX"),
        help="an instance's height and width lie between these fractions of --size, and are at least 4 and 6 pixels "
        "(default: 1/8 and 1/3)",
    )
    args = parser.parse_args(argv)
    if args.size < 16:
        parser.error("--size must be at least 16")
    if not 0 < args.sides[0] <= args.sides[1] <= 1:
        parser.error(f"--sides must satisfy 0 < MIN <= MAX <= 1, got {args.sides[0]} {args.sides[1]}")
    for low, high in (("min_instances", "max_instances"), ("test_min_instances", "test_max_instances")):
        lo = getattr(args, low) if getattr(args, low) is not None else args.min_instances
        hi = getattr(args, high) if getattr(args, high) is not None else args.max_instances
        if not 1 <= lo <= hi:
            parser.error(f"--{low} ({lo}) and --{high} ({hi}) must satisfy 1 <= min <= max")
    out = Path(args.out)
    with BuildFolder(out, flag="--out") as staged:
        for split, count in (("train", args.train), ("test", args.test)):
            for d_index, domain in enumerate(DOMAINS):
                rng = np.random.default_rng([args.seed, split == "test", d_index])
                split_args = argparse.Namespace(**vars(args))
                if split == "test":
                    split_args.min_instances = args.test_min_instances or args.min_instances
                    split_args.max_instances = args.test_max_instances or args.max_instances
                write_split(staged.partial, split, domain, count, rng, split_args)
        staged.commit()
    print(f"wrote {args.train} train and {args.test} test images per domain to {out}")
    return out

