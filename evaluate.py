"""Score test.py's translations: domain classification, mask shape, context preservation, instances kept.

    python evaluate.py --results results/shapes_instagan/test_latest

Reads the images test.py wrote, trains (once, then cached) a small CNN on the real training images of the
two domains, writes metrics.json into the results folder and adds a table of the numbers to its index.html.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path

import torch

from data.image_folder import index_masks, make_dataset, read_image, read_mask
from util import cli, metrics
from util.cli import UserError
from util.domain_classifier import train_or_load
from util.io import atomic_write_text

MARK_BEGIN, MARK_END = "<!-- metrics -->", "<!-- /metrics -->"


def _image(path: Path) -> torch.Tensor:
    return read_image(path).float() / 127.5 - 1


def _mask(path: Path, size: tuple[int, int]) -> torch.Tensor:
    return read_mask(path, size).float() / 127.5 - 1


def _resized_mask(path: Path, size: tuple[int, int]) -> torch.Tensor:
    """A data-set mask resized (bicubic, as the loader does) to an output's size."""
    raw = read_image(path)[:1].float()[None]
    resized = torch.nn.functional.interpolate(raw, size=size, mode="bicubic", antialias=True, align_corners=False)
    return resized[0, 0].clamp(0, 255) / 127.5 - 1


def target_shape(dataroot: Path, domain: str, limit: int = 200) -> str:
    """``box`` or ``round``: the usual shape of a domain's training masks (by mean fill ratio)."""
    ratios = []
    for paths in list(index_masks(dataroot / f"train{domain}_seg").values())[:limit]:
        for p in paths:
            mask = read_image(p)[0] > 127
            if mask.sum() >= metrics.MIN_INSTANCE_PIXELS:
                ratios.append(metrics.fill_ratio(mask))
    if not ratios:
        return "unknown"
    return "box" if sum(ratios) / len(ratios) >= metrics.ROUND_BOX_THRESHOLD else "round"


def evaluate_direction(images: Path, src: str, tgt: str, classifier, shape: str, dataroot: Path, phase: str) -> dict | None:
    stems = sorted(p.name[: -len(f"_fake_{tgt}_img.png")] for p in images.glob(f"*_fake_{tgt}_img.png"))
    if not stems:
        return None
    dataset_masks = index_masks(dataroot / f"{phase}{src}_seg")
    fakes, shape_masks, ctx, kept = [], [], [], []
    for stem in stems:
        source, output = _image(images / f"{stem}_real_{src}_img.png"), _image(images / f"{stem}_fake_{tgt}_img.png")
        size = tuple(source.shape[1:])
        fakes.append(output)
        real_ins = sorted(images.glob(f"{stem}_real_{src}_ins*.png"))
        if real_ins:  # InstaGAN: the instances it translated, and their translations
            inputs = [_mask(p, size) for p in real_ins]
            outputs = [_mask(images / p.name.replace(f"_real_{src}_ins", f"_fake_{tgt}_ins"), size) for p in real_ins]
            shape_masks += outputs
            kept.append(metrics.instances_kept(inputs, outputs))
        else:  # an image-only model: the data set's masks mark where the instances were
            inputs, outputs = [_resized_mask(p, size) for p in dataset_masks.get(stem, [])], []
        ctx.append(metrics.context_error(source, output, inputs + outputs))
    probs = classifier.prob_B(torch.stack(fakes))
    judged_target = (probs > 0.5) if tgt == "B" else (probs <= 0.5)

    def mean(values: list[float]) -> float | None:
        values = [v for v in values if not math.isnan(v)]
        return round(sum(values) / len(values), 4) if values else None

    return {
        "images": len(stems),
        "classification_score": round(float(judged_target.float().mean()), 4),
        "mask_shape_accuracy": round(metrics.shape_accuracy(shape_masks, shape), 4) if shape_masks else None,
        "target_shape": shape,
        "context_error": mean(ctx),
        "instances_kept": mean(kept),
    }


