"""Score test.py's translations: domain classification (A, B or neither), mask shape, context preservation,
instances kept, realism (classifier two-sample tests), scores per sequential step, the ground truth where the data
set has ideal translations (the shapes data), and distances between the translated and the real images (FID and KID
with Inception when its weights are on disk, and the same distances on the domain classifiers' features, always).

    python evaluate.py --results results/shapes_instagan/test_latest

Every number comes with a 95 % bootstrap interval (resampling the test images) and is deterministic: the same
results give the same numbers. metrics.json is written into the results folder and the table into its index.html.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import torch

from instagan.evaluation import inception, realism, scoring
from instagan.evaluation.judge import train_or_load
from instagan.options.base_options import Parser
from instagan.reporting.results import read_manifest, write_page
from instagan.util import cli
from instagan.util.cli import UserError
from instagan.util.files import atomic_write_text


def main(argv: list[str] | None = None) -> dict:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", required=True, help="a test.py results folder: results/<name>/<phase>_<epoch>")
    parser.add_argument("--dataroot", help="the data set (default: the one in the folder's test_opt.json)")
    parser.add_argument("--cache", help="classifier cache file (default: <dataroot>/domain_classifier.pth)")
    parser.add_argument("--classifier_steps", type=int, default=600, help="training steps of each classifier")
    parser.add_argument("--classifiers", type=int, default=5, help="independently seeded classifiers that judge")
    parser.add_argument("--fid", choices=("auto", "inception", "none"), default="auto",
                        help="FID/KID with Inception: auto (if its weights are on disk), inception (required), none")  # fmt: skip
    parser.add_argument("--fid_weights", help=f"path of {inception.WEIGHTS} (default: torch hub's checkpoints folder)")
    parser.add_argument("--realism_splits", type=int, default=realism.SPLITS,
                        help="random splits of each realism test (a classifier trained per split); 0 skips realism")  # fmt: skip
    args = parser.parse_args(argv)
    for flag in ("classifier_steps", "classifiers"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} {getattr(args, flag)} must be at least 1")
    if args.realism_splits < 0:
        parser.error(f"--realism_splits {args.realism_splits} must be at least 0")
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
    weights = None if args.fid == "none" else inception.weights(args.fid_weights, required=args.fid == "inception")
    cache = Path(args.cache) if args.cache else dataroot / "domain_classifier.pth"
    judge = train_or_load(dataroot, cache, steps=args.classifier_steps, members=args.classifiers)
    real = scoring.RealCrops(dataroot, phase, floor_cache=cache.with_name(f"{cache.stem}_realism_floors.json"))
    report = {"results": str(results_dir), "dataroot": str(dataroot), "phase": phase}
    report["classifier"] = {"members": len(judge.members), "steps": args.classifier_steps,
                            "accuracy_real": scoring.classifier_accuracy(judge, real),
                            "probes": scoring.judge_probes(judge, real)}  # fmt: skip
    report["fid_inception"] = inception.status(weights, args.fid)
    report["paste_background"] = bool(test_opt.get("paste_background"))
    title, samples = read_manifest(results_dir)
    report["directions"] = scoring.score_directions(results_dir, samples, judge, real, weights, test_opt,
                                                    args.realism_splits)  # fmt: skip
    if not report["directions"]:
        raise FileNotFoundError(f"{results_dir} holds no translations: run test.py first")
    atomic_write_text(results_dir / "metrics.json", json.dumps(report, indent=2) + "\n")
    write_page(results_dir, samples, title, scoring.page_metrics(report))
    if report["paste_background"]:
        print("note: written with --paste_background, so outside the instances every pixel is the source's: the context "
              "error and the background scores are the source's, by construction")  # fmt: skip
    accuracy = report["classifier"]["accuracy_real"]
    if accuracy:
        print(f"classifiers right on {accuracy['min']}-{accuracy['max']} of the real {phase} images")
    for direction, scores in report["directions"].items():
        print(direction, " ".join(f"{k}={scoring.cell(v)}" for k, v in scores.items() if k in scoring.columns()))
        if scores.get("ground_truth"):
            truth = scoring.columns(scoring.GROUND_TRUTH)
            print("  against the ideal:", " ".join(f"{k}={scoring.cell(scores.get(k))}" for k in truth))
        if scores.get("realism"):
            print("  realism (0.5: real-like):", " ".join(f"{k}={scoring.cell(v)}" for k, v in scores["realism"].items()))
        for step, values in scores.get("by_step", {}).items():
            columns = ("classification_score", "classification_after_step", "mask_shape_accuracy", "mask_iou")
            print(f"  step {step}: {values['instances']} instances,", " ".join(f"{k}={scoring.cell(values[k])}" for k in columns))
    for line in fid_skipped(args, weights, report, real):
        print(line)
    print(f"metrics written to {results_dir / 'metrics.json'}")
    return report


def fid_skipped(args: argparse.Namespace, weights: Path | None, report: dict, real: scoring.RealCrops) -> list[str]:
    """A line for each FID/KID with Inception that was not computed: why, and what computes it."""
    skipped = "FID/KID with Inception skipped"
    if args.fid == "none":
        return [f"{skipped}: --fid none (--fid auto computes them when torch-fidelity and its weights are there)"]
    if weights is None:
        if importlib.util.find_spec("torch_fidelity") is None:
            return [f"{skipped}: torch-fidelity is not installed (pip install torch-fidelity, or the [fid] extra)"]
        hub = Path(torch.hub.get_dir()) / "checkpoints"
        return [f"{skipped}: {inception.WEIGHTS} is not in {hub} (download it there from "
                "github.com/toshas/torch-fidelity/releases/tag/v0.2.0, or pass its path to --fid_weights)"]  # fmt: skip
    lines = []
    for direction, scores in report["directions"].items():
        if "fid" in scores:
            continue
        tgt = direction[-1]
        if scores["images"] < 2:
            why = f"only {scores['images']} translated image, FID needs 2 or more (test.py --num_test)"
        else:
            why = f"it needs 2 or more real images of {tgt} in {real.folder(tgt)}"
        lines.append(f"{skipped} for {direction}: {why}")
    return lines


def entry() -> None:
    """The console command (instagan-evaluate)."""
    cli.run(main)


if __name__ == "__main__":
    entry()
