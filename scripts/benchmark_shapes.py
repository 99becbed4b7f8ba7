"""The shapes benchmarks: InstaGAN, its ablations and CycleGAN on the built-in shapes data, several seeds each, scored
by evaluate.py; each suite writes its tables (mean ± standard deviation over the seeds) into its own section of
docs/benchmarks.md and a page that shows the runs' translations of a few test images side by side.

    python scripts/benchmark_shapes.py --seeds 3                        # the ablation suite
    python scripts/benchmark_shapes.py --suite sequential --seeds 3     # the sequential mini-batch suite
    python scripts/benchmark_shapes.py --suite paper --seeds 3          # sequential training as the paper ran it
    python scripts/benchmark_shapes.py --suite paper --rows seq_pass_8  # some rows (and the runs they test)
    python scripts/benchmark_shapes.py --seeds 3 --resume               # after a stop: keeps what is done
    python scripts/benchmark_shapes.py --quick                          # a smoke run of the whole pipeline

ablation (1 to 3 instances per training image, up to 8 per test image, 48x48; the training seed changes per seed):
- instagan:               trained with --ins_max 4 --ins_per 2, tested sequentially (--ins_max 8 --ins_per 2)
- instagan_noctx:         the same with --lambda_ctx 0
- instagan_random_order:  the same with --set_order random (the instances of a step drawn in random order, in
                          training and test; the default takes the largest first)
- instagan_onestep:       trained with --ins_per 4 (= --ins_max) and tested in one step (--ins_max 8 --ins_per 8)
- instagan_tested_onestep: the instagan run, tested in one step (--ins_max 8 --ins_per 8)
- cycle_gan:              --model cycle_gan on the images alone
- cycle_gan_2x:           the same with about twice InstaGAN's parameters (--ngf 11 --ndf 21: G 2.05x, D 1.95x)
- cycle_gan_seg:          CycleGAN + Seg, the paper's architecture baseline: --model cycle_gan_seg (the masks as 8
                          channels, no set structure) with about twice InstaGAN's parameters (G 2.10x, D 1.96x)

sequential (the paper's ablation of sequential mini-batches at equal memory per pass: 4 to 8 instances per image,
apart from each other, 64x64; every training run gets about the same number of updates):
- one_one:  trained One (--ins_max 2 --ins_per 2: a pass holds 2 instances, the largest), tested One (the 2 largest;
            the others stay as they are)
- one_seq:  the one_one run tested Seq (--ins_max 8 --ins_per 2: every instance, 2 per step)
- seq_one:  the seq_seq run tested One
- seq_seq:  trained Seq (--ins_max 8 --ins_per 2: every instance, 2 per pass, each pass one update), tested Seq
- one_pass: every instance in one pass (--ins_max 8 --ins_per 8) in training and test: 4 times the memory per pass;
            a reference row, seed 0 only (it costs two other runs' time)

paper (sequential training at the paper's basis: equal memory per pass and equal epochs; 4 instances per training
image, 64x64): two training runs, One (--ins_max 2 --ins_per 2: the 2 largest instances, one pass) and Seq (--ins_max 4
--ins_per 2: all 4, two passes of 2, each an update), for the same epochs; each tested three ways, One (--ins_max 2
--ins_per 2), Seq (--ins_max 8 --ins_per 2) and in one pass (--ins_max 8 --ins_per 8, the paper's One inference), on
three test sets: 4 instances per image (as trained), 8 (more than training saw) and 1 or 2 (few). Rows
<trained>_<tested>_<test set>, e.g. seq_pass_8.

Every suite also scores its training rows at every saved epoch (--save_epoch_freq: train.py's default 5, the paper
suite's 3, the sequential suite's Seq row 1): their learning curves against epochs, updates and training seconds go to
images/<suite>_curves.svg beside the report.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import benchmark_speed
import demo_shapes as demo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from instagan.reporting import page, plot  # noqa: E402
from instagan.reporting.results import read_manifest  # noqa: E402
from instagan.util import cli, file_set  # noqa: E402
from instagan.util.cli import UserError  # noqa: E402
from instagan.util.files import atomic_write_text  # noqa: E402


@dataclass
class Run:
    """A row of a suite: the training flags (or the name of the run whose weights it tests) and the test flags."""

    train: list[str] | str
    test: list[str]
    label: str = ""
    epochs: list[str] = field(default_factory=list)  # --niter, --niter_decay (--save_epoch_freq) where the budget's do not fit
    seeds: int | None = None  # at most this many seeds (a reference row that costs several others' time)
    test_set: str = ""  # tested on this test set of the suite (``Suite.test_sets``), not on its own data's test split

    def trained(self, name: str) -> str:
        return self.train if isinstance(self.train, str) else name


@dataclass
class Suite:
    data: list[str]  # make_shapes_dataset.py's flags
    size: list[str]
    budget: list[str]  # train.py's flags of every run (a run's own flags come after, and win)
    runs: dict[str, Run]
    metrics: tuple[str, ...]
    title: str
    work: str  # the default --work folder
    quick_data: list[str] = field(default_factory=lambda: list(demo.QUICK_DATA))
    memory: bool = False  # measure each training run's activation memory per pass
    steps: bool = False  # scores per sequential step
    curves: bool = False  # score the training rows at every saved epoch too (the budget's --save_epoch_freq)
    evaluate: list[str] = field(default_factory=list)  # evaluate.py's flags for this suite
    # more test splits: a name -> the data's flags that change (a data set of its own, the same seed), full and quick
    test_sets: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)


SEQ4, SEQ8 = ["--ins_max", "4", "--ins_per", "2"], ["--ins_max", "8", "--ins_per", "2"]
ONE_STEP8 = ["--ins_max", "8", "--ins_per", "8"]
ONE, SEQ, ONE_PASS = ["--ins_max", "2", "--ins_per", "2"], SEQ8, ONE_STEP8
TWICE = ["--ngf", "11", "--ndf", "21"]  # CycleGAN's networks at about twice the parameters of InstaGAN's at ngf = ndf = 8
SIZE64 = ["--loadSizeH", "64", "--loadSizeW", "64", "--fineSizeH", "64", "--fineSizeW", "64"]
PAPER_TRAIN = {"one": ONE, "seq": SEQ4}
PAPER_TEST = {"one": (ONE, "One"), "seq": (SEQ, "Seq"), "pass": (ONE_PASS, "in one pass")}
PAPER_SETS = {"4": ([], []), "8": (["--test_min_instances", "8", "--test_max_instances", "8"],
                                   ["--test_min_instances", "6", "--test_max_instances", "6"]),
              "few": (["--test_min_instances", "1", "--test_max_instances", "2"],
                      ["--test_min_instances", "1", "--test_max_instances", "2"])}  # fmt: skip


def paper_runs() -> dict[str, Run]:
    """The paper suite's rows: each training run (its own row, tested Seq on 4 instances) tested every way on every
    test set."""
    runs = {}
    for test_set in PAPER_SETS:
        for trained, train in PAPER_TRAIN.items():
            for tested, (test, how) in PAPER_TEST.items():
                first = (tested, test_set) == ("seq", "4")  # the row that trains
                label = f"trained {'One' if trained == 'one' else 'Seq'}, tested {how}, {test_set} per image"
                weights = train if first else f"{trained}_seq_4"
                runs[f"{trained}_{tested}_{test_set}"] = Run(weights, test, label, test_set="" if test_set == "4" else test_set)
    return runs


SUITES = {
    "ablation": Suite(
        # the demo's instances, but 1 to 3 per training image (so that sequential training takes two steps on most
        # batches) and up to 8 per test image; the demo's networks for 7 + 6 epochs (1,170 batches)
        data=[
            "--size",
            "48",
            "--train",
            "360",
            "--test",
            "120",
            "--max_instances",
            "3",
            "--instances",
            "mono",
            "--sides",
            "0.2",
            "0.45",
            "--test_max_instances",
            "8",
        ],  # fmt: skip
        size=demo.SIZE,
        budget=["--batch_size", "4", "--niter", "7", "--niter_decay", "6", "--lr", "0.0005"],
        runs={
            "instagan": Run(SEQ4, SEQ8),
            "instagan_noctx": Run([*SEQ4, "--lambda_ctx", "0"], SEQ8),
            "instagan_random_order": Run([*SEQ4, "--set_order", "random"], [*SEQ8, "--set_order", "random"]),
            "instagan_onestep": Run(["--ins_max", "4", "--ins_per", "4"], ONE_STEP8),
            "instagan_tested_onestep": Run("instagan", ONE_STEP8),
            "cycle_gan": Run(["--model", "cycle_gan"], ["--model", "cycle_gan"]),
            "cycle_gan_2x": Run(["--model", "cycle_gan", *TWICE], ["--model", "cycle_gan"]),
            "cycle_gan_seg": Run(["--model", "cycle_gan_seg", "--seg_slots", "8", *TWICE], ["--model", "cycle_gan_seg"]),
        },
        metrics=("classification_score", "judged_neither", "mask_iou", "mask_agreement", "instance_psnr", "background_psnr",
                 "realism.instances", "mask_shape_accuracy", "context_error"),
        title="InstaGAN, its ablations and CycleGAN",
        work="benchmark_runs",
        quick_data=[*demo.QUICK_DATA, "--test_max_instances", "8"],
        memory=True,
        curves=True,
    ),
    "sequential": Suite(
        # 4 to 8 instances of 12 to 19 pixels per 64x64 image, a pixel apart: none hides another. Every training run
        # gets about 1,000 updates: One and one_pass one per batch (6 + 5 epochs of 90 batches), Seq one per step of
        # 2 instances, about 3.9 per batch (2 + 1 epochs)
        data=[
            "--size",
            "64",
            "--train",
            "360",
            "--test",
            "120",
            "--min_instances",
            "4",
            "--max_instances",
            "8",
            "--apart",
            "--instances",
            "mono",
            "--sides",
            "0.2",
            "0.3",
        ],  # fmt: skip
        size=SIZE64,
        budget=["--batch_size", "4", "--niter", "6", "--niter_decay", "5", "--lr", "0.0005"],
        runs={
            "one_one": Run(ONE, ONE, "trained One, tested One"),
            "one_seq": Run("one_one", SEQ, "trained One, tested Seq"),
            "seq_one": Run("seq_seq", ONE, "trained Seq, tested One"),
            "seq_seq": Run(SEQ, SEQ, "trained Seq, tested Seq",
                           epochs=["--niter", "2", "--niter_decay", "1", "--save_epoch_freq", "1"]),  # 3 points on its curve
            "one_pass": Run(ONE_PASS, ONE_PASS, "every instance in one pass: 3.1x the memory; seed 0 only", seeds=1),
        },
        metrics=("classification_score", "judged_neither", "mask_iou", "instance_psnr", "background_psnr", "realism.instances",
                 "instances_translated"),
        title="Sequential mini-batches at equal memory per pass",
        work="benchmark_runs_sequential",
        quick_data=[
            "--size",
            "32",
            "--train",
            "8",
            "--test",
            "4",
            "--min_instances",
            "3",
            "--max_instances",
            "5",
            "--apart",
            "--instances",
            "mono",
        ],  # fmt: skip
        memory=True,
        steps=True,
        curves=True,
    ),
    "paper": Suite(
        # 4 instances of 12 to 19 pixels per 64x64 training image, a pixel apart; One and Seq for the same epochs
        # (6 + 5 of 90 batches): One makes one update per batch, Seq two (a step of 2 instances each)
        data=["--size", "64", "--train", "360", "--test", "120", "--min_instances", "4", "--max_instances", "4",
              "--apart", "--instances", "mono", "--sides", "0.2", "0.3"],  # fmt: skip
        size=SIZE64,
        budget=["--batch_size", "4", "--niter", "6", "--niter_decay", "5", "--lr", "0.0005", "--save_epoch_freq", "3"],
        runs=paper_runs(),
        metrics=("classification_score", "judged_neither", "mask_iou", "instance_psnr", "background_psnr",
                 "instances_translated"),  # fmt: skip
        title="Sequential training at the paper's basis: equal memory per pass, equal epochs",
        work="benchmark_runs_paper",
        quick_data=["--size", "32", "--train", "8", "--test", "4", "--min_instances", "4", "--max_instances", "4",
                    "--apart", "--instances", "mono", "--sides", "0.15", "0.2"],  # fmt: skip
        memory=True,
        steps=True,
        curves=True,
        evaluate=["--realism_splits", "0"],  # realism is not in its tables: 24 scorings a seed, without it
        test_sets={name: flags for name, flags in PAPER_SETS.items() if flags[0]},
    ),
}


def sh(args: list, log) -> float:
    log.write("$ python " + " ".join(shlex.quote(str(a)) for a in args) + "\n")
    log.flush()
    start = time.time()
    done = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode:
        raise UserError(f"{args[0]} failed (exit status {done.returncode}): its output is at the end of {log.name}")
    return time.time() - start


def mean_std(values: list[float | None], digits: int = 3) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def activation_megabytes(train_cmd: list) -> float:
    """The peak memory that autograd holds for backward during a training step of ``train_cmd``'s configuration, on
    a batch of the data set's images with the most instances, in MiB (see scripts/pass_memory.py)."""
    flags = [str(a) for a in train_cmd[1:] if str(a) != "--overwrite"]
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "pass_memory.py"), *flags], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return float(out.strip().splitlines()[-1].split()[0])


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
                for role in ("translated", "steps", "translated_masks"):
                    if role in sample.images:
                        images.append(run_folder / sample.images[role])
                        labels.append(name + {"translated": "", "steps": " steps", "translated_masks": " masks"}[role])
            names = []
            for image, label in zip(images, labels):
                target = f"{stem}_{direction[0]}{direction[-1]}_{label.replace(' ', '_')}.png"
                (doc.img_dir / target).write_bytes(image.read_bytes())
                names.append(target)
            doc.add_header(f"{stem} ({direction})")
            doc.add_images(names, labels, names, width=128)
    return doc.save()


