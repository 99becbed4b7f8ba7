"""The built-in demo: generate the shapes data set (boxes -> discs), train InstaGAN on the CPU, translate the test
split, score it, and say whether the translation met the demo's targets.

    bash scripts/demo_shapes.sh                  # the demo, DEMO_SEED=0
    DEMO_SEED=1 bash scripts/demo_shapes.sh      # another seed: another data set and another training run
    DEMO_QUICK=1 bash scripts/demo_shapes.sh     # a smoke run of the same pipeline in well under a minute

DEMO_DATA, DEMO_NAME, DEMO_CHECKPOINTS and DEMO_RESULTS move its folders; a rerun replaces the demo's run and results
(a smoke run has folders of its own: datasets/shapes_quick, shapes_instagan_quick). The results folder gets demo.json:
the seed, the seconds of each part, the training pace and the targets met, which its index.html shows too.
scripts/benchmark_shapes.py uses its networks and size (its own data and budget); docs/benchmarks.md says why each knob
is set so.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from instagan.evaluation.scoring import page_metrics  # noqa: E402
from instagan.reporting.results import overview, read_manifest, write_page  # noqa: E402
from instagan.util.files import atomic_write_text  # noqa: E402

# The data: 48x48 images, boxes (A) and discs (B) all of one light colour on four background materials, each 12 to 19
# pixels high and wide, a pixel apart (none hides another); 1 to 4 per training image and 3 or 4 per test image, so
# that every test image is translated in two sequential steps of --ins_per 2 (and training sees such second steps);
# 120 test images per domain, so that a score moves in steps of 1/120 at most.
DATA = ["--size", "48", "--train", "360", "--test", "120", "--max_instances", "4", "--test_min_instances", "3",
        "--apart", "--instances", "mono", "--sides", "0.25", "0.4"]  # fmt: skip
# The networks and the training budget (900 batches): docs/benchmarks.md says why, and how long they take. Longer
# runs learned the background a little better but drifted off the shapes on 1 or 2 seeds of 10.
NETWORKS = ["--ngf", "8", "--ndf", "8", "--n_blocks", "2"]
BUDGET = ["--batch_size", "4", "--niter", "7", "--niter_decay", "3", "--lr", "0.0008"]
# Faster training on the CPU (docs/speed.md, "The demo's training pace"): NHWC memory, and the discriminators'
# spectral norm advanced once per call rather than once per instance (the two agree once its vectors have converged).
FAST = ["--channels_last", "--sn_update", "per_call"]
# Two departures from the original, both flags (docs/benchmarks.md, "The demo's two departures"): the input's colours
# outside the instances shown to the generator's last layers, and a moving average of its weights, which test.py uses.
DEPARTURES = ["--context_skip", "--ema_decay", "0.995"]
SIZE = ["--loadSizeH", "48", "--loadSizeW", "48", "--fineSizeH", "48", "--fineSizeW", "48"]
TEST = ["--ins_max", "8", "--ins_per", "2", "--ema"]
FOLDER = "test_latest_ema"  # where test.py --ema writes the translations of the last epoch
EVALUATE = ["--realism_splits", "1"]  # realism is reported, not a target: one split of its test (evaluate.py: 3)
# A -> B against the ideal translations (evaluate.py): the judge's verdict (A, B or neither), masks, pixels inside the
# instances and in the background; chosen from seeds 0 to 2 and claimed on seeds 10 to 19 (docs/benchmarks.md)
TARGETS = {"classification_score": (">=", 0.85), "mask_iou": (">=", 0.9), "instance_psnr": (">=", 19.5),
           "background_psnr": (">=", 27.0)}  # fmt: skip
# Reported beside the targets (demo.json, scripts/benchmark_demo.py's table)
SHOWN = [*TARGETS, "judged_neither", "realism.instances", "realism.backgrounds"]
QUICK_DATA = ["--size", "32", "--train", "24", "--test", "6", "--max_instances", "4", "--test_min_instances", "3",
              "--apart", "--instances", "mono"]  # fmt: skip
QUICK = {"networks": ["--ngf", "8", "--ndf", "8", "--n_blocks", "1"], "budget": ["--batch_size", "4", "--niter", "1",
         "--niter_decay", "0"], "size": ["--loadSizeH", "32", "--loadSizeW", "32", "--fineSizeH", "32", "--fineSizeW", "32"],
         "evaluate": ["--classifier_steps", "20", "--classifiers", "2", "--realism_splits", "1"]}  # fmt: skip


def step(title: str, script: str, *args: object) -> float:
    """Run one of the project's scripts; returns how long it took (seconds)."""
    print(f"== {title}", flush=True)
    start = time.time()
    subprocess.run([sys.executable, str(ROOT / script), *map(str, args)], cwd=ROOT, check=True)
    return time.time() - start


def flag(flags: list[str], name: str) -> str:
    return flags[flags.index(name) + 1]


def batches(data: list[str], budget: list[str]) -> int:
    """The training batches of a recipe: its epochs times the batches of an epoch."""
    epochs = int(flag(budget, "--niter")) + int(flag(budget, "--niter_decay"))
    return epochs * math.ceil(int(flag(data, "--train")) / int(flag(budget, "--batch_size")))


