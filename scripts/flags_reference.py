"""Write docs/flags.md: the --help of every command, so that the flag reference is what the commands say.

    python scripts/flags_reference.py            # rewrites docs/flags.md
    python scripts/flags_reference.py --check    # exit 1 if docs/flags.md differs from what the commands say now

Run it after adding or changing a flag; tests/test_docs.py checks that the reference lists every flag.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# (command line, what it is); the model's and the data set's flags join train.py's and test.py's help
COMMANDS = [
    (["train.py"], "training InstaGAN (`--model insta_gan`, the default)"),
    (["train.py", "--model", "cycle_gan"], "training the CycleGAN baseline: its model options"),
    (["train.py", "--model", "cycle_gan_seg"], "training the CycleGAN + Seg baseline (masks as channels): its model options"),
    (["test.py"], "translating a data split"),
    (["test.py", "--dataset_mode", "single_seg"], "translating one folder: its data set options"),
    (["translate.py"], "translating your own photos"),
    (["evaluate.py"], "scoring a results folder"),
    (["export.py"], "exporting generators (ONNX, safetensors)"),
    (["datasets/generate_coco_dataset.py"], "the COCO builder"),
    (["datasets/generate_mhp_dataset.py"], "the LV-MHP v1 builder"),
    (["datasets/generate_ccp_dataset.py"], "the CCP builder"),
    (["datasets/make_shapes_dataset.py"], "the shapes data set"),
    (["datasets/make_masks.py"], "masks for plain photos"),
    (["scripts/benchmark_shapes.py"], "the shapes benchmarks"),
    (["scripts/benchmark_demo.py"], "the demo over many seeds"),
    (["scripts/benchmark_speed.py"], "speed and memory"),
]


def help_text(command: list[str]) -> str:
    env = dict(os.environ, COLUMNS="110")  # the same line width on every machine
    out = subprocess.run([sys.executable, str(ROOT / command[0]), *command[1:], "--help"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return out.rstrip() + "\n"


def reference() -> str:
    parts = [
        "# Flags",
        "",
        "Every command's `--help`, written by `python scripts/flags_reference.py` (a test checks that it is current).",
        "",
    ]
    for command, what in COMMANDS:
        shown = " ".join(["python", *command, "--help"])
        parts += [f"## {what}", "", f"`{shown}`", "", "```text", help_text(command).rstrip(), "```", ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare with docs/flags.md")
    parser.add_argument("--out", default=str(ROOT / "docs" / "flags.md"), help="the file to write")
    args = parser.parse_args(argv)
    text, out = reference(), Path(args.out)
    if args.check:
        if not out.is_file() or out.read_text() != text:
            print(f"{out} is not what the commands say now: run python scripts/flags_reference.py", file=sys.stderr)
            return 1
        return 0
    out.write_text(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
