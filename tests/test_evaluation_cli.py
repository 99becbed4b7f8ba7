"""evaluate.py, the CycleGAN baseline and the demo script, through the real command line."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.test_cli import SIZE32, TINY, run


def test_cycle_gan_baseline_trains_tests_and_evaluates(shapes_root, tmp_path):
    ckpt, results = tmp_path / "checkpoints", tmp_path / "results"
    common = ["--model", "cycle_gan", "--dataroot", shapes_root, "--name", "cg", "--checkpoints_dir", ckpt, *TINY]
    train = run("train.py", *common, *SIZE32, "--niter", "1", "--niter_decay", "0", "--display_id", "0", "--print_freq", "2")
    assert "ctx_A" not in train.stdout and "idt_A" in train.stdout
    sizes = ["--loadSizeH", "32", "--loadSizeW", "32", "--fineSizeH", "32", "--fineSizeW", "32"]
    run("test.py", *common, *sizes, "--results_dir", results)
    cache = ["--cache", tmp_path / "clf.pth", "--classifier_steps", "20", "--classifiers", "2", "--fid", "none"]
    evaluate = ["evaluate.py", "--results", results / "cg" / "test_latest", *cache]
    out = run(*evaluate)
    report = json.loads((results / "cg" / "test_latest" / "metrics.json").read_text())
    a_to_b = report["directions"]["A->B"]
    assert a_to_b["images"] == 3 and a_to_b["mask_shape_accuracy"] is None  # no masks to judge
    assert a_to_b["masks_with_specks"] is None
    assert 0 <= a_to_b["classification_score"]["value"] <= 1 and a_to_b["context_error"]["value"] > 0
    assert len(a_to_b["classification_score"]["members"]) == 2 and "classifier_kd" in a_to_b
    lo, hi = a_to_b["context_error"]["ci95"]
    assert lo <= a_to_b["context_error"]["value"] <= hi
    assert "not computed" in report["fid_inception"]
    assert "Metrics" in (results / "cg" / "test_latest" / "index.html").read_text()
    assert "A->B" in out.stdout
    # the classifier is cached: a second run reuses it and rewrites (not duplicates) the page's table; a folder
    # written before results.json existed is read by its file names, to the same numbers
    stamp = (tmp_path / "clf.pth").stat().st_mtime_ns
    (results / "cg" / "test_latest" / "results.json").unlink()
    run(*evaluate)
    assert (tmp_path / "clf.pth").stat().st_mtime_ns == stamp
    assert (results / "cg" / "test_latest" / "index.html").read_text().count("<h3>Metrics</h3>") == 1
    again = json.loads((results / "cg" / "test_latest" / "metrics.json").read_text())
    assert again["directions"] == report["directions"]


def test_cycle_gan_refuses_set_networks(shapes_root, tmp_path):
    bad = run("train.py", "--model", "cycle_gan", "--netG", "set", "--dataroot", shapes_root, *TINY, check=False)
    assert bad.returncode != 0 and "resnet_9blocks" in bad.stderr


def test_evaluate_without_results_is_a_clear_error(tmp_path):
    bad = run("evaluate.py", "--results", tmp_path, check=False)
    assert bad.returncode != 0 and "run test.py first" in bad.stderr
    no_steps = run("evaluate.py", "--results", tmp_path, "--classifier_steps", "0", check=False)
    assert no_steps.returncode == 2 and "--classifier_steps 0 must be at least 1" in no_steps.stderr


def test_fid_without_what_it_needs_is_one_line(shapes_root, tmp_path):
    results = tmp_path / "r"
    (results / "images").mkdir(parents=True)
    (results / "test_opt.json").write_text(json.dumps({"dataroot": str(shapes_root), "phase": "test"}))
    env = dict(os.environ, TORCH_HOME=str(tmp_path / "torch_home"))
    proc = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), "--results", str(results), "--fid", "inception"],
                          capture_output=True, text=True, env=env)  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    if importlib.util.find_spec("torch_fidelity") is None:  # what reads the weights is missing: it says how to install it
        assert line == "error: FID with Inception features needs torch-fidelity: pip install torch-fidelity (the [fid] extra)"
    else:  # the weights are missing: it names the file and where it goes
        assert "weights-inception-2015-12-05-6726825d.pth" in line
        assert str(tmp_path / "torch_home" / "hub" / "checkpoints") in line


@pytest.mark.slow  # the whole demo pipeline, tiny
def test_demo_script_quick_mode(tmp_path):
    env = dict(os.environ, DEMO_QUICK="1", DEMO_DATA=str(tmp_path / "data"), DEMO_NAME="demo",
               DEMO_CHECKPOINTS=str(tmp_path / "ck"), DEMO_RESULTS=str(tmp_path / "res"))  # fmt: skip
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "demo_shapes.sh")], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "res" / "demo" / "test_latest_ema" / "metrics.json").is_file()
    assert (tmp_path / "ck" / "demo" / "web" / "index.html").is_file()
    assert "classification_score: " in proc.stdout and "test results:" in proc.stdout and "(target >= 0.9)" in proc.stdout
    assert "targets met" in proc.stdout and "mask_iou: " in proc.stdout
    record = json.loads((tmp_path / "res" / "demo" / "test_latest_ema" / "demo.json").read_text())
    assert record["quick"] is True and record["seconds"]["total"] >= record["seconds"]["training"] > 0


@pytest.mark.slow
def test_benchmark_script_quick_mode(tmp_path):
    script = str(ROOT / "scripts" / "benchmark_shapes.py")
    work, timings, log = tmp_path / "w", tmp_path / "w" / "timings.json", tmp_path / "w" / "benchmark.log"
    args = ["--quick", "--work", str(work), "--out", str(tmp_path / "bench.md")]
    proc = subprocess.run([sys.executable, script, *args, "--seeds", "1"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # instagan, noctx, random_order, onestep, cycle_gan, cycle_gan_2x, cycle_gan_seg; tested: those and
    # instagan_tested_onestep
    assert log.read_text().count("$ python train.py") == 7 and log.read_text().count("$ python test.py") == 8
    table = (tmp_path / "bench.md").read_text()
    names = ("instagan", "instagan_noctx", "instagan_random_order", "instagan_onestep", "instagan_tested_onestep",
             "cycle_gan", "cycle_gan_2x", "cycle_gan_seg")
    for run_name in names:
        assert f"| {run_name} |" in table
    assert "### A->B" in table and "### B->A" in table and "--lambda_ctx 0" in table and "--model cycle_gan" in table
    assert "--set_order random" in table
    # a run with networks of its own: trained with them, tested with what its train_opt.json says
    seg = [line for line in table.splitlines() if "--name cycle_gan_seg_s0" in line]
    assert "--ngf 11 --ndf 21" in seg[0] and "--ngf" not in seg[1] and "--n_blocks 1" in seg[1]
    compare = (work / "compare" / "index.html").read_text()
    assert "00000 (A-&gt;B)" in compare and "instagan_noctx masks" in compare and "cycle_gan" in compare
    # learning curves of the 7 training runs; cycle_gan and cycle_gan_2x have no masks: 5 rows in the mask IoU panels
    svg = (tmp_path / "images" / "ablation_curves.svg").read_text()
    assert svg.count("<circle") == 3 * 7 + 3 * 5 and "cycle_gan_seg" in svg
    # --resume after a stop during cycle_gan_s0's training (its time not yet in timings.json) and with a second seed,
    # two of the rows: the runs that finished training are kept (and their test passes and scores), cycle_gan_s0 and
    # seed 1's runs of those rows are trained
    # (and a run kept from before memory was measured: measured now, without training it again)
    recorded = json.loads(timings.read_text())
    assert recorded["instagan_s0_memory"] > recorded["cycle_gan_s0_memory"] > 0  # masks and their networks take memory
    timings.write_text(json.dumps({k: v for k, v in recorded.items() if k not in ("cycle_gan_s0", "instagan_s0_memory")}))
    kept = (work / "checkpoints" / "instagan_s0" / "latest_net_G_A.pth").stat().st_mtime_ns
    two = ["--rows", "instagan,cycle_gan", "--seeds", "2", "--resume"]
    proc = subprocess.run([sys.executable, script, *args, *two], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert log.read_text().count("$ python train.py") == 7 + 1 + 2
    assert log.read_text().count("$ python test.py") == 8 + 1 + 2
    assert log.read_text().count("$ python evaluate.py") == 8 + 1 + 2  # instagan_s0's scores are still current
    assert (work / "checkpoints" / "instagan_s0" / "latest_net_G_A.pth").stat().st_mtime_ns == kept
    assert json.loads(timings.read_text())["instagan_s0_memory"] == recorded["instagan_s0_memory"]  # measured again
    table = (tmp_path / "bench.md").read_text()
    assert "--rows instagan,cycle_gan --seeds 2" in table and "| instagan |" in table and "| cycle_gan_2x |" not in table
    assert " ± " in table  # mean ± std over the 2 seeds
    # runs of another configuration are never mixed in: --resume refuses, naming the folder and what it holds
    timings.write_text(json.dumps({**json.loads(timings.read_text()), "config": ["--size", "64"]}))
    proc = subprocess.run([sys.executable, script, *args, "--resume"], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: {work} holds runs of another configuration (--size 64)")


@pytest.mark.slow
def test_sequential_suite_quick_mode(tmp_path):
    script = str(ROOT / "scripts" / "benchmark_shapes.py")
    out = tmp_path / "bench.md"
    out.write_text("# Benchmarks\n\n<!-- ablation table -->\nkept\n<!-- end of ablation table -->\n\nA reading.\n")
    args = ["--suite", "sequential", "--quick", "--seeds", "1", "--work", str(tmp_path / "w"), "--out", str(out)]
    proc = subprocess.run([sys.executable, script, *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = out.read_text()
    assert "kept" in text and "A reading." in text  # the other suite's section and the text around it stay
    assert "<!-- sequential table -->" in text and "--suite sequential --seeds 1 --quick" in text
    a_to_b = text.split("### A->B")[1].split("### B->A")[0]
    table = [[cell.strip() for cell in line.strip("|").split("|")] for line in a_to_b.splitlines() if line.startswith("| ")]
    header, rows = table[0], {row[0].split(" ")[0]: dict(zip(table[0], row)) for row in table[1:]}
    assert {"step 1", "step 2", "not translated", "updates", "activation memory per pass (MiB)"} <= set(header)
    # One translates only the 2 largest of 3 to 5 instances; Seq and one pass translate all of them
    assert float(rows["one_one"]["instances_translated"]) < 1 and rows["one_one"]["not translated"] != "-"
    assert float(rows["seq_seq"]["instances_translated"]) == 1.0 and rows["seq_seq"]["not translated"] == "-"
    assert rows["seq_seq"]["step 2"] != "-" and rows["one_pass"]["step 2"] == "-"
    # a pass of Seq holds 2 instances, as One's does; one pass holds them all
    mib = {name: float(row["activation memory per pass (MiB)"]) for name, row in rows.items()}
    assert mib["one_pass"] > 1.3 * mib["seq_seq"] and abs(mib["seq_seq"] - mib["one_one"]) < 0.1 * mib["one_one"]
    # the training rows' learning curves (a 1-epoch run: its last point), linked from the section
    svg = (tmp_path / "images" / "sequential_curves.svg").read_text()
    assert "![learning curves](images/sequential_curves.svg)" in text and svg.count("<circle") == 3 * 2 * 3
    assert int(rows["seq_seq"]["updates"]) > int(rows["one_one"]["updates"])  # one update per step, the same epochs


@pytest.mark.slow
def test_a_new_per_image_metric_is_one_row_of_the_table(tiny_run, shapes_root, tmp_path, monkeypatch, capsys):
    """Adding a metric is adding a row to ``evaluation.scoring.PER_IMAGE``: it is computed for every direction, written
    to metrics.json, printed, and shown on the page with its note; the other metrics do not change."""
    from instagan import evaluate
    from instagan.evaluation import scoring

    results = tmp_path / "results"
    run("test.py", "--dataroot", shapes_root, "--name", "tiny", "--checkpoints_dir", tiny_run.parent, "--results_dir",
        results, "--gpu_ids", "-1")  # fmt: skip
    folder = results / "tiny" / "test_latest"
    flags = ["--results", str(folder), "--fid", "none", "--cache", str(tmp_path / "judge.pth"), "--classifier_steps", "5",
             "--classifiers", "1"]  # fmt: skip
    before = evaluate.main(flags)
    brightness = scoring.PerImage("mean_brightness", "the mean of the translated image in [-1, 1]",
                                  lambda image: float(image.output.mean()))  # fmt: skip
    monkeypatch.setattr(scoring, "PER_IMAGE", (*scoring.PER_IMAGE, brightness))
    after = evaluate.main(flags)
    for direction, scores in after["directions"].items():
        outputs = list((folder / "images").glob(f"*_fake_{direction[-1]}_img.png"))
        assert scores["mean_brightness"]["n"] == len(outputs) == scores["images"]
        assert -1 <= scores["mean_brightness"]["value"] <= 1
        assert {k: v for k, v in scores.items() if k != "mean_brightness"} == before["directions"][direction]
    assert "mean_brightness" in json.loads((folder / "metrics.json").read_text())["directions"]["A->B"]
    assert "mean_brightness=" in capsys.readouterr().out
    page = (folder / "index.html").read_text()
    assert "mean_brightness" in page and "the mean of the translated image" in page


@pytest.mark.slow
def test_on_other_data_the_shapes_only_metrics_are_left_out_and_named(tiny_run, shapes_root, tmp_path, capsys):
    """The mask shape and the ground truth mean something on the shapes data alone: on a data set without ideal
    translations (photos) the report leaves them out, says so, and keeps what applies; a single-folder results folder
    (--dataset_mode single_seg) is scored against the data set that folder belongs to."""
    from instagan import evaluate

    photos = tmp_path / "photos"
    shutil.copytree(shapes_root, photos, ignore=shutil.ignore_patterns("*_ideal*", "*_background", "domain_classifier*"))
    common = ["--name", "tiny", "--checkpoints_dir", tiny_run.parent, "--gpu_ids", "-1"]
    flags = ["--fid", "none", "--cache", str(tmp_path / "judge.pth"), "--classifier_steps", "5", "--classifiers", "1",
             "--realism_splits", "0"]  # fmt: skip
    reports = {}
    for data, dataroot, mode in (("photos", photos, []), ("shapes", shapes_root, []),
                                 ("single", photos / "testA", ["--dataset_mode", "single_seg"])):  # fmt: skip
        run("test.py", "--dataroot", dataroot, *mode, *common, "--results_dir", tmp_path / data)
        reports[data] = evaluate.main(["--results", str(tmp_path / data / "tiny" / "test_latest"), *flags])
    shapes_only = {"mask_shape_accuracy", "target_shape", "ground_truth", "mask_iou", "background_psnr", "image_ssim"}
    for data in ("photos", "single"):
        report = reports[data]
        assert report["data"] == "photos" and report["dataroot"] == str(photos)
        for scores in report["directions"].values():
            assert not shapes_only & set(scores)
            assert {"classification_score", "context_error", "instances_kept"} <= set(scores)
            assert all("mask_iou" not in step and "classification_score" in step for step in scores["by_step"].values())
        assert "mask_shape_accuracy" in report["skipped"][0] and "holds no ideal translations" in report["skipped"][0]
    assert list(reports["single"]["directions"]) == ["A->B"]
    assert reports["shapes"]["data"] == "shapes" and not reports["shapes"]["skipped"]
    assert shapes_only <= set(reports["shapes"]["directions"]["A->B"])
    out = capsys.readouterr().out
    assert out.count("not scored: mask_shape_accuracy") == 2 and "mask_shape_accuracy=" in out  # the shapes data's
    page = (tmp_path / "photos" / "tiny" / "test_latest" / "index.html").read_text()
    assert "Against the ideal translation" not in page and "holds no ideal translations" in page


@pytest.mark.slow
def test_benchmark_demo_runs_the_demo_per_seed_and_writes_its_table(tmp_path):
    script = str(ROOT / "scripts" / "benchmark_demo.py")
    out = tmp_path / "bench.md"
    out.write_text("# Benchmarks\n\nA reading.\n")
    args = ["--quick", "--seeds", "4-5", "--work", str(tmp_path / "w"), "--out", str(out)]
    proc = subprocess.run([sys.executable, script, *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = out.read_text()
    assert "A reading." in text and "<!-- demo table -->" in text and "--seeds 4-5" in text
    rows = [line for line in text.splitlines() if line.startswith("| 4 |") or line.startswith("| 5 |")]
    assert len(rows) == 2 and all(" min " in row for row in rows)
    for seed in (4, 5):  # each seed its own data set and run, with its record
        record = json.loads((tmp_path / "w" / "results" / f"demo_s{seed}" / "test_latest_ema" / "demo.json").read_text())
        assert record["seed"] == seed and record["batches"] > 0 and set(record["met"]) < set(record["values"])
    assert (tmp_path / "w" / "data_s4" / "testA_ideal").is_dir()
    # --resume keeps the seeds that finished
    proc = subprocess.run([sys.executable, script, *args, "--resume"], capture_output=True, text=True)
    assert proc.returncode == 0 and "== seed" not in proc.stdout


def test_benchmark_tables_leave_out_times_that_shared_the_cpu(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import benchmark_shapes

    suite = benchmark_shapes.SUITES["ablation"]
    reports = {"instagan": [{"directions": {"A->B": {"mask_iou": {"value": v}}}} for v in (0.8, 0.9)],
               "cycle_gan": [{"directions": {}}] * 2}  # fmt: skip
    timings = {"instagan_s0": 1800.0, "instagan_s1": 640.0, "cycle_gan_s0": 220.0, "cycle_gan_s1": 210.0,
               "instagan_s0_updates": 2300, "instagan_s1_updates": 2300, "cycle_gan_s0_updates": 1170,
               "cycle_gan_s1_updates": 1170, "instagan_s0_memory": 40.0, "instagan_s1_memory": 40.0,
               "shared_cpu": ["instagan_s0"]}  # fmt: skip
    lines = benchmark_shapes.tables(suite, reports, timings, seeds=2, budget=suite.budget)
    a_to_b = lines[: lines.index("### B->A")]
    rows = {line.split(" | ")[0].strip("| "): line for line in a_to_b if line.startswith(("| instagan |", "| cycle_gan |"))}
    # epochs, updates, time (the shared run's 1800 s left out), memory per pass (not measured for cycle_gan here)
    assert rows["instagan"].endswith("| 13 | 2300 ± 0 | 640 (1 of 2 seeds) | 40.0 ± 0.0 |")
    assert "0.850 ± 0.071" in rows["instagan"]
    assert rows["cycle_gan"].endswith("| 13 | 1170 ± 0 | 215 ± 7 | - |")
    # a row with epochs of its own (the sequential suite's Seq, 2 + 1), and a row testing it
    suite = benchmark_shapes.SUITES["sequential"]
    reports = {"seq_seq": [{"directions": {}}], "seq_one": [{"directions": {}}], "one_one": [{"directions": {}}]}
    lines = benchmark_shapes.tables(suite, reports, {}, seeds=1, budget=suite.budget)
    cells = {line.split(" | ")[0].split(" (")[0].strip("| "): line.split(" | ")[-4] for line in lines if line.startswith("| ")}
    assert cells["seq_seq"] == cells["seq_one"] == "3" and cells["one_one"] == "11"
    lines = benchmark_shapes.tables(suite, reports, {}, seeds=1, budget=["--niter", "1", "--niter_decay", "0"], quick=True)
    assert {line.split(" | ")[-4] for line in lines if line.startswith("| seq_")} == {"1"}  # --quick: the quick budget's
    assert benchmark_shapes.epochs(["--niter", "7", "--niter_decay", "6", "--niter", "2"]) == 8  # each flag's last value


def test_the_demo_table_leaves_out_the_time_of_a_run_that_shared_the_cpu(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import benchmark_demo

    values = {"classification_score": 0.9, "mask_iou": 0.95, "instance_psnr": 20.0, "background_psnr": 28.0}
    records = [{"seed": 18, "wall": 716.0, "pace": 1.51, "values": values, "shared_cpu": True},
               {"seed": 19, "wall": 566.0, "pace": 2.0, "values": {**values, "mask_iou": 0.8}}]  # fmt: skip
    header, _, shared, timed = benchmark_demo.table(records)
    assert shared.startswith("| 18 | (shared CPU) | - | 0.9 |") and shared.endswith("| yes |")
    assert timed.startswith("| 19 | 9 min 26 s | 2.00 |") and "**0.8**" in timed and timed.endswith("| **no** |")


def test_the_paper_suite_tests_each_training_run_three_ways_on_three_test_sets(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import benchmark_shapes

    suite = benchmark_shapes.SUITES["paper"]
    trained = {name: run.train for name, run in suite.runs.items() if not isinstance(run.train, str)}
    assert trained == {"one_seq_4": ["--ins_max", "2", "--ins_per", "2"], "seq_seq_4": ["--ins_max", "4", "--ins_per", "2"]}
    assert len(suite.runs) == 18 and not any(run.epochs for run in suite.runs.values())  # the same epochs for both
    assert {run.test_set for run in suite.runs.values()} == {"", "8", "few"} == {"", *suite.test_sets}
    assert suite.runs["one_pass_8"].train == "one_seq_4" and suite.runs["one_pass_8"].test == ["--ins_max", "8", "--ins_per", "8"]
    # --rows keeps the rows named and the runs that train their weights
    assert list(benchmark_shapes.chosen(suite, "seq_pass_8,one_one_few").runs) == ["one_seq_4", "seq_seq_4", "seq_pass_8",
                                                                                  "one_one_few"]  # fmt: skip
    with pytest.raises(benchmark_shapes.UserError, match="--rows seq_pass_9: no such row \\(seq_pass_9\\)"):
        benchmark_shapes.chosen(suite, "seq_pass_9")


@pytest.mark.slow
def test_paper_suite_quick_mode_tests_on_its_other_test_sets(tmp_path):
    script = str(ROOT / "scripts" / "benchmark_shapes.py")
    out = tmp_path / "bench.md"
    rows = "seq_seq_4,seq_one_8,seq_pass_few"
    args = ["--suite", "paper", "--rows", rows, "--quick", "--seeds", "1", "--work", str(tmp_path / "w"), "--out", str(out)]
    proc = subprocess.run([sys.executable, script, *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = out.read_text()
    assert f"--suite paper --rows {rows} --seeds 1 --quick" in text
    assert f"--dataroot {tmp_path / 'w' / 'shapes_8'}".replace(f"{ROOT}/", "") in text  # the 8-instance test set
    a_to_b = text.split("### A->B")[1].split("### B->A")[0]
    table = [[cell.strip() for cell in line.strip("|").split("|")] for line in a_to_b.splitlines() if line.startswith("| ")]
    rows_found = {row[0].split(" ")[0]: dict(zip(table[0], row)) for row in table[1:]}
    assert list(rows_found) == ["seq_seq_4", "seq_one_8", "seq_pass_few"]
    # One translates 2 of the 6 instances of the quick 8-set; one pass translates the 1 or 2 of the few-set
    assert float(rows_found["seq_one_8"]["instances_translated"]) < 0.5
    assert float(rows_found["seq_pass_few"]["instances_translated"]) == 1.0
    for test_set in ("shapes_8", "shapes_few"):
        assert (tmp_path / "w" / test_set / "testA").is_dir()
    # the learning curves of the training row, linked from the section: one point here (a 1-epoch run: only its last)
    assert "![learning curves](images/paper_curves.svg)" in text
    svg = (tmp_path / "images" / "paper_curves.svg").read_text()
    assert svg.count("<polyline") == 6 and svg.count("<circle") == 6  # 2 metrics x 3 axes, 1 row, 1 point each
    assert "trained Seq, tested Seq, 4 per image" in svg and "training seconds" in svg


def test_learning_curves_average_the_seeds_at_each_saved_epoch(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import benchmark_shapes
    import torch

    for tag, epoch, updates in (("3", 4, 270), ("6", 7, 540), ("11", 12, 990), ("latest", 12, 990)):
        torch.save({"counters": {"epoch": epoch, "updates": updates}, "visualizer": {"seconds": updates / 3}},
                   tmp_path / f"{tag}_training_state.pth")  # fmt: skip
    states = benchmark_shapes.epoch_states(tmp_path)
    assert [tag for tag, _ in states] == ["3", "6", "latest"]  # the last epoch's own tag holds latest's weights
    report = {"directions": {"A->B": {"classification_score": {"value": 0.5}, "mask_iou": {"value": 0.7}}}}
    point = benchmark_shapes.curve_point(states[1][1], report)
    assert point == {"epoch": 6, "updates": 540, "seconds": 180.0, "classification_score": 0.5, "mask_iou": 0.7}
    later = {**point, "epoch": 11, "updates": 990, "classification_score": 0.9}
    seeds = {0: [point, later], 1: [{**point, "classification_score": 0.7, "updates": 560}, {**later, "mask_iou": None}]}
    assert benchmark_shapes.curve_means(seeds, "updates", "classification_score") == [(550, 0.6), (990, 0.9)]
    assert benchmark_shapes.curve_means(seeds, "epoch", "mask_iou") == [(6, 0.7)]  # a seed without a value: left out
    svg = benchmark_shapes.curves_svg({"seq_seq_4": seeds}, benchmark_shapes.SUITES["paper"])
    # 6 panels (2 metrics by 3 axes), each with the mean and, faint behind it, each seed's own line; one legend on top
    assert svg.count("<polyline") == 18 and svg.count('stroke-opacity="0.4"') == 12
    assert svg.count("trained Seq, tested Seq, 4 per image") == 1 and "faint: each seed" in svg
    # a second row without mask IoU (absent from those panels) keeps the legend's colour in every panel
    scoreless = {0: [{**p, "mask_iou": None} for p in seeds[0]], 1: [{**p, "mask_iou": None} for p in seeds[1]]}
    svg = benchmark_shapes.curves_svg({"seq_seq_4": scoreless, "one_seq_4": seeds}, benchmark_shapes.SUITES["paper"])
    legend = dict(re.findall(r'stroke="(#\w+)" stroke-width="2"/><text x="[\d.]+" y="[\d.]+">([^<]+)</text>', svg))
    legend = {name: colour for colour, name in legend.items()}
    means = re.findall(r'<polyline fill="none" stroke="(#\w+)" stroke-width="2"', svg)
    one = legend["trained One, tested Seq, 4 per image"]
    assert len(means) == 9 and means.count(one) == 6 and one != legend["trained Seq, tested Seq, 4 per image"]
    assert 'points=""' not in svg