def write_section(out: Path, suite: str, lines: list[str]) -> None:
    """Replace the suite's section of the report (between its markers), or add it at the end; the rest of the report
    (the readings written by hand) stays as it is."""
    begin, end = f"<!-- {suite} table -->", f"<!-- end of {suite} table -->"
    block = "\n".join([begin, *lines, end])
    text = out.read_text() if out.is_file() else "# Benchmarks on the built-in shapes data set\n"
    if begin in text and end in text:
        text = text.split(begin, 1)[0] + block + text.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    atomic_write_text(out, text)


def _value(report: dict, direction: str, metric: str) -> float | None:
    """A metric's value in a metrics.json report; ``realism.instances`` names one of its realism tests."""
    found = report["directions"].get(direction) or {}
    for key in metric.split("."):
        found = found.get(key) or {}
    return found.get("value")


def _step_value(report: dict, direction: str, step: str) -> float | None:
    by_step = (report["directions"].get(direction) or {}).get("by_step", {})
    return ((by_step.get(step) or {}).get("classification_score") or {}).get("value")



def scoring_changed(folder: Path) -> float:
    """When the scores of a results folder last went out of date: its test pass, or the scoring code, changed."""
    code = [ROOT / "evaluate.py", *(ROOT / "evaluation").glob("*.py")]
    return max(path.stat().st_mtime for path in [folder / "results.json", *code])


