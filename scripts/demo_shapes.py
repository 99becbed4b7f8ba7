"""The built-in demo: generate the shapes data set (boxes -> discs), train InstaGAN on the CPU, translate the test
split, score it, and say whether the translation met the demo's targets.

    bash scripts/demo_shapes.sh                  # the demo, DEMO_SEED=0
    DEMO_SEED=1 bash scripts/demo_shapes.sh      # another seed: another data set and another training run
    DEMO_QUICK=1 bash scripts/demo_shapes.sh     # a smoke run of the same pipeline in well under a minute

DEMO_DATA, DEMO_NAME, DEMO_CHECKPOINTS and DEMO_RESULTS move its folders; a rerun replaces the demo's run and results.
scripts/benchmark_shapes.py uses its networks and size (its own data and budget); docs/benchmarks.md says why each knob
is set so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from instagan.reporting.results import overview  # noqa: E402

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
# Faster training on the CPU, side by side 1.15x the pace (docs/benchmarks.md): NHWC memory, and the discriminators'
# spectral norm advanced once per call rather than once per instance (the two agree once its vectors have converged).
FAST = ["--channels_last", "--sn_update", "per_call"]
SIZE = ["--loadSizeH", "48", "--loadSizeW", "48", "--fineSizeH", "48", "--fineSizeW", "48"]
TEST = ["--ins_max", "8", "--ins_per", "2"]
TARGETS = {"classification_score": (">=", 0.9), "mask_shape_accuracy": (">=", 0.8), "context_error": ("<=", 0.05),
           "instances_kept": (">=", 0.95)}  # fmt: skip
QUICK_DATA = ["--size", "32", "--train", "24", "--test", "6", "--max_instances", "4", "--test_min_instances", "3",
              "--apart", "--instances", "mono"]  # fmt: skip
QUICK = {"networks": ["--ngf", "8", "--ndf", "8", "--n_blocks", "1"], "budget": ["--batch_size", "4", "--niter", "1",
         "--niter_decay", "0"], "size": ["--loadSizeH", "32", "--loadSizeW", "32", "--fineSizeH", "32", "--fineSizeW", "32"],
         "evaluate": ["--classifier_steps", "20", "--classifiers", "2"]}  # fmt: skip


def step(title: str, script: str, *args: object) -> None:
    print(f"== {title}", flush=True)
    subprocess.run([sys.executable, str(ROOT / script), *map(str, args)], cwd=ROOT, check=True)


def verdict(report: dict) -> list[str]:
    """One line per target: the value, its interval and whether the A -> B translation met it."""
    lines = []
    scores = report["directions"]["A->B"]
    for name, (sign, target) in TARGETS.items():
        value = (scores.get(name) or {}).get("value")
        met = value is not None and (value >= target if sign == ">=" else value <= target)
        ci = scores[name]["ci95"] if value is not None else None
        lines.append(f"  {name}: {value} {ci} (target {sign} {target}): {'met' if met else 'NOT met'}")
    steps = [f"step {k}: {v['classification_score']['value']} of {v['instances']} instances"
             for k, v in scores.get("by_step", {}).items()]  # fmt: skip
    if steps:
        lines.append(f"  classification by sequential step (--ins_per 2): {'; '.join(steps)}")
    return lines


def main() -> int:
    env = os.environ
    quick = env.get("DEMO_QUICK", "0") == "1"
    seed = env.get("DEMO_SEED", "0")
    root, name = env.get("DEMO_DATA", "datasets/shapes"), env.get("DEMO_NAME", "shapes_instagan")
    checkpoints, results = env.get("DEMO_CHECKPOINTS", "checkpoints"), env.get("DEMO_RESULTS", "results")
    networks, budget, size = (QUICK["networks"], QUICK["budget"], QUICK["size"]) if quick else (NETWORKS, BUDGET, SIZE)
    dirs = ["--name", name, "--checkpoints_dir", checkpoints, "--gpu_ids", "-1"]
    start = time.time()
    data = QUICK_DATA if quick else DATA
    step("the shapes data set", "datasets/make_shapes_dataset.py", "--out", root, *data, "--seed", seed)
    logging = ["--print_freq", "400", "--display_freq", "400", "--update_html_freq", "800"]
    step("training InstaGAN", "train.py", "--dataroot", root, *dirs, "--overwrite", "--display_id", "0", "--num_threads", "1",
         *size, *networks, *budget, *FAST, *logging, "--seed", seed)  # fmt: skip
    step("translating the test split", "test.py", "--dataroot", root, *dirs, "--overwrite", "--results_dir", results,
         "--batch_size", "4", "--num_test", "1000", *size, *networks, *TEST)  # fmt: skip
    folder = Path(results) / name / "test_latest"
    step("scoring it", "evaluate.py", "--results", folder, "--fid", "none", *(QUICK["evaluate"] if quick else []))
    report = json.loads((ROOT / folder / "metrics.json").read_text())
    picture = overview(ROOT / folder, ROOT / folder / "overview.png", roles=("source", "translated", "steps"))
    minutes, seconds = divmod(round(time.time() - start), 60)
    smoke = " (a smoke run of the pipeline with tiny settings: it is not expected to meet them)" if quick else ""
    print(f"== the demo took {minutes} min {seconds} s (seed {seed}); A -> B against its targets{smoke}:")
    print("\n".join(verdict(report)))
    print(f"training page: {(ROOT / checkpoints / name / 'web' / 'index.html').resolve()}")
    print(f"test results:  {(ROOT / folder / 'index.html').resolve()}")
    print(f"at a glance:   {picture.resolve()} (input, translation, translation with each instance outlined in the colour "
          "of its step: red the first, blue the second)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