def measured(scores: dict, name: str) -> dict:
    """A metric of a direction's scores; ``realism.instances`` names one of its realism tests."""
    found = scores
    for key in name.split("."):
        found = found.get(key) or {}
    return found


def meets(name: str, value: float | None) -> bool:
    """Whether a value meets the target of that name."""
    sign, target = TARGETS[name]
    return value is not None and (value >= target if sign == ">=" else value <= target)


def met(report: dict) -> dict[str, bool]:
    """Whether the A -> B translation met each target."""
    scores = report["directions"]["A->B"]
    return {name: meets(name, measured(scores, name).get("value")) for name in TARGETS}


def verdict(report: dict) -> list[str]:
    """One line per target: the value, its interval (or spread) and whether the A -> B translation met it."""
    lines = []
    scores = report["directions"]["A->B"]
    for name, ok in met(report).items():
        sign, target = TARGETS[name]
        value = measured(scores, name)
        spread = f"[{value['ci95'][0]}, {value['ci95'][1]}]" if "ci95" in value else f"± {value.get('std')}"
        lines.append(f"  {name}: {value.get('value')} {spread} (target {sign} {target}): {'met' if ok else 'NOT met'}")
    steps = [f"step {k}: {v['classification_score']['value']} of {v['instances']} instances"
             for k, v in scores.get("by_step", {}).items()]  # fmt: skip
    if steps:
        lines.append(f"  classification by sequential step (--ins_per 2): {'; '.join(steps)}")
    return lines


def folders(env: Mapping[str, str], quick: bool) -> tuple[str, str, str, str]:
    """The data set, the run's name, the checkpoints and the results folders (``DEMO_*`` move them); a smoke run's data
    and name are its own, so that it never replaces the demo's data, run and results."""
    suffix = "_quick" if quick else ""
    return (env.get("DEMO_DATA", f"datasets/shapes{suffix}"), env.get("DEMO_NAME", f"shapes_instagan{suffix}"),
            env.get("DEMO_CHECKPOINTS", "checkpoints"), env.get("DEMO_RESULTS", "results"))  # fmt: skip


def main() -> int:
    env = os.environ
    quick = env.get("DEMO_QUICK", "0") == "1"
    seed = env.get("DEMO_SEED", "0")
    root, name, checkpoints, results = folders(env, quick)
    networks, budget, size = (QUICK["networks"], QUICK["budget"], QUICK["size"]) if quick else (NETWORKS, BUDGET, SIZE)
    dirs = ["--name", name, "--checkpoints_dir", checkpoints, "--gpu_ids", "-1"]
    start, seconds = time.time(), {}
    data = QUICK_DATA if quick else DATA
    seconds["data"] = step("the shapes data set", "datasets/make_shapes_dataset.py", "--out", root, *data, "--seed", seed)
    logging = ["--print_freq", "400", "--display_freq", "400", "--update_html_freq", "800"]
    seconds["training"] = step("training InstaGAN", "train.py", "--dataroot", root, *dirs, "--overwrite", "--display_id",
                               "0", "--num_threads", "1", *size, *networks, *budget, *FAST, *DEPARTURES, *logging,
                               "--seed", seed)  # fmt: skip
    seconds["test"] = step("translating the test split", "test.py", "--dataroot", root, *dirs, "--overwrite", "--results_dir",
                           results, "--batch_size", "4", "--num_test", "1000", *size, *networks, *TEST)  # fmt: skip
    folder = ROOT / results / name / FOLDER
    seconds["scoring"] = step("scoring it", "evaluate.py", "--results", folder, "--fid", "none",
                              *(QUICK["evaluate"] if quick else EVALUATE))  # fmt: skip
    report = json.loads((folder / "metrics.json").read_text())
    picture = overview(folder, folder / "overview.png", roles=("source", "translated", "steps"))
    seconds["total"] = time.time() - start
    trained = batches(data, budget)
    record = {"seed": int(seed), "quick": quick, "seconds": {k: round(v, 1) for k, v in seconds.items()},
              "batches": trained, "pace": round(trained / seconds["training"], 3), "met": met(report),
              "values": {name: measured(report["directions"]["A->B"], name).get("value") for name in SHOWN},
              "targets": TARGETS}  # fmt: skip
    atomic_write_text(folder / "demo.json", json.dumps(record, indent=1) + "\n")
    title, samples = read_manifest(folder)
    write_page(folder, samples, title, page_metrics(report))  # evaluate.py's page again, now with the targets and picture
    minutes, rest = divmod(round(seconds["total"]), 60)
    smoke = " (a smoke run of the pipeline with tiny settings: it is not expected to meet them)" if quick else ""
    print(f"== the demo took {minutes} min {rest} s (seed {seed}; training {trained} batches at {record['pace']} "
          f"batches/s); A -> B against its targets{smoke}:")  # fmt: skip
    print("\n".join(verdict(report)))
    print(f"{'all' if all(record['met'].values()) else 'not all'} targets met")
    print(f"training page: {(ROOT / checkpoints / name / 'web' / 'index.html').resolve()}")
    print(f"test results:  {(folder / 'index.html').resolve()}")
    print(f"at a glance:   {picture.resolve()} (input, translation, translation with each instance outlined in the colour "
          "of its step: red the first, blue the second)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