def overridden(flags: list[str], own: list[str]) -> list[str]:
    """``flags`` (pairs of flag and value) without the flags that ``own`` sets again: each flag once in a command."""
    mine = {f for f in own if f.startswith("--")}
    return [x for i in range(0, len(flags), 2) if flags[i] not in mine for x in flags[i : i + 2]]

def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", choices=sorted(SUITES), default="ablation", help="which benchmark (see above)")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per run (0, 1, ...)")
    parser.add_argument("--work", help="folder for data, checkpoints and results (default: benchmark_runs[_<suite>])")
    parser.add_argument("--out", default="docs/benchmarks.md", help="the report whose section of the suite is written")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the pipeline, not the method")
    parser.add_argument("--rows", help="only these rows of the suite (comma-separated), with the runs that train their "
                        "weights")  # fmt: skip
    parser.add_argument("--report_only", action="store_true", help="re-run evaluate.py on the saved results and rewrite")
    parser.add_argument("--resume", action="store_true", help="keep the runs in --work that finished training (same config), "
                        "their test passes, and their scores unless evaluate.py or evaluation/ changed since")
    args = parser.parse_args(argv)
    suite = chosen(SUITES[args.suite], args.rows)
    work = ROOT / (args.work or suite.work)
    out_file = ROOT / args.out
    work.mkdir(parents=True, exist_ok=True)
    data = work / "shapes"
    quick = args.quick
    networks = demo.QUICK["networks"] if quick else demo.NETWORKS
    budget = demo.QUICK["budget"] if quick else suite.budget
    size = demo.QUICK["size"] if quick else suite.size
    data_flags = suite.quick_data if quick else suite.data
    test_sets = {name: flags[1 if quick else 0] for name, flags in suite.test_sets.items()}
    config = [*data_flags, *networks, *size, *budget]  # what every run shares: runs of another are never mixed in
    config += [f"{name}: {' '.join(flags)}" for name, flags in test_sets.items()]
    keep = args.report_only or args.resume
    log = (work / "benchmark.log").open("a" if keep else "w")
    timings_file = work / "timings.json"
    timings = json.loads(timings_file.read_text()) if keep and timings_file.is_file() else {}

    def save_timings() -> None:
        atomic_write_text(timings_file, json.dumps(timings))

    if keep and set(timings) - {"config", "shared_cpu"} and timings.get("config") != config:
        recorded = " ".join(timings.get("config", [])) or "not recorded"
        raise UserError(f"{work} holds runs of another configuration ({recorded}): pass another --work, or start again "
                        "without --resume and --report_only")  # fmt: skip
    if not args.report_only:
        timings["config"] = config
        save_timings()
        sh(["datasets/make_shapes_dataset.py", "--out", data, *data_flags, "--seed", "0"], log)  # deterministic, seconds
        for test_set, flags in test_sets.items():
            sh(["datasets/make_shapes_dataset.py", "--out", work / f"shapes_{test_set}", *data_flags, *flags, "--seed", "0"], log)
    # one judge for the suite's data and its test sets (the same training split), trained once
    evaluate_flags = ["--fid", "none", "--cache", data / "domain_classifier.pth", *(demo.QUICK["evaluate"] if quick else []),
                      *suite.evaluate]  # fmt: skip
    reports: dict[str, list[dict]] = {name: [] for name in suite.runs}
    curve: dict[str, dict[int, list[dict]]] = {}  # training row -> seed -> its scores at each saved epoch
    commands, folders = [], {}
    in_order = sorted(suite.runs.items(), key=lambda item: isinstance(item[1].train, str))  # the trained runs first
    for seed in range(args.seeds):
        for name, run in in_order:
            if run.seeds is not None and seed >= run.seeds:
                continue
            trained = run.trained(name)
            own = suite.runs[trained].train  # the flags of the run that trained the weights (a list: trained ones)
            nets = overridden(networks, own if isinstance(own, list) else [])  # test.py reads the rest from the run
            common = ["--dataroot", data, "--checkpoints_dir", work / "checkpoints", "--gpu_ids", "-1", *nets]
            train_flags = [] if isinstance(run.train, str) else training_flags(run, quick)
            train_cmd = ["train.py", *common, "--name", f"{trained}_s{seed}", *size, *overridden(budget, train_flags),
                         *train_flags, "--display_id",
                         "0", "--num_threads", "1", "--print_freq", "100000", "--seed", seed, "--overwrite"]  # fmt: skip
            test_data = ["--dataroot", work / f"shapes_{run.test_set}"] if run.test_set else []  # wins over common's
            test_cmd = ["test.py", *common, *test_data, "--name", f"{trained}_s{seed}", *size, *run.test, "--results_dir",
                        work / "results" / name, "--batch_size", "4", "--num_test", "1000", "--overwrite"]  # fmt: skip
            folder = work / "results" / name / f"{trained}_s{seed}" / "test_latest"
            if not args.report_only:
                key = f"{name}_s{seed}"  # in timings.json once the run has finished training
                finished = key in timings and (work / "checkpoints" / key / "latest_net_G_A.pth").is_file()
                if not isinstance(run.train, str) and not (args.resume and finished):
                    timings.pop(key, None)  # a run stopped during training is not kept by --resume
                    timings.pop(f"{key}_memory", None)
                    save_timings()
                    seconds = sh(train_cmd, log)
                    log.flush()
                    updates = re.findall(r"done: (\d+) updates", (work / "benchmark.log").read_text())
                    timings[f"{key}_updates"] = int(updates[-1]) if updates else None
                    timings[key] = seconds
                    save_timings()
                if not isinstance(run.train, str) and suite.memory and timings.get(f"{key}_memory") is None:
                    timings[f"{key}_memory"] = activation_megabytes(train_cmd)  # (also of runs kept from before)
                    save_timings()
                weights = work / "checkpoints" / f"{trained}_s{seed}" / "latest_net_G_A.pth"
                tested, command = folder / "results.json", " ".join(map(str, test_cmd))
                same = timings.get(f"{name}_s{seed}_test", command) == command  # the same test.py command as then
                if not (args.resume and same and tested.is_file() and tested.stat().st_mtime > weights.stat().st_mtime):
                    sh(test_cmd, log)  # (--resume keeps a test pass of the same weights and flags: it is deterministic)
                    timings[f"{name}_s{seed}_test"] = command
                    save_timings()
            scores = folder / "metrics.json"
            if not (args.resume and scores.is_file() and scores.stat().st_mtime > scoring_changed(folder)):
                sh(["evaluate.py", "--results", folder, *evaluate_flags], log)  # (--resume keeps scores still current)
            reports[name].append(json.loads((folder / "metrics.json").read_text()))
            folders.setdefault(name, folder)
            if suite.curves and not isinstance(run.train, str):
                checkpoints = work / "checkpoints" / f"{trained}_s{seed}"
                points = curve.setdefault(name, {})
                for tag, state in epoch_states(checkpoints):
                    if tag != "latest":
                        epoch_folder = folder.with_name(f"test_{tag}")
                        if not args.report_only:
                            epoch_test, key = [*test_cmd, "--epoch", tag], f"{name}_s{seed}_test_{tag}"
                            command, tested = " ".join(map(str, epoch_test)), epoch_folder / "results.json"
                            if not (args.resume and timings.get(key) == command and tested.is_file()
                                    and tested.stat().st_mtime > state.stat().st_mtime):  # fmt: skip
                                sh(epoch_test, log)
                                timings[key] = command
                                save_timings()
                        scores = epoch_folder / "metrics.json"
                        if not (args.resume and scores.is_file() and scores.stat().st_mtime > scoring_changed(epoch_folder)):
                            sh(["evaluate.py", "--results", epoch_folder, *evaluate_flags], log)
                    report = json.loads(((folder if tag == "latest" else epoch_folder) / "metrics.json").read_text())
                    points.setdefault(seed, []).append(curve_point(state, report))
            if seed == 0:
                commands += ["python " + " ".join(map(str, c)).replace(f"{ROOT}/", "") for c in
                             ([train_cmd] if not isinstance(run.train, str) else []) + [test_cmd]]  # fmt: skip
    lines = tables(suite, reports, timings, args.seeds, budget, quick)
    if curve:
        picture = out_file.parent / "images" / f"{args.suite}_curves.svg"
        picture.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(picture, curves_svg(curve, suite))
        lines += [f"Learning curves (each training row tested as in its row, at every saved epoch; bold: the mean over the "
                  f"seeds, faint: each seed): "
                  f"![learning curves]({picture.relative_to(out_file.parent).as_posix()})", ""]  # fmt: skip
    judge = next(iter(reports.values()))[0]["classifier"]["accuracy_real"]
    compare = comparison_page(work / "compare", folders, [f"{i:05d}" for i in range(4)])
    machine = benchmark_speed.machine("cpu")
    suite_flag = (f" --suite {args.suite}" if args.suite != "ablation" else "") + (f" --rows {args.rows}" if args.rows else "")
    text = [
        f"## {suite.title}",
        "",
        f"Measured by `python scripts/benchmark_shapes.py{suite_flag} --seeds {args.seeds}{' --quick' if quick else ''}` "
        f"on {machine}. Data: `{' '.join(data_flags)}`. Budget, the same for every run unless its flags say otherwise: "
        f"`{' '.join(networks + budget)}`. Mean ± standard deviation over {args.seeds} training seeds; each seed's "
        "numbers come with 95 % bootstrap intervals in its metrics.json.",
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
    ]
    write_section(out_file, args.suite, text)
    print("\n".join(text))
    return out_file


