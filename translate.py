"""Translate your own photos in one command: find their instances with Mask R-CNN (or read masks from files),
translate them with a trained run, and write side-by-side pictures, results.json and a page.

    python translate.py --input photos/ --name shp2gir_coco_instagan --category sheep
    python translate.py --input photos/ --name shp2gir_coco_instagan --masks photos_seg/ --instances 0,2

Instances are numbered from 0, largest first; ``--instances`` translates only those (the others stay as they are; a
photo with fewer instances is translated with the chosen ones it has, and a warning names it). Photos are resized to
the run's training crop (its train_opt.json), or else kept at their own size with a warning; ``--size`` chooses.
Results go to <results_dir>/<name>/translate_<epoch>/: <stem>_side_by_side.png (photo, its instances, the
translation, the translated instances), the images of test.py, results.json and index.html.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from instagan.data.image_folder import index_masks, is_image_file, make_dataset, read_image, read_mask
from instagan.models.run import Run
from instagan.options.base_options import Parser, option_values
from instagan.reporting.results import FreshFolder, ResultsWriter
from instagan.translator import Translator, size_fits
from instagan.util import cli, instance_set
from instagan.util.devices import parse_gpu_ids, resolve_device
from instagan.util.flags import add_gpu_ids, checkpoint_tag, folder_name
from instagan.util.images import tensor2im
from instagan.util.progress import progress_bar


def parse(argv: list[str] | None):
    p = Parser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input", required=True, help="a photo or a folder of photos")
    p.add_argument("--name", required=True, type=folder_name, help="the run: <checkpoints_dir>/<name>")
    p.add_argument("--checkpoints_dir", default="./checkpoints", help="where runs are saved")
    p.add_argument("--epoch", default="latest", type=checkpoint_tag, help="which checkpoint: latest or an epoch number")
    p.add_argument("--results_dir", default="./results/", help="results go to <results_dir>/<name>/translate_<epoch>")
    p.add_argument("--overwrite", action="store_true", help="replace earlier results in the same folder")
    p.add_argument("--category", help="COCO category whose instances Mask R-CNN finds, e.g. sheep")
    p.add_argument("--masks", help="instead of --category: a folder of masks <stem>_<k>.png for the photos")
    p.add_argument("--instances", help="translate only these instances (largest first, from 0), e.g. 0,2; a photo "
                   "with fewer is translated with those it has")  # fmt: skip
    p.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"), help="AtoB translates with G_A, BtoA with G_B")
    p.add_argument("--size", help="resize the photos to H,W first, multiples of 4 (default: the run's training crop "
                   "from its train_opt.json; without one, each photo's own size rounded to multiples of 4)")  # fmt: skip
    p.add_argument("--max_instances", type=int, default=20, help="at most this many instances per photo, largest first")
    p.add_argument("--score", type=float, default=0.7, help="smallest Mask R-CNN score kept")
    p.add_argument("--weights", default="DEFAULT", help="Mask R-CNN: DEFAULT (COCO, torchvision's cache), none or a file")
    p.add_argument("--min_size", type=int, default=800, help="Mask R-CNN's input size (shorter side)")
    add_gpu_ids(p)
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"), help="the generators' precision")
    p.add_argument("--ins_per", type=int, default=2, help="instances per sequential step")
    p.add_argument("--paste_background", action="store_true", help="keep the photo's pixels outside the instances")
    p.add_argument("--ngf", type=int, help="generator width, for files without the run's train_opt.json")
    p.add_argument("--n_blocks", type=int, help="residual blocks, for files without the run's train_opt.json")
    args = p.parse_args(argv)
    if (args.category is None) == (args.masks is None):
        p.error("give --category (Mask R-CNN finds the instances) or --masks (a folder of <stem>_<k>.png)")
    try:
        args.instances = [int(k) for k in args.instances.split(",")] if args.instances else None
        args.size = tuple(int(v) for v in args.size.split(",")) if args.size else None
    except ValueError:
        p.error("--instances takes numbers like 0,2 and --size H,W like 200,200")
    if args.size is not None and not size_fits(args.size):
        p.error(f"--size {','.join(map(str, args.size))}: give H,W, each a multiple of 4 (the generators halve the "
                "size twice), e.g. 200,200")  # fmt: skip
    if args.max_instances < 1 or args.ins_per < 1:
        p.error("--max_instances and --ins_per must be at least 1")
    if args.instances is not None and (min(args.instances) < 0 or len(set(args.instances)) < len(args.instances)):
        p.error(f"--instances {','.join(map(str, args.instances))}: give distinct numbers from 0, e.g. 0,2")
    if args.instances is not None and max(args.instances) >= args.max_instances:
        p.error(f"--instances {','.join(map(str, args.instances))}: --max_instances {args.max_instances} keeps only "
                f"instances 0 to {args.max_instances - 1}; raise --max_instances")  # fmt: skip
    return args


def masks_for(photos: list[Path], args, device: torch.device) -> dict[Path, list[torch.Tensor]]:
    """Each photo's instance masks (bool (H, W), largest first): found by Mask R-CNN or read from --masks."""
    found: dict[Path, list[torch.Tensor]] = {}
    if args.masks:
        index = index_masks(args.masks)
        for photo in photos:
            size = tuple(read_image(photo).shape[1:])
            masks = [read_mask(p, size) > 127 for p in index.get(photo.stem, [])]
            found[photo] = sorted(masks, key=lambda m: -int(m.sum()))[: args.max_instances]
        return found
    from instagan.data.detection import build_detector, category_index, detect

    category = category_index(args.category)
    detector = build_detector(args.weights, args.score, args.min_size).to(device).eval()
    for photo in progress_bar(photos, desc=f"finding {args.category}"):
        found[photo] = [
            torch.from_numpy(m) for m in detect(detector, read_image(photo), category, args.score, args.max_instances)
        ]
    return found


