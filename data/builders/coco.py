"""Build a two-domain data set from MS COCO: the images of two categories with their instance masks.

    python datasets/generate_coco_dataset.py --data_root ./coco --save_root ./datasets/shp2gir_coco \
        --cat1 sheep --cat2 giraffe

Reads <data_root>/annotations/instances_{train,val}2017.json and <data_root>/{train,val}2017/ with pycocotools.
train2017 becomes trainA / trainB, val2017 becomes testA / testB (test.py's default --phase). Images are resized
to --image_size squared (256, as the sample data); instances smaller than --min_area of the image (crowd
annotations always) are left out, and images left without instances are skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from instagan.data.builders.common import (
    BuildFolder,
    SourceError,
    builder_parser,
    keep_instances,
    require,
    resize_image,
    resize_mask,
    unknown_name,
    write_sample,
)
from instagan.util.progress import progress_bar

SPLITS = {"train": "train", "val": "test"}


def build_split(coco_root: Path, save_root: Path, coco_split: str, category: str, domain: str, args) -> int:
    from pycocotools.coco import COCO

    anno = require(
        coco_root / "annotations" / f"instances_{coco_split}2017.json",
        "COCO instance annotations",
        "--data_root must hold annotations/ and train2017/, val2017/; see datasets/download_coco.sh",
    )
    images_dir = require(coco_root / f"{coco_split}2017", "COCO images", "unzip train2017.zip / val2017.zip into --data_root")
    coco = COCO(str(anno))
    names = [c["name"] for c in coco.loadCats(coco.getCatIds())]
    if category not in names:
        raise unknown_name("COCO category", category, names)
    cat_id = coco.getCatIds(catNms=[category])
    size = (args.image_size, args.image_size)
    written = 0
    for img_id in progress_bar(
        sorted(coco.getImgIds(catIds=cat_id)), desc=f"{coco_split}2017 {category} -> {SPLITS[coco_split]}{domain}"
    ):
        info = coco.loadImgs(img_id)[0]
        anns = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=img_id, catIds=cat_id, iscrowd=False)) if not a.get("iscrowd")]
        area = info["height"] * info["width"]
        anns = sorted((a for a in anns if a["area"] >= args.min_area * area), key=lambda a: -a["area"])
        if not anns:
            continue
        masks = keep_instances([resize_mask(coco.annToMask(a), size) for a in anns], args.min_pixels)
        if not masks:
            continue
        path = images_dir / info["file_name"]
        if not path.is_file():
            raise SourceError(f"{path} not found: the annotations list it; is {images_dir} complete?")
        with Image.open(path) as img:
            image = resize_image(np.asarray(img.convert("RGB")), size)
        write_sample(save_root, SPLITS[coco_split], domain, Path(info["file_name"]).stem, image, masks[: args.max_instances])
        written += 1
    return written


def main(argv: list[str] | None = None) -> dict[str, int]:
    source = "COCO folder with annotations/, train2017/, val2017/"
    parser = builder_parser(__doc__.split("\n\n")[0], source, ("sheep", "giraffe"), "category", min_pixels=16)
    parser.add_argument("--image_size", type=int, default=256, help="images are resized to this square size")
    parser.add_argument("--min_area", type=float, default=0.01, help="smallest instance, as a fraction of the image")
    parser.add_argument("--max_instances", type=int, default=20, help="keep at most this many (largest) per image")
    parser.add_argument("--splits", default="train,val", help="COCO splits to convert")
    args = parser.parse_args(argv)
    coco_root, save_root = Path(args.data_root), Path(args.save_root)
    require(coco_root, "the COCO folder", "pass --data_root")
    counts = {}
    with BuildFolder(save_root) as out:
        for coco_split in args.splits.split(","):
            for category, domain in ((args.cat1, "A"), (args.cat2, "B")):
                counts[f"{SPLITS[coco_split]}{domain}"] = build_split(coco_root, out.partial, coco_split, category, domain, args)
        out.commit()
    print(f"wrote {counts} to {save_root}")
    return counts