CURVE_METRICS = ("classification_score", "mask_iou")
CURVE_AXES = (("epoch", "epochs"), ("updates", "updates of the generators"), ("seconds", "training seconds"))
PANEL = (440, 240)  # the size of each plot of a learning-curve figure (pixels)
LEGEND_CHAR = 7  # the most a character of its legend takes (pixels, at font-size 11)


def epoch_states(checkpoints: Path) -> list[tuple[str, Path]]:
    """The training states a run saved: each ``<epoch>`` tag in order, then ``latest``; the tag of the last epoch
    (train.py saves it too), which holds the weights of ``latest``, is left out."""
    tags = sorted(int(p.name.split("_")[0]) for p in checkpoints.glob("*_training_state.pth") if p.name.split("_")[0].isdigit())
    last = checkpoints / "latest_training_state.pth"
    done = epochs_done(file_set.load_file(last)) if last.is_file() else None
    return [(str(tag), checkpoints / f"{tag}_training_state.pth") for tag in tags if tag != done] + [("latest", last)]


def epochs_done(saved: dict) -> int:
    """The epochs a loaded training state had finished (its counter holds the next one)."""
    return saved["counters"]["epoch"] - 1


def curve_point(state: Path, report: dict) -> dict:
    """A learning-curve point: the epoch, the updates and the training seconds of a saved state, and the A -> B scores
    of its weights."""
    saved = file_set.load_file(state)
    return {"epoch": epochs_done(saved), "updates": saved["counters"]["updates"],
            "seconds": saved["visualizer"]["seconds"], **{m: _value(report, "A->B", m) for m in CURVE_METRICS}}  # fmt: skip


