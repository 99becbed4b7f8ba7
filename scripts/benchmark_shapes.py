"""The shapes benchmark: InstaGAN, its ablations and CycleGAN under one training budget, scored by evaluate.py.

    python scripts/benchmark_shapes.py                # writes docs/benchmarks.md
    python scripts/benchmark_shapes.py --quick        # a smoke run of the whole pipeline

Runs (same data, same epochs, same network width; by default the demo's budget):
- instagan:         --ins_max 4 --ins_per 2, tested sequentially (--ins_max 8 --ins_per 2)
- instagan_noctx:   the same with --lambda_ctx 0
- instagan_onestep: trained with --ins_per 4 (= --ins_max) and tested in one step (--ins_max 8 --ins_per 8)
- cycle_gan:        --model cycle_gan on the images alone
The test split has up to 8 instances per image, twice as many as any training image.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sh(args: list[str], log) -> float:
    line = " ".join(shlex.quote(str(a)) for a in args)
    log.write(f"$ {line}\n")
    log.flush()
    start = time.time()
    subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, check=True, stdout=log, stderr=subprocess.STDOUT)
    return time.time() - start


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default="benchmark_runs", help="folder for data, checkpoints and results")
    parser.add_argument("--out", default="docs/benchmarks.md", help="the table to write")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the pipeline, not the method")
    parser.add_argument(
        "--report_only", action="store_true", help="re-run evaluate.py on the saved results and rewrite the table"
    )
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--train", type=int, default=360)
    parser.add_argument("--test", type=int, default=40)
    parser.add_argument("--niter", type=int, default=3)
    parser.add_argument("--niter_decay", type=int, default=2)
    parser.add_argument("--ngf", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.0005)
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.train, args.test, args.niter, args.niter_decay = 32, 8, 4, 1, 0
    work = ROOT / args.work
    work.mkdir(parents=True, exist_ok=True)
    data = work / "shapes"
    log = (work / "benchmark.log").open("a" if args.report_only else "w")
    timings_file = work / "timings.json"
    timings = json.loads(timings_file.read_text()) if args.report_only else {}
    if not args.report_only:
        sh(["datasets/make_shapes_dataset.py", "--out", data, "--size", args.size, "--train", args.train, "--test", args.test,
            "--max_instances", "4", "--test_max_instances", "8", "--seed", "0"], log)  # fmt: skip
    side = ["--loadSizeH", args.size, "--loadSizeW", args.size, "--fineSizeH", args.size, "--fineSizeW", args.size]
    net = ["--ngf", args.ngf, "--ndf", args.ngf, "--n_blocks", "2", "--gpu_ids", "-1"]
    budget = ["--niter", args.niter, "--niter_decay", args.niter_decay, "--batch_size", "4", "--lr", args.lr]
    runs = {
        "instagan": (["--ins_max", "4", "--ins_per", "2"], ["--ins_max", "8", "--ins_per", "2"]),
        "instagan_noctx": (["--ins_max", "4", "--ins_per", "2", "--lambda_ctx", "0"], ["--ins_max", "8", "--ins_per", "2"]),
        "instagan_onestep": (["--ins_max", "4", "--ins_per", "4"], ["--ins_max", "8", "--ins_per", "8"]),
        "cycle_gan": (["--model", "cycle_gan"], ["--model", "cycle_gan"]),
    }
    rows, commands = [], []
    for name, (train_flags, test_flags) in runs.items():
        common = ["--dataroot", data, "--name", name, "--checkpoints_dir", work / "checkpoints", *net]
        train_cmd = ["train.py", *common, *side, *budget, *train_flags, "--display_id", "0", "--num_threads", "1",
                     "--print_freq", "100000", "--seed", "0", "--overwrite"]  # fmt: skip
        test_cmd = ["test.py", *common, *side, *test_flags, "--results_dir", work / "results", "--batch_size", "4",
                    "--num_test", args.test, "--overwrite"]  # fmt: skip
        if not args.report_only:
            timings[name] = sh(train_cmd, log)
            sh(test_cmd, log)
            timings_file.write_text(json.dumps(timings))
        seconds = timings[name]
        smoke = ["--classifier_steps", "20"] if args.quick else []
        sh(["evaluate.py", "--results", work / "results" / name / "test_latest", *smoke], log)
        report = json.loads((work / "results" / name / "test_latest" / "metrics.json").read_text())
        rows.append((name, seconds, report))
        commands += ["python " + " ".join(map(str, c)).replace(f"{ROOT}/", "") for c in (train_cmd, test_cmd)]
    table = ["| run | train time (s) | classification A->B | mask shape A->B | context error A->B | instances kept A->B |"
             " classification B->A | context error B->A |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, seconds, report in rows:
        ab, ba = report["directions"]["A->B"], report["directions"].get("B->A", {})
        cells = [ab["classification_score"], ab["mask_shape_accuracy"], ab["context_error"], ab["instances_kept"],
                 ba.get("classification_score"), ba.get("context_error")]  # fmt: skip
        table.append(f"| {name} | {seconds:.0f} | " + " | ".join("-" if c is None else f"{c}" for c in cells) + " |")
    classifier = rows[0][2]["classifier_accuracy_real"]
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch CPU"
    text = "\n".join([
        "# Benchmarks on the built-in shapes data set",
        "",
        f"Measured by `python scripts/benchmark_shapes.py{' --quick' if args.quick else ''}` on {machine}.",
        f"Data: {args.train} training images per domain at {args.size}x{args.size}, 1-4 instances each; "
        f"{args.test} test images per domain with 1-8 instances (more than any training image).",
        f"Budget, the same for every run: {args.niter} + {args.niter_decay} epochs, batch 4, lr {args.lr}, "
        f"ngf = ndf = {args.ngf}, 2 residual blocks.",
        "",
        *table,
        "",
        "- classification: fraction of translated images a small CNN (trained on the real training images) assigns to "
        f"the target domain; that CNN is right on {classifier} of the real test images, which bounds what the score can say.",
        "- mask shape: fraction of translated instance masks with the target shape (fill ratio of the bounding box: "
        "discs about 0.785, boxes 1.0). CycleGAN translates no masks.",
        "- context error: mean |input - output| (images in [-1, 1]) outside the dilated union of input and translated masks.",
        "- instances kept: translated masks that are not empty, per input instance.",
        "",
        "The numbers are what this budget gives on a CPU; they are not the paper's and are not tuned to agree with it.",
        "Train times are wall-clock seconds and grow when other work shares the machine.",
        "",
        "Commands:",
        "",
        "```",
        *commands,
        "```",
        "",
    ])  # fmt: skip
    out = ROOT / args.out
    out.write_text(text)
    print(text)
    return out


if __name__ == "__main__":
    main()
