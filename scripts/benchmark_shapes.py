"""The shapes benchmark: InstaGAN, its ablations and CycleGAN under one budget, for several seeds, scored by
evaluate.py; writes docs/benchmarks.md with the mean and standard deviation over the seeds, and a page that shows the
runs' translations of a few test images side by side.

    python scripts/benchmark_shapes.py --seeds 3             # writes docs/benchmarks.md
    python scripts/benchmark_shapes.py --seeds 3 --resume    # after a stop: keeps the runs that finished training
    python scripts/benchmark_shapes.py --quick               # a smoke run of the whole pipeline

Per seed (same data, the demo's networks, the budget below; the training seed changes):
- instagan:               trained with --ins_max 4 --ins_per 2, tested sequentially (--ins_max 8 --ins_per 2)
- instagan_noctx:         the same with --lambda_ctx 0
- instagan_onestep:       trained with --ins_per 4 (= --ins_max) and tested in one step (--ins_max 8 --ins_per 8)
- instagan_tested_onestep: the instagan run, tested in one step (--ins_max 8 --ins_per 8)
- cycle_gan:              --model cycle_gan on the images alone
The training images hold 1 to 3 instances, so that sequential training takes one or two steps of 2; the test split
has up to 8 instances per image, more than twice as many as any training image.
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
from instagan.util import cli  # noqa: E402
from instagan.util.cli import UserError  # noqa: E402
from instagan.util.files import atomic_write_text  # noqa: E402

NOTES = "<!-- notes: kept when the tables above are regenerated -->"
# The data and budget of every run: the demo's data but up to 3 instances per training image (the demo has 2, which
# would make sequential training a single step), and the demo's networks for 7 + 6 epochs (1,170 updates).
DATA = ["--size", "48", "--train", "360", "--test", "120", "--max_instances", "3", "--instances", "mono",
        "--sides", "0.2", "0.45"]  # fmt: skip
BUDGET = ["--batch_size", "4", "--niter", "7", "--niter_decay", "6", "--lr", "0.0005"]
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
    parser.add_argument("--resume", action="store_true", help="keep the runs in --work that finished training (same config)")
    args = parser.parse_args(argv)
    work = ROOT / args.work
    work.mkdir(parents=True, exist_ok=True)
    data = work / "shapes"
    quick = args.quick
    networks, budget, size = (demo.QUICK["networks"], demo.QUICK["budget"], demo.QUICK["size"]) if quick else (
        demo.NETWORKS, BUDGET, demo.SIZE)  # fmt: skip
    data_flags = [*(demo.QUICK_DATA if quick else DATA), "--test_max_instances", "8"]
    config = [*data_flags, *networks, *size, *budget]  # what every run shares: runs of another are never mixed in
    keep = args.report_only or args.resume
    log = (work / "benchmark.log").open("a" if keep else "w")
    timings_file = work / "timings.json"
    timings = json.loads(timings_file.read_text()) if keep and timings_file.is_file() else {}

    def save_timings() -> None:
        atomic_write_text(timings_file, json.dumps(timings))

    if keep and set(timings) - {"config"} and timings.get("config") != config:
        recorded = " ".join(timings.get("config", [])) or "not recorded"
        raise UserError(f"{work} holds runs of another configuration ({recorded}): pass another --work, or start again "
                        "without --resume and --report_only")  # fmt: skip
    if not args.report_only:
        timings["config"] = config
        save_timings()
        sh(["datasets/make_shapes_dataset.py", "--out", data, *data_flags, "--seed", "0"], log)  # deterministic, seconds
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
                key = f"{name}_s{seed}"  # in timings.json once the run has finished training
                finished = key in timings and (work / "checkpoints" / key / "latest_net_G_A.pth").is_file()
                if not isinstance(train_flags, str) and not (args.resume and finished):
                    timings.pop(key, None)  # a run stopped during training is not kept by --resume
                    save_timings()
                    timings[key] = sh(train_cmd, log)
                    save_timings()
                sh(test_cmd, log)
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
        f"Data: `{' '.join(data_flags)}` (the demo's instances, more of them per image). Budget, the same for every run: "
        f"`{' '.join(networks + budget)}` (the demo's networks). Mean ± standard deviation over {args.seeds} training "
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
    cli.run(main)