def curve_means(seeds: dict[int, list[dict]], axis: str, metric: str) -> list[tuple[float, float]]:
    """A row's learning curve: at each saved epoch, the mean over the seeds of ``axis`` and of ``metric`` (epochs
    where a seed has no value of the metric are left out)."""
    by_epoch: dict[int, list[dict]] = {}
    for points in seeds.values():
        for point in points:
            by_epoch.setdefault(point["epoch"], []).append(point)
    return [(statistics.mean(p[axis] for p in group), statistics.mean(p[metric] for p in group))
            for _, group in sorted(by_epoch.items()) if all(p[metric] is not None for p in group)]  # fmt: skip


def curves_svg(curve: dict[str, dict[int, list[dict]]], suite: Suite) -> str:
    """One SVG: a panel per metric and axis (epochs, updates, seconds), a line per training row (its mean over the
    seeds at each saved epoch, each seed's own line faint behind it), and one legend above the panels."""
    names = {name: suite.runs[name].label or name for name in curve}
    looks = plot.styles(list(names.values()))  # one colour per row in every panel, whichever rows a panel has
    panels = []
    for metric in CURVE_METRICS:
        for axis, label in CURVE_AXES:
            lines, faint = {}, {}
            for name, seeds in curve.items():
                means = curve_means(seeds, axis, metric)
                if means:
                    lines[names[name]] = ([x for x, _ in means], [y for _, y in means])
                    own = [[(p[axis], p[metric]) for p in points if p[metric] is not None] for points in seeds.values()]
                    faint[names[name]] = [([x for x, _ in seed], [y for _, y in seed]) for seed in own
                                          if seed and len(seeds) > 1]  # fmt: skip
            if lines:
                panels.append(plot.line_plot_svg(lines, PANEL[0], PANEL[1], title=f"A -> B {metric}", x_label=label,
                                                 points=True, faint=faint, legend=False, looks=looks))  # fmt: skip
    entries, x, top = [], 50, 10
    for name, (colour, dash) in looks.items():
        if x > 50 and x + 28 + LEGEND_CHAR * len(name) > PANEL[0] * len(CURVE_AXES):  # no room left: a line below
            x, top = 50, top + 16
        entries.append(plot.legend_entry(x, top + 6, name, colour, dash and f' stroke-dasharray="{dash}"'))
        x += 28 + LEGEND_CHAR * len(name) + 24
    if any(len(seeds) > 1 for seeds in curve.values()):
        entries.append(f'<text x="50" y="{top + 22}">bold: the mean over the seeds; faint: each seed</text>')
        top += 16
    top += 16
    width, height = PANEL[0] * len(CURVE_AXES), top + PANEL[1] * len(CURVE_METRICS)
    cells = [f'<g transform="translate({PANEL[0] * (i % len(CURVE_AXES))},{top + PANEL[1] * (i // len(CURVE_AXES))})">{svg}</g>'
             for i, svg in enumerate(panels)]  # fmt: skip
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            '<rect width="100%" height="100%" fill="white"/>' + f'<g font-size="11">{"".join(entries)}</g>'
            + "".join(cells) + "</svg>\n")  # fmt: skip


