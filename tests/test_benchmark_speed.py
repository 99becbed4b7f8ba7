"""scripts/benchmark_speed.py: its report sections, its --short grid and its --profile, on the CPU."""

import argparse
import re
import subprocess
import sys

import pytest

from scripts import benchmark_speed as bench
from tests.conftest import ROOT


def test_a_section_is_replaced_and_the_other_section_and_the_notes_stay(tmp_path):
    report = tmp_path / "speed.md"
    bench.write_section(str(report), "cpu", ["CPU-ROWS-1"])
    report.write_text(report.read_text() + "hand-written notes\n")
    bench.write_section(str(report), "gpu", ["GPU-ROWS"])
    bench.write_section(str(report), "cpu", ["CPU-ROWS-2"])
    text = report.read_text()
    assert "CPU-ROWS-1" not in text and text.count("CPU-ROWS-2") == 1 and text.count("GPU-ROWS") == 1
    assert text.index("GPU-ROWS") < text.index("CPU-ROWS-2") < text.index(bench.NOTES) < text.index("hand-written notes")


def test_the_short_grid_is_the_paper_size_in_order_of_importance():
    args = argparse.Namespace(small=False, short=True, warmup=2, iters=5)
    grid = bench.configs(args, "cuda")
    assert all(c["size"] == 200 and c["ngf"] == 64 and c["n_blocks"] == 9 for c in grid)
    assert (grid[0]["batch"], grid[0]["precision"]) == (1, "fp32")
    assert {c["ins_max"] for c in grid} == {4, 8, 16} and any(c["compile"] for c in grid)
    assert len(grid) < len(bench.configs(argparse.Namespace(small=False, short=False, warmup=2, iters=5), "cuda"))


@pytest.mark.slow
def test_profile_prints_where_a_training_step_spends_its_time():
    proc = subprocess.run([sys.executable, "scripts/benchmark_speed.py", "--small", "--profile", "fp32"], cwd=ROOT,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("batch 8, fp32") and "aten::convolution_backward" in proc.stdout
    summary = re.search(r"per training step: (\d+) calls .*, (\d+) ms of CPU time: convolution and normalisation kernels "
                        r"(\d+) ms .*, memory-format copies (\d+) ms .*, the other calls (\d+) ms", proc.stdout)  # fmt: skip
    assert summary, proc.stdout[-600:]
    calls, total, heavy, layout, other = map(int, summary.groups())
    assert calls > 1000 and heavy > 0 and abs(heavy + layout + other - total) <= 2  # the parts add up (rounding)


def test_a_profile_of_no_configuration_is_refused_naming_them():
    proc = subprocess.run([sys.executable, "scripts/benchmark_speed.py", "--small", "--profile", "fp32", "--match", "batch 3"],
                          cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 1 and "--match 'batch 3' picks none of: batch 1, fp32, --ins_max 4;" in proc.stderr


@pytest.mark.slow
def test_twins_times_the_step_with_and_without_fused_twins_in_turns(tmp_path):
    """--twins: a row per configuration with both timings and their ratio, in its own section of the report."""
    report = tmp_path / "speed.md"
    proc = subprocess.run([sys.executable, "scripts/benchmark_speed.py", "--small", "--twins", "--rounds", "1", "--warmup", "1",
                           "--match", "batch 4, fp32, --ins_max", "--out", str(report)], cwd=ROOT, capture_output=True,
                          text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    row = re.fullmatch(r"\| batch 4, fp32, --ins_max 4 \| (\d+\.\d{3}) \| (\d+\.\d{3}) \| (\d+\.\d\d)x \|", proc.stdout.strip())
    assert row, proc.stdout
    unfused, fused, ratio = map(float, row.groups())
    assert abs(ratio - unfused / fused) <= 0.01 and 0.2 < ratio < 5
    text = report.read_text()
    assert "## Fused twins, on the CPU at the demo's size" in text and "--twins --rounds 1" in text and row.group(0) in text