def add_to_page(page: Path, results: dict) -> None:
    if not page.is_file():
        return
    rows = "".join(
        f"<tr><td>{direction}</td>" + "".join(f"<td>{v}</td>" for v in values.values()) + "</tr>"
        for direction, values in results["directions"].items()
    )
    header = "".join(f"<th>{k}</th>" for k in next(iter(results["directions"].values())))
    table = (
        f"{MARK_BEGIN}<h3>Metrics</h3><table border=1 style='border-collapse:collapse'><tr><th>direction</th>{header}</tr>"
        f"{rows}</table><p>classifier accuracy on real {results['phase']} images: {results['classifier_accuracy_real']}</p>"
        f"{MARK_END}"
    )
    html = page.read_text()
    html = re.sub(re.escape(MARK_BEGIN) + ".*?" + re.escape(MARK_END), "", html, flags=re.S)
    html = html.replace("<body>", "<body>" + table, 1)
    atomic_write_text(page, html)


def classifier_accuracy(classifier, dataroot: Path, phase: str, limit: int = 200) -> float | None:
    correct, total = 0, 0
    for domain, label in (("A", False), ("B", True)):
        folder = dataroot / f"{phase}{domain}"
        if not folder.is_dir():
            return None
        probs = classifier.prob_B(torch.stack([_image(p) for p in make_dataset(folder, limit)]))
        correct += int(((probs > 0.5) == label).sum())
        total += len(probs)
    return round(correct / total, 4) if total else None


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", required=True, help="a test.py results folder: results/<name>/<phase>_<epoch>")
    parser.add_argument("--dataroot", help="the data set (default: the one in the folder's test_opt.json)")
    parser.add_argument("--cache", help="classifier cache file (default: <dataroot>/domain_classifier.pth)")
    parser.add_argument(
        "--classifier_steps", type=int, default=600, help="training steps of the classifier (fewer only for smoke runs)"
    )
    args = parser.parse_args(argv)
    if args.classifier_steps < 1:
        parser.error("--classifier_steps must be at least 1")
    results_dir = Path(args.results)
    images = results_dir / "images"
    if not images.is_dir():
        raise FileNotFoundError(f"{images} not found: run test.py first and pass its results folder to --results")
    opt_file = results_dir / "test_opt.json"
    if not opt_file.is_file():
        raise UserError(
            f"{results_dir} is not a results folder of test.py (it has no test_opt.json): pass "
            "results/<name>/<phase>_<epoch>, not a training page"
        )
    test_opt = json.loads(opt_file.read_text())
    dataroot = Path(args.dataroot or test_opt.get("dataroot", ""))
    if test_opt.get("dataset_mode") == "single_seg" and not args.dataroot:
        dataroot = dataroot.parent
    if not (dataroot / "trainA").is_dir() or not (dataroot / "trainB").is_dir():
        raise FileNotFoundError(f"{dataroot} has no trainA and trainB for the classifier: pass the data set with --dataroot")
    phase = test_opt.get("phase", "test")
    cache = Path(args.cache) if args.cache else dataroot / "domain_classifier.pth"
    classifier = train_or_load(dataroot, cache, steps=args.classifier_steps)
    report = {"results": str(results_dir), "dataroot": str(dataroot), "phase": phase, "directions": {}}
    report["classifier_accuracy_real"] = classifier_accuracy(classifier, dataroot, phase)
    for src, tgt in (("A", "B"), ("B", "A")):
        scores = evaluate_direction(images, src, tgt, classifier, target_shape(dataroot, tgt), dataroot, phase)
        if scores:
            report["directions"][f"{src}->{tgt}"] = scores
    if not report["directions"]:
        raise FileNotFoundError(f"{images} holds no translated images (<stem>_fake_B_img.png): run test.py first")
    atomic_write_text(results_dir / "metrics.json", json.dumps(report, indent=2) + "\n")
    add_to_page(results_dir / "index.html", report)
    for direction, scores in report["directions"].items():
        print(direction, " ".join(f"{k}={v}" for k, v in scores.items()))
    print(f"metrics written to {results_dir / 'metrics.json'}")
    return report


if __name__ == "__main__":
    cli.run(main)