def chosen(suite: Suite, rows: str | None) -> Suite:
    """The suite with only the named rows and the rows that train their weights (``--rows``; None: all)."""
    if rows is None:
        return suite
    names = [name.strip() for name in rows.split(",") if name.strip()]
    unknown = [name for name in names if name not in suite.runs]
    if unknown or not names:
        raise UserError(f"--rows {rows}: no such row ({', '.join(unknown) or 'none named'}); the suite's rows are "
                        f"{', '.join(suite.runs)}")  # fmt: skip
    needed = set(names) | {suite.runs[name].train for name in names if isinstance(suite.runs[name].train, str)}
    return replace(suite, runs={name: run for name, run in suite.runs.items() if name in needed})


def training_flags(run: Run, quick: bool) -> list[str]:
    """The flags of its own that a training row passes to train.py after the suite's budget (--quick: the quick
    budget's epochs, not the row's)."""
    return [*run.train, *([] if quick else run.epochs)]


def epochs(flags: list[str]) -> int:
    """The epochs that train.py flags ask for: --niter plus --niter_decay (each flag's last value; train.py's
    defaults, 100 and 100, where a flag is absent)."""
    value = {flags[i]: int(flags[i + 1]) for i in range(len(flags) - 1) if flags[i] in ("--niter", "--niter_decay")}
    return value.get("--niter", 100) + value.get("--niter_decay", 100)


