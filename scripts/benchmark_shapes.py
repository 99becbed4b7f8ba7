"""The shapes benchmark: InstaGAN, its ablations and CycleGAN under one budget (the demo's), for several seeds, scored
by evaluate.py; writes docs/benchmarks.md with the mean and standard deviation over the seeds, and a page that shows
the runs' translations of a few test images side by side.

    python scripts/benchmark_shapes.py --seeds 3      # writes docs/benchmarks.md
    python scripts/benchmark_shapes.py --quick        # a smoke run of the whole pipeline

Per seed (same data, the demo's networks and budget, the training seed changes):
- instagan:               trained with --ins_max 4 --ins_per 2, tested sequentially (--ins_max 8 --ins_per 2)
- instagan_noctx:         the same with --lambda_ctx 0
- instagan_onestep:       trained with --ins_per 4 (= --ins_max) and tested in one step (--ins_max 8 --ins_per 8)
- instagan_tested_onestep: the instagan run, tested in one step (--ins_max 8 --ins_per 8)
- cycle_gan:              --model cycle_gan on the images alone
The test split has up to 8 instances per image, more than twice as many as any training image (up to 3).
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import benchmark_speed
import demo_shapes as demo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from instagan.reporting import page  # noqa: E402
from instagan.reporting.results import read_manifest  # noqa: E402

NOTES = "<!-- notes: kept when the tables above are regenerated -->"
METRICS = ("classification_score", "mask_shape_accuracy", "context_error", "instances_kept", "classifier_kd")
# name: (training flags or the name of the run whose weights it tests, test flags)
RUNS = {
    "instagan": (["--ins_max", "4", "--ins_per", "2"], ["--ins_max", "8", "--ins_per", "2"]),
    "instagan_noctx": (["--ins_max", "4", "--ins_per", "2", "--lambda_ctx", "0"], ["--ins_max", "8", "--ins_per", "2"]),
    "instagan_onestep": (["--ins_max", "4", "--ins_per", "4"], ["--ins_max", "8", "--ins_per", "8"]),
    "instagan_tested_onestep": ("instagan", ["--ins_max", "8", "--ins_per", "8"]),
    "cycle_gan": (["--model", "cycle_gan"], ["--model", "cycle_gan"]),
}


def sh(args: list, log) -> float:
    log.write("$ python " + " ".join(shlex.quote(str(a)) for a in args) + "\n")
    log.flush()
    start = time.time()
    subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, check=True, stdout=log, stderr=subprocess.STDOUT)
    return time.time() - start


def mean_std(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def comparison_page(folder: Path, results: dict[str, Path], stems: list[str]) -> Path:
    """For a few fixed test images: the input and every run's translation and translated masks, side by side."""
    doc = page.HTML(folder, "shapes benchmark: the runs side by side")
    for direction in ("A->B", "B->A"):
        for stem in stems:
            images, labels = [], []
            for name, run_folder in results.items():
                _, samples = read_manifest(run_folder)
                sample = next((s for s in samples if s.stem == stem and s.direction == direction), None)
                if sample is None:
                    continue
                if not images:
                    images.append(run_folder / sample.images["source"])
                    labels.append("input")
                    if "source_masks" in sample.images:
                        images.append(run_folder / sample.images["source_masks"])
                        labels.append("input masks")
                for role in ("translated", "translated_masks"):
                    if role in sample.images:
                        images.append(run_folder / sample.images[role])
                        labels.append(f"{name}" + (" masks" if role.endswith("masks") else ""))
            names = []
            for image, label in zip(images, labels):
                target = f"{stem}_{direction[0]}{direction[-1]}_{label.replace(' ', '_')}.png"
                (doc.img_dir / target).write_bytes(image.read_bytes())
                names.append(target)
            doc.add_header(f"{stem} ({direction})")
            doc.add_images(names, labels, names, width=128)
    return doc.save()


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per run (0, 1, ...)")
    parser.add_argument("--work", default="benchmark_runs", help="folder for data, checkpoints and results")
    parser.add_argument("--out", default="docs/benchmarks.md", help="the report to write")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the pipeline, not the method")
    parser.add_argument("--report_only", action="store_true", help="re-run evaluate.py on the saved results and rewrite")
    args = parser.parse_args(argv)
    work = ROOT / args.work
    work.mkdir(parents=True, exist_ok=True)
    data = work / "shapes"
    quick = args.quick
    networks, budget, size = (demo.QUICK["networks"], demo.QUICK["budget"], demo.QUICK["size"]) if quick else (
        demo.NETWORKS, demo.BUDGET, demo.SIZE)  # fmt: skip
    data_flags = demo.QUICK_DATA if quick else demo.DATA
    log = (work / "benchmark.log").open("a" if args.report_only else "w")
    timings_file = work / "timings.json"
    timings = json.loads(timings_file.read_text()) if args.report_only else {}
    if not args.report_only:
        sh(["datasets/make_shapes_dataset.py", "--out", data, *data_flags, "--test_max_instances", "8", "--seed", "0"], log)
    evaluate_flags = ["--fid", "none", *(demo.QUICK["evaluate"] if quick else [])]
    reports: dict[str, list[dict]] = {name: [] for name in RUNS}
    commands, folders = [], {}
    for seed in range(args.seeds):
        for name, (train_flags, test_flags) in RUNS.items():
            trained = train_flags if isinstance(train_flags, str) else name
            common = ["--dataroot", data, "--checkpoints_dir", work / "checkpoints", "--gpu_ids", "-1", *networks]
            train_cmd = ["train.py", *common, "--name", f"{trained}_s{seed}", *size, *budget, *train_flags, "--display_id",
                         "0", "--num_threads", "1", "--print_freq", "100000", "--seed", seed, "--overwrite"]  # fmt: skip
            test_cmd = ["test.py", *common, "--name", f"{trained}_s{seed}", *size, *test_flags, "--results_dir",
                        work / "results" / name, "--batch_size", "4", "--num_test", "1000", "--overwrite"]  # fmt: skip
            folder = work / "results" / name / f"{trained}_s{seed}" / "test_latest"
            if not args.report_only:
                if not isinstance(train_flags, str):
                    timings[f"{name}_s{seed}"] = sh(train_cmd, log)
                sh(test_cmd, log)
                timings_file.write_text(json.dumps(timings))
            sh(["evaluate.py", "--results", folder, *evaluate_flags], log)
            reports[name].append(json.loads((folder / "metrics.json").read_text()))
            folders.setdefault(name, folder)
            if seed == 0:
                commands += ["python " + " ".join(map(str, c)).replace(f"{ROOT}/", "") for c in
                             ([train_cmd] if not isinstance(train_flags, str) else []) + [test_cmd]]  # fmt: skip
    # the tables: mean ± std over the seeds, per direction
    lines = []
    for direction in ("A->B", "B->A"):
        lines += [f"### {direction}", "", "| run | " + " | ".join(METRICS) + " | training time (s) |",
                  "|---|" + "---|" * (len(METRICS) + 1)]  # fmt: skip
        for name, runs in reports.items():
            cells = []
            for metric in METRICS:
                values = [((r["directions"].get(direction) or {}).get(metric) or {}).get("value") for r in runs]
                cells.append(mean_std(values))
            trained = RUNS[name][0] if isinstance(RUNS[name][0], str) else name
            seconds = [timings.get(f"{trained}_s{s}") for s in range(args.seeds)]
            cells.append(mean_std(seconds).replace(".000", "") if all(seconds) else "-")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    judge = reports["instagan"][0]["classifier"]["accuracy_real"]
    stems = [f"{i:05d}" for i in range(4)]
    compare = comparison_page(work / "compare", folders, stems)
    machine = benchmark_speed.machine("cpu")
    text = [
        "# Benchmarks on the built-in shapes data set",
        "",
        f"Measured by `python scripts/benchmark_shapes.py --seeds {args.seeds}{' --quick' if quick else ''}` on {machine}.",
        f"Data: the demo's (`{' '.join(data_flags)}`), but test images with up to 8 instances. Budget, the same for "
        f"every run: the demo's, `{' '.join(networks + budget)}`. Mean ± standard deviation over {args.seeds} training "
        "seeds; each seed's numbers come with 95 % bootstrap intervals in its metrics.json.",
        f"The judge of the classification score is right on {judge['min']} to {judge['max']} of the real test images "
        "(per image, each of its 5 classifiers). The runs' translations of the first test images, side by side: "
        f"`{compare.relative_to(ROOT) if compare.is_relative_to(ROOT) else compare}`.",
        "",
        *lines,
        "Commands (seed 0; the other seeds change `--seed` and the names):",
        "",
        "```",
        *commands,
        "```",
        "",
        NOTES,
    ]
    out = ROOT / args.out
    notes = out.read_text().split(NOTES, 1)[1] if out.is_file() and NOTES in out.read_text() else "\n"
    out.write_text("\n".join(text) + notes)
    print("\n".join(text))
    return out


if __name__ == "__main__":
    main()
