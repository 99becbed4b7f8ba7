"""Write instance masks for a folder of plain photos with torchvision's COCO-trained Mask R-CNN.

    python datasets/make_masks.py --input my_photos/ --out datasets/my_sheep --category sheep
    python test.py --dataset_mode single_seg --dataroot datasets/my_sheep/testA --name shp2gir_coco_instagan ...

Writes the standard layout: <out>/<split><domain>/<stem>.png and <out>/<split><domain>_seg/<stem>_<k>.png,
the detections of --category with a score of at least --score, at most --max_instances, largest first.
Photos with no detection are skipped with a warning (--keep_empty writes them without masks).
The weights come from torchvision's cache (~/.cache/torch/hub/checkpoints); without internet access,
place the file named in the error message there.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from instagan.data.builders.common import BuildFolder, write_sample
from instagan.data.detection import build_detector, category_index, detect
from instagan.data.image_folder import make_dataset, read_image
from instagan.util.devices import parse_gpu_ids, resolve_device
from instagan.util.flags import HelpFormatter, add_gpu_ids
from instagan.util.progress import progress_bar


def main(argv: list[str] | None = None) -> dict[str, int]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    parser.add_argument("--input", required=True, help="folder of photos")
    parser.add_argument("--out", required=True, help="output data set folder")
    parser.add_argument("--category", required=True, help="COCO category to segment, e.g. sheep, giraffe, person")
    parser.add_argument("--split", default="test", help="output split name")
    parser.add_argument("--domain", default="A", choices=("A", "B"), help="output domain")
    parser.add_argument("--score", type=float, default=0.7, help="smallest detection score kept")
    parser.add_argument("--max_instances", type=int, default=20, help="keep at most this many instances, largest first")
    parser.add_argument("--keep_empty", action="store_true", help="also write photos in which nothing was found")
    parser.add_argument("--weights", default="DEFAULT", help="DEFAULT (COCO, torchvision's cache), none (untrained) or a file")
    parser.add_argument("--min_size", type=int, default=800, help="Mask R-CNN's input size (shorter side)")
    add_gpu_ids(parser)
    args = parser.parse_args(argv)
    category = category_index(args.category)
    photos = make_dataset(args.input, check="--input (a folder of photos)")
    device = resolve_device(parse_gpu_ids(args.gpu_ids))
    detector = build_detector(args.weights, args.score, args.min_size).to(device).eval()
    counts = {"written": 0, "instances": 0, "skipped": 0}
    folder = f"{args.split}{args.domain}"  # this domain's images and masks: a rerun replaces them, not the rest of --out
    with BuildFolder(args.out, parts=[folder, f"{folder}_seg"], flag="--out") as out:
        for path in progress_bar(photos, desc=f"segmenting {args.category}"):
            image = read_image(path)
            masks = detect(detector, image, category, args.score, args.max_instances)
            if not masks and not args.keep_empty:
                counts["skipped"] += 1
                continue
            write_sample(out.partial, args.split, args.domain, path.stem, image.permute(1, 2, 0).numpy(), masks)
            counts["written"] += 1
            counts["instances"] += len(masks)
        out.commit()
    if counts["skipped"]:
        warnings.warn(
            f"{counts['skipped']} of {len(photos)} photos had no {args.category} scoring >= {args.score}: skipped "
            "(lower --score, or --keep_empty to write them without masks)",
            stacklevel=1,
        )
    print(f"{counts} -> {Path(args.out) / (args.split + args.domain)}")
    return counts