def tables(suite: Suite, reports: dict[str, list[dict]], timings: dict, seeds: int, budget: list[str],
           quick: bool = False) -> list[str]:  # fmt: skip
    """The suite's tables, per direction: its metrics, per step if it has steps, and each training run's budget
    (``budget``: the flags every run shares; ``quick``: the runs' own epochs left out, as --quick trains them).
    Training times that ``timings["shared_cpu"]`` lists (runs that shared the CPU with other work) are left out."""
    lines = []
    shared = set(timings.get("shared_cpu", []))
    steps = sorted({s for runs in reports.values() for r in runs for d in r["directions"].values()
                    for s in d.get("by_step", {})}, key=lambda s: (not s.isdigit(), s))  # fmt: skip
    for direction in ("A->B", "B->A"):
        extra = ["epochs", "updates", "training time (s)"] + (["activation memory per pass (MiB)"] if suite.memory else [])
        step_columns = [f"step {s}" if s.isdigit() else s for s in steps] if suite.steps else []
        header = ["run", *suite.metrics, *step_columns, *extra]
        lines += [f"### {direction}", "", "| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
        for name, runs in reports.items():
            cells = [name if not suite.runs[name].label else f"{name} ({suite.runs[name].label})"]
            cells += [mean_std([_value(r, direction, m) for r in runs]) for m in suite.metrics]
            cells += [mean_std([_step_value(r, direction, s) for r in runs]) for s in steps] if suite.steps else []
            trained = suite.runs[name].trained(name)
            keys = [f"{trained}_s{s}" for s in range(min(seeds, len(runs)))]
            cells.append(str(epochs([*budget, *training_flags(suite.runs[trained], quick)])))
            for suffix, digits in (("_updates", 0), ("", 0), ("_memory", 1))[: 3 if suite.memory else 2]:
                values = [timings.get(key + suffix) for key in keys]
                alone = [v for key, v in zip(keys, values) if not (suffix == "" and key in shared)]
                if len(alone) < len(values):  # a time measured while other work shared the CPU is left out
                    cells.append(f"{mean_std(alone, digits)} ({len(alone)} of {len(values)} seeds)" if alone else "-")
                else:
                    cells.append(mean_std(values, digits) if all(v is not None for v in values) else "-")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if suite.steps:
        lines += ["Step columns: the classification score of the instances translated in that sequential step (1: the "
                  "first pass, on the source image); not translated: the instances beyond --ins_max, judged as they "
                  "stand in the output.", ""]  # fmt: skip
    return lines


if __name__ == "__main__":
    cli.run(main)