def chosen_instances(photos: list[Path], masks: dict[Path, list[torch.Tensor]], instances: list[int] | None
                     ) -> dict[Path, list[int] | None]:  # fmt: skip
    """Each photo's share of ``--instances``: those it has. A photo with fewer masks is still translated, with the
    chosen instances it has (the choice is per folder, the number of instances per photo), and one warning names them."""
    if instances is None:
        return dict.fromkeys(photos)
    short = [p for p in photos if masks[p] and max(instances) >= len(masks[p])]
    if short:
        listed = ", ".join(f"{p.name} has {len(masks[p])}" for p in short[:5]) + (", ..." if len(short) > 5 else "")
        warnings.warn(f"--instances {','.join(map(str, instances))} needs {max(instances) + 1} masks per photo and "
                      f"{len(short)} photo{'s have' if len(short) > 1 else ' has'} fewer ({listed}): each is translated "
                      "with the chosen instances it has (with none, kept as it is)", stacklevel=2)  # fmt: skip
    return {p: [k for k in instances if k < len(masks[p])] for p in photos}


def side_by_side(translation) -> np.ndarray:
    """The photo, its instances, the translation and the translated instances, in a row (uint8 (H, 4W, 3))."""
    parts = [translation.source, instance_set.merge(translation.source_masks), translation.translated,
             instance_set.merge(translation.translated_masks)]  # fmt: skip
    return np.concatenate([tensor2im(p) for p in parts], axis=1)


def main(argv: list[str] | None = None) -> Path:
    args = parse(argv)
    source = Path(args.input)
    single = source.is_file() and is_image_file(source)
    photos = [source] if single else make_dataset(source, check="--input (a photo, or a folder of photos)")
    run = Run(Path(args.checkpoints_dir) / args.name)
    device = resolve_device(parse_gpu_ids(args.gpu_ids))
    flags = {k: getattr(args, k) for k in ("ngf", "n_blocks") if getattr(args, k) is not None}
    # before finding any instance: a missing run or weights that do not fit end the command at once
    translator = Translator.from_checkpoint(run.folder, args.epoch, device=device, precision=args.precision,
                                            ins_max=args.max_instances, ins_per=args.ins_per,
                                            paste_background=args.paste_background, **flags)  # fmt: skip
    size = args.size
    trained = run.options()
    if size is None and "fineSizeH" in trained:  # the run's training crop
        size = (trained["fineSizeH"], trained["fineSizeW"])
    if size is None:  # the authors' files: the size they were trained at is not recorded
        warnings.warn(f"{run.options_file} not found: photos are translated at their own size (sides rounded to "
                      "multiples of 4); pass --size H,W for the size the run was trained at", stacklevel=1)  # fmt: skip
    folder = FreshFolder(Path(args.results_dir) / args.name / f"translate_{args.epoch}", args.overwrite,
                         "--results_dir, --name or --epoch")  # fmt: skip
    masks = masks_for(photos, args, device)
    without = [p.name for p in photos if not masks[p]]
    if without:
        warnings.warn(f"{len(without)} photos have no instances and pass through untranslated: {', '.join(without[:5])}",
                      stacklevel=1)  # fmt: skip
    chosen = chosen_instances(photos, masks, args.instances)
    with folder:
        writer = ResultsWriter(folder.partial, f"{args.name}: your photos, epoch {args.epoch}")
        for photo in progress_bar(photos, desc="translating"):
            image = read_image(photo)  # as the data sets read images: upright, every mode and bit depth
            result = translator.translate(image, masks[photo], args.direction, chosen[photo], size, str(photo))
            writer.add([result])
            Image.fromarray(side_by_side(result)).save(folder.partial / f"{photo.stem}_side_by_side.png")
        writer.save(option_values(args))
        final = folder.commit()
    print(f"{writer.count} photo{'s' if writer.count != 1 else ''} translated; open {final / 'index.html'}")
    return final / "index.html"


def entry() -> None:
    """The console command (instagan-translate)."""
    cli.run(main)


if __name__ == "__main__":
    entry()
