"""The demo over many seeds: runs scripts/demo_shapes.sh once per seed, one at a time, and writes the table of its
targets per seed (with the time each run took) into its section of docs/benchmarks.md.

    python scripts/benchmark_demo.py --seeds 10-19            # the held-out seeds the demo's claims are made on
    python scripts/benchmark_demo.py --seeds 0-9 --section demo_tuning   # the seeds its recipe was chosen on
    python scripts/benchmark_demo.py --seeds 10-19 --resume   # after a stop: keeps the seeds that finished

Each seed draws its own data set and trains its own run (DEMO_SEED). Time the runs alone: another job on the same
cores slows them down (a record marked "shared_cpu": true in <work>/records.json keeps its scores, not its time).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import benchmark_shapes
import benchmark_speed
import demo_shapes as demo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from instagan.util import cli  # noqa: E402
from instagan.util.cli import UserError  # noqa: E402

COLUMNS = {  # demo.json's values (the targets and what is shown beside them), and how the table names them
    "classification_score": "classification",
    "judged_neither": "judged neither",
    "mask_iou": "mask IoU",
    "instance_psnr": "instance PSNR (dB)",
    "background_psnr": "background PSNR (dB)",
    "realism.instances": "realism of instances",
    "realism.backgrounds": "realism of backgrounds",
}


def seeds(text: str) -> list[int]:
    """``10-19`` or ``0,3,5``."""
    if "-" in text:
        low, high = text.split("-", 1)
        return list(range(int(low), int(high) + 1))
    return [int(s) for s in text.split(",")]


def run_seed(seed: int, work: Path, quick: bool) -> dict:
    """One demo run: its demo.json, with the wall-clock seconds of the whole command."""
    env = dict(os.environ, DEMO_SEED=str(seed), DEMO_DATA=str(work / f"data_s{seed}"), DEMO_NAME=f"demo_s{seed}",
               DEMO_CHECKPOINTS=str(work / "checkpoints"), DEMO_RESULTS=str(work / "results"),
               DEMO_QUICK="1" if quick else "0")  # fmt: skip
    log = work / f"demo_s{seed}.log"
    start = time.time()
    with log.open("w") as out:
        done = subprocess.run(["bash", str(ROOT / "scripts" / "demo_shapes.sh")], cwd=ROOT, env=env, stdout=out,
                              stderr=subprocess.STDOUT)  # fmt: skip
    if done.returncode:
        raise UserError(f"the demo of seed {seed} failed (exit status {done.returncode}): its output is in {log}")
    record = json.loads((work / "results" / f"demo_s{seed}" / demo.FOLDER / "demo.json").read_text())
    return {**record, "wall": round(time.time() - start, 1)}


def table(records: list[dict]) -> list[str]:
    """One row per seed: time, pace, each value (in bold where it misses its target: the targets as they are now, so
    that records made before a target moved are judged by it), whether all targets are met."""
    shown = [key for key in COLUMNS if any(key in r["values"] for r in records)]
    header = ["seed", "time", "training pace (batches/s)"]
    for key in shown:
        header.append(f"{COLUMNS[key]} ({' '.join(map(str, demo.TARGETS[key]))})" if key in demo.TARGETS else COLUMNS[key])
    header.append("all met")
    return ["| " + " | ".join(header) + " |", "|---" * len(header) + "|", *(row(r, shown) for r in records)]


def met(record: dict) -> bool:
    """Whether a demo run met every target as they are now."""
    return all(demo.meets(key, record["values"].get(key)) for key in demo.TARGETS)


def row(record: dict, shown: list[str]) -> str:
    minutes, seconds = divmod(round(record["wall"]), 60)
    timed = not record.get("shared_cpu")  # a run that shared the CPU with another job: its scores stand, its time not
    cells = [str(record["seed"]), f"{minutes} min {seconds:02d} s" if timed else "(shared CPU)",
             f"{record['pace']:.2f}" if timed else "-"]  # fmt: skip
    for key in shown:
        value = record["values"].get(key)
        text = "-" if value is None else f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
        cells.append(f"**{text}**" if key in demo.TARGETS and not demo.meets(key, value) else text)
    cells.append("yes" if met(record) else "**no**")
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="10-19", help="seeds to run: 10-19 or 0,3,5")
    parser.add_argument("--section", default="demo", help="the section of --out to write (<!-- <section> table -->)")
    parser.add_argument("--work", default="benchmark_runs_demo", help="folder for the runs' data, checkpoints, results")
    parser.add_argument("--out", default="docs/benchmarks.md", help="the report whose section is written")
    parser.add_argument("--resume", action="store_true", help="keep the seeds that finished in --work")
    parser.add_argument("--quick", action="store_true", help="the demo's smoke settings: checks the pipeline only")
    args = parser.parse_args(argv)
    work = ROOT / args.work
    work.mkdir(parents=True, exist_ok=True)
    records_file = work / "records.json"
    records = json.loads(records_file.read_text()) if args.resume and records_file.is_file() else {}
    for seed in seeds(args.seeds):
        if str(seed) in records:
            continue
        print(f"== seed {seed}", flush=True)
        records[str(seed)] = run_seed(seed, work, args.quick)
        records_file.write_text(json.dumps(records, indent=1) + "\n")
        print(f"   {records[str(seed)]['wall']} s, all targets met: {met(records[str(seed)])}", flush=True)
    chosen = [records[str(s)] for s in seeds(args.seeds)]
    walls = [r["wall"] for r in chosen if not r.get("shared_cpu")]
    passed = sum(met(r) for r in chosen)
    shared = [str(r["seed"]) for r in chosen if r.get("shared_cpu")]
    timed = f"in {min(walls) / 60:.1f} to {max(walls) / 60:.1f} minutes" if walls else "none of them timed alone"
    seeds_word = "seeds" if len(shared) > 1 else "seed"
    text = [
        f"Measured by `python scripts/benchmark_demo.py --seeds {args.seeds}"
        f"{' --section ' + args.section if args.section != 'demo' else ''}{' --quick' if args.quick else ''}` on "
        f"{benchmark_speed.machine('cpu')}, each seed's `bash scripts/demo_shapes.sh` in turn: **{passed} of {len(chosen)} "
        f"seeds meet every target**, {timed} each alone (A -> B; a missed target in bold)."
        + (f" The time of {seeds_word} {', '.join(shared)} is left out: other work shared the CPU then (\"shared_cpu\" in "
           "its record)." if shared else ""),
        "",
        *table(chosen),
        "",
    ]
    out = ROOT / args.out
    benchmark_shapes.write_section(out, args.section, text)
    print("\n".join(text))
    return out


if __name__ == "__main__":
    cli.run(main)
