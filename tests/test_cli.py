"""The real train.py and test.py, run as a user would, on tiny data."""

import json
import re
import subprocess
import sys

import pytest
import torch

from tests.conftest import ROOT, SAMPLE_COCO, require_shared

TINY = ["--gpu_ids", "-1", "--ngf", "8", "--ndf", "8", "--n_blocks", "1", "--num_threads", "0"]
SIZE32 = ["--loadSizeH", "36", "--loadSizeW", "36", "--fineSizeH", "32", "--fineSizeW", "32"]


def run(script, *args, check=True):
    proc = subprocess.run([sys.executable, str(ROOT / script), *map(str, args)], cwd=ROOT, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_train_resume_and_test(shapes_root, tmp_path):
    ckpt, results = tmp_path / "checkpoints", tmp_path / "results"
    common = ["--dataroot", shapes_root, "--name", "tiny", "--checkpoints_dir", ckpt, *TINY]
    first = run("train.py", *common, *SIZE32, "--niter", "1", "--niter_decay", "1", "--batch_size", "2",
                "--print_freq", "2", "--display_id", "1", "--display_port", "1", "--save_epoch_freq", "1")  # fmt: skip
    assert "no visdom server answers" in first.stderr or "visdom is not installed" in first.stderr
    # to a pipe the progress bar writes whole lines (tests/test_engine.py: a few, not one per batch)
    bar = [line for line in first.stderr.splitlines() if "batch/s" in line or "s/batch" in line]
    assert "\r" not in first.stderr and "6/6" in bar[-1]
    run_dir = ckpt / "tiny"
    for name in ("G_A", "G_B", "D_A", "D_B"):
        assert (run_dir / f"1_net_{name}.pth").is_file() and (run_dir / f"latest_net_{name}.pth").is_file()
    state = torch.load(run_dir / "latest_training_state.pth", weights_only=False)
    assert (state["counters"]["epoch"], state["counters"]["total_iters"]) == (3, 12)
    updates = state["counters"]["updates"]  # 6 batches of 2 images with 1 to 4 instances: 1 or 2 steps of 2 each
    assert 6 <= updates <= 12 and f"done: {updates} updates" in first.stdout
    assert json.loads((run_dir / "train_opt.json").read_text())["ins_max"] == 4
    log = (run_dir / "loss_log.txt").read_text()
    assert "D_A:" in log and "ctx_B:" in log
    page = (run_dir / "web" / "index.html").read_text()
    assert "<svg" in page and "epoch001_fake_B_img.png" in page
    assert not list(run_dir.glob(".*.tmp"))

    resumed = run("train.py", *common, *SIZE32, "--niter", "2", "--niter_decay", "1", "--batch_size", "2",
                  "--display_id", "0", "--continue_train")  # fmt: skip
    assert "epochs 3..3" in resumed.stdout
    state = torch.load(run_dir / "latest_training_state.pth", weights_only=False)
    assert (state["counters"]["epoch"], state["counters"]["total_iters"]) == (4, 18)
    assert len(state["visualizer"]["history"]["x"]) >= 3  # the loss curves continue

    sizes = ["--loadSizeH", "32", "--loadSizeW", "32", "--fineSizeH", "32", "--fineSizeW", "32"]
    out = run("test.py", "--dataroot", shapes_root, "--name", "tiny", "--checkpoints_dir", ckpt, "--results_dir", results,
              *TINY, *sizes, "--batch_size", "2")  # fmt: skip
    web = results / "tiny" / "test_latest"
    images = {p.name for p in (web / "images").iterdir()}
    for stem in ("00000", "00001", "00002"):
        for name in ("real_A_img", "fake_B_img", "fake_B_seg", "rec_A_img", "real_B_img", "fake_A_img"):
            assert f"{stem}_{name}.png" in images
        assert f"{stem}_fake_B_ins0.png" in images
    page = (web / "index.html").read_text()
    assert "00000_fake_B_img.png" in page
    # one direction after the other, each in file order (not in chunks of the batch size)
    headers = re.findall(r"<h3>(\d+) \((\w) -&gt; (\w)\)</h3>", page)
    assert headers == sorted(headers, key=lambda h: (h[1], h[0])) and len(headers) == 6
    assert "translations written" in out.stdout


def test_single_domain_folder_and_epoch_selection(shapes_root, tmp_path):
    ckpt = tmp_path / "checkpoints"
    run("train.py", "--dataroot", shapes_root, "--name", "one", "--checkpoints_dir", ckpt, *TINY, *SIZE32,
        "--niter", "1", "--niter_decay", "0", "--display_id", "0", "--max_dataset_size", "2")  # fmt: skip
    out = run("test.py", "--dataroot", shapes_root / "testB", "--dataset_mode", "single_seg", "--direction", "BtoA",
              "--name", "one", "--checkpoints_dir", ckpt, "--results_dir", tmp_path / "r", "--epoch", "1", *TINY,
              "--resize_or_crop", "none")  # fmt: skip
    images = {p.name for p in (tmp_path / "r" / "one" / "test_1" / "images").iterdir()}
    assert "00000_fake_A_img.png" in images and not any("fake_B" in n for n in images), out.stdout


def test_bad_input_gives_one_line_errors(tmp_path):
    missing = run("train.py", "--dataroot", tmp_path / "nowhere", "--checkpoints_dir", tmp_path, *TINY, "--display_id", "0",
                  check=False)  # fmt: skip
    assert missing.returncode != 0
    assert missing.stderr.strip().splitlines()[-1].startswith("error:") and "--dataroot" in missing.stderr
    no_ckpt = run("test.py", "--dataroot", tmp_path, "--dataset_mode", "single_seg", "--name", "absent",
                  "--checkpoints_dir", tmp_path, "--results_dir", tmp_path / "results", *TINY, check=False)  # fmt: skip
    assert no_ckpt.returncode != 0
    unknown = run("train.py", "--dataroot", tmp_path, "--model", "pix2pix", check=False)
    assert unknown.returncode != 0 and "insta_gan" in unknown.stderr


def test_original_readme_commands_on_the_coco_sample(tmp_path):
    root = require_shared(SAMPLE_COCO)
    ckpt = tmp_path / "checkpoints"
    run("train.py", "--dataroot", root, "--model", "insta_gan", "--name", "shp2gir_coco_instagan", "--phase", "sample",
        "--loadSizeH", "72", "--loadSizeW", "72", "--fineSizeH", "64", "--fineSizeW", "64", "--niter", "1",
        "--niter_decay", "0", "--checkpoints_dir", ckpt, "--display_id", "0", *TINY)  # fmt: skip
    run("test.py", "--dataroot", root, "--model", "insta_gan", "--name", "shp2gir_coco_instagan", "--phase", "sample",
        "--loadSizeH", "64", "--loadSizeW", "64", "--fineSizeH", "64", "--fineSizeW", "64", "--ins_max", "20",
        "--ins_per", "2", "--epoch", "1", "--checkpoints_dir", ckpt, "--results_dir", tmp_path / "results", *TINY)  # fmt: skip
    images = {p.name for p in (tmp_path / "results" / "shp2gir_coco_instagan" / "sample_1" / "images").iterdir()}
    assert "602_fake_B_img.png" in images and "602_fake_B_ins7.png" in images  # 8 sheep, all translated


def test_test_py_loads_the_original_checkpoint_layout(tmp_path):
    import shutil

    from tests.conftest import REFERENCE

    root, ref = require_shared(SAMPLE_COCO), require_shared(REFERENCE)
    run_dir = tmp_path / "checkpoints" / "orig"
    run_dir.mkdir(parents=True)
    for name in ("G_A", "G_B"):
        shutil.copy(ref / "orig_G.pth", run_dir / f"200_net_{name}.pth")
    run("test.py", "--dataroot", root, "--name", "orig", "--phase", "sample", "--epoch", "200", "--ngf", "8",
        "--gpu_ids", "-1", "--num_threads", "0", "--loadSizeH", "64", "--loadSizeW", "64", "--fineSizeH", "64",
        "--fineSizeW", "64", "--checkpoints_dir", tmp_path / "checkpoints", "--results_dir", tmp_path / "r")  # fmt: skip
    assert (tmp_path / "r" / "orig" / "sample_200" / "images" / "139_fake_B_img.png").is_file()


@pytest.mark.slow
def test_tensorboard_and_wandb_offline_logs(shapes_root, tmp_path):
    reason = "the logging extras are not installed: pip install -e '.[logging]'"
    pytest.importorskip("wandb", reason=reason)
    events_module = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator", reason=reason)

    run("train.py", "--dataroot", shapes_root, "--name", "logged", "--checkpoints_dir", tmp_path, *TINY, *SIZE32, "--niter", "1",
        "--niter_decay", "0", "--display_id", "0", "--print_freq", "2", "--tensorboard", "--wandb")  # fmt: skip
    events = list((tmp_path / "logged" / "tensorboard").glob("events.out.tfevents.*"))
    assert events
    accumulator = events_module.EventAccumulator(str(events[0].parent))
    accumulator.Reload()
    assert "loss/G_A" in accumulator.Tags()["scalars"] and "fake_B_img" in accumulator.Tags()["images"]
    assert len(accumulator.Scalars("loss/D_B")) == 3  # 6 images, a line every 2
    offline = list((tmp_path / "logged" / "wandb").glob("offline-run-*"))
    assert offline and list(offline[0].glob("run-*.wandb"))


def test_help_lists_the_flags_of_the_model_and_the_data_set():
    for script in ("train.py", "test.py"):
        text = run(script, "--help").stdout
        assert "--ins_max" in text and "--ins_per" in text and "--dataroot" in text, script  # InstaGAN's own flags too
    assert "--lambda_ctx" in run("train.py", "--help").stdout
    assert "--lambda_ctx" not in run("train.py", "--model", "cycle_gan", "--help").stdout


def test_options_from_python_values_are_checked_as_the_flags_declare(capsys):
    """The Python interface gives options as values, not argv strings: a model's flag, a negated switch and a default
    of the data set all arrive as given, and a bad value fails with the flag's own rule."""
    from instagan.options.test_options import TestOptions

    opt = TestOptions().parse([], {"dataroot": "d", "ngf": 8, "no_dropout": False, "ins_max": 3, "paste_background": True})
    assert (opt.ngf, opt.no_dropout, opt.ins_max, opt.paste_background, opt.gpu_ids) == (8, False, 3, True, [0])
    assert TestOptions().parse(["--ngf", "16"], {"dataroot": "d"}).ngf == 16  # argv and values together
    for values, message in (({"ins_max": 0}, "ins_max=0 must be at least 1"), ({"ngf": "8"}, "ngf='8' must be a number"),
                            ({"norm": "group"}, "norm='group' must be one of instance, batch, none"),
                            ({"ngff": 8}, "ngff=8 is not an option")):  # fmt: skip
        with pytest.raises(SystemExit):
            TestOptions().parse([], {"dataroot": "d", **values})
        assert message in capsys.readouterr().err
