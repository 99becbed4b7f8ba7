"""Build a two-domain data set from the multi-human parsing set LV-MHP v1: people wearing cat1 vs cat2.

    python datasets/generate_mhp_dataset.py --data_root ./LV-MHP-v1 --save_root ./datasets/pants2skirt_mhp \
        --cat1 pants --cat2 skirt

Reads <data_root>/images/<id>.jpg, the per-person label maps <data_root>/annotations/<id>_<persons>_<k>.png and
train_list.txt / test_list.txt. Every person whose label map holds the category gives one instance mask. Images
are resized to cover 450x300 (HxW, as the paper) and centre-cropped.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

from instagan.data.builders.common import (
    BuildFolder,
    SourceError,
    builder_parser,
    cover_and_crop,
    keep_instances,
    require,
    unknown_name,
    write_sample,
)
from instagan.util.progress import progress_bar

LABELS = [
    "background", "hat", "hair", "sunglasses", "upper-clothes", "skirt", "pants", "dress", "belt", "left-shoe",
    "right-shoe", "face", "left-leg", "right-leg", "left-arm", "right-arm", "bag", "scarf", "torso-skin",
]  # fmt: skip
SIZE = (450, 300)
_PERSON_FILE = re.compile(r"^(?P<id>.+)_(?P<n>\d+)_(?P<k>\d+)\.png$")


def index_annotations(folder: Path) -> dict[str, list[Path]]:
    index: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        match = _PERSON_FILE.match(path.name)
        if match:
            index.setdefault(match["id"], []).append(path)
    return index


def read_labels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        array = np.asarray(img)
    return array[..., 0] if array.ndim == 3 else array


def build_split(root: Path, save_root: Path, split: str, label: int, domain: str, args, people: dict[str, list[Path]]) -> int:
    list_file = require(root / f"{split}_list.txt", "the split list", "LV-MHP v1 ships train_list.txt and test_list.txt")
    ids = [Path(line.strip()).stem for line in list_file.read_text().splitlines() if line.strip()]
    written = 0
    for image_id in progress_bar(ids, desc=f"{split} {LABELS[label]} -> {split}{domain}"):
        masks = [read_labels(p) == label for p in people.get(image_id, [])]
        masks = [m for m in masks if m.any()]
        if not masks:
            continue
        candidates = [root / "images" / f"{image_id}{ext}" for ext in (".jpg", ".png", ".jpeg")]
        image_path = next((p for p in candidates if p.is_file()), None)
        if image_path is None:
            raise SourceError(f"{candidates[0]} not found: {split}_list.txt names it; is images/ complete?")
        with Image.open(image_path) as img:
            image = cover_and_crop(np.asarray(img.convert("RGB")), SIZE, Image.BICUBIC)
        resized = [cover_and_crop(m.astype(np.uint8) * 255, SIZE, Image.BILINEAR) >= 128 for m in masks]
        resized = keep_instances(resized, args.min_pixels)
        if resized:
            write_sample(save_root, split, domain, image_id, image, resized)
            written += 1
    return written


def main(argv: list[str] | None = None) -> dict[str, int]:
    source = "LV-MHP v1 folder with images/, annotations/, *_list.txt"
    labels = f": {', '.join(LABELS[1:])}"
    parser = builder_parser(__doc__.split("\n\n")[0], source, ("pants", "skirt"), "part label", 64, cat1_help=labels)
    args = parser.parse_args(argv)
    root, save_root = Path(args.data_root), Path(args.save_root)
    people = index_annotations(require(root / "annotations", "the per-person label maps", "--data_root is the LV-MHP-v1 folder"))
    require(root / "images", "the photos", "--data_root is the LV-MHP-v1 folder")
    labels = []
    for name in (args.cat1, args.cat2):
        if name not in LABELS[1:]:
            raise unknown_name("MHP part label", name, LABELS[1:])
        labels.append(LABELS.index(name))
    counts = {}
    with BuildFolder(save_root) as out:
        for split in ("train", "test"):
            for label, domain in zip(labels, "AB"):
                counts[f"{split}{domain}"] = build_split(root, out.partial, split, label, domain, args, people)
        out.commit()
    print(f"wrote {counts} to {save_root}")
    return counts

