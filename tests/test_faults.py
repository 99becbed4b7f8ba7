"""Faults and bad input, through the real command line on tiny data: every case ends in one clear line (or a warning
and a skip where going on is right), with the right exit code, and nothing written before is lost."""

import hashlib
import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from instagan.data.image_folder import read_image
from instagan.models.run import Run
from instagan.util import file_set
from instagan.util.files import FolderLock
from tests.conftest import ROOT

TINY = ["--gpu_ids", "-1", "--ngf", "4", "--ndf", "4", "--n_blocks", "1", "--num_threads", "0",
        "--loadSizeH", "32", "--loadSizeW", "32", "--fineSizeH", "32", "--fineSizeW", "32"]  # fmt: skip


def cli(script, *args, env=None, code=None):
    """Run a script; with ``code``, assert the exit code and that a failure is one line without a traceback."""
    proc = subprocess.run([sys.executable, str(ROOT / script), *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})  # fmt: skip
    if code is not None:
        assert proc.returncode == code, f"exit {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    if proc.returncode:
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and errors[0] == proc.stderr.strip().splitlines()[-1], proc.stderr
    return proc


def error_of(proc) -> str:
    return proc.stderr.strip().splitlines()[-1]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and its SHA-256: to show that nothing changed."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")  # a lock file names whoever holds the folder now: not part of the run
    }


def copy_data(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def train_args(root, ckpt, name="run", *extra):
    return ["--dataroot", root, "--checkpoints_dir", ckpt, "--name", name, *TINY, "--display_id", "0", "--niter", "1",
            "--niter_decay", "0", *extra]  # fmt: skip


@pytest.fixture(scope="module")
def trained(shapes_root, tmp_path_factory):
    """One finished 1-epoch run, its folder and its results; tests copy what they change."""
    base = tmp_path_factory.mktemp("trained")
    cli("train.py", *train_args(shapes_root, base / "ck", "run", "--seed", "0"), code=0)
    cli("test.py", "--dataroot", shapes_root, "--checkpoints_dir", base / "ck", "--name", "run", *TINY,
        "--results_dir", base / "res", code=0)  # fmt: skip
    return base


# bad data ------------------------------------------------------------------------------------------------------
def test_no_mask_folders_is_refused_before_training(shapes_root, tmp_path):
    root = copy_data(shapes_root, tmp_path / "data")
    shutil.rmtree(root / "trainB_seg")
    proc = cli("train.py", *train_args(root, tmp_path / "ck"), code=1)
    assert "trainB has an instance mask" in error_of(proc) and "trainB_seg does not exist" in error_of(proc)
    assert not (tmp_path / "ck" / "run").exists() or not Run(tmp_path / "ck" / "run").files()


def test_jpeg_masks_are_named_as_the_problem(shapes_root, tmp_path):
    root = copy_data(shapes_root, tmp_path / "data")
    for mask in (root / "trainA_seg").glob("*.png"):
        Image.open(mask).save(mask.with_suffix(".jpg"))
        mask.unlink()
    proc = cli("train.py", *train_args(root, tmp_path / "ck"), code=1)
    assert "masks that are not PNG" in error_of(proc)


def test_a_mask_of_the_wrong_size_is_reported_up_front(shapes_root, tmp_path):
    root = copy_data(shapes_root, tmp_path / "data")
    Image.new("L", (20, 20)).save(root / "trainA_seg" / "00004_0.png")
    proc = cli("train.py", *train_args(root, tmp_path / "ck"), code=1)
    assert "00004_0.png: mask is 20x20 but its image is 32x32" in error_of(proc)


def test_broken_images_are_skipped_with_a_warning_and_counted(shapes_root, tmp_path):
    root = copy_data(shapes_root, tmp_path / "data")
    (root / "trainA" / "00001.png").write_bytes(b"not an image at all")  # unreadable header: skipped up front
    data = (root / "trainA" / "00002.png").read_bytes()
    (root / "trainA" / "00002.png").write_bytes(data[: len(data) // 2])  # truncated: fails when decoded, in a worker
    proc = cli("train.py", *train_args(root, tmp_path / "ck", "run", "--num_threads", "2", "--batch_size", "2"), code=0)
    assert "images in" in proc.stderr and "00001.png" in proc.stderr and "cannot be read and are skipped" in proc.stderr
    assert "00002.png: cannot read this image" in proc.stderr
    assert "images could not be read and were skipped" in proc.stdout and "00002.png" in proc.stdout


def test_two_images_with_one_name_are_refused(shapes_root, tmp_path):
    root = copy_data(shapes_root, tmp_path / "data")
    Image.open(root / "trainA" / "00000.png").convert("RGB").save(root / "trainA" / "00000.jpg")
    proc = cli("train.py", *train_args(root, tmp_path / "ck"), code=1)
    assert "share the name '00000'" in error_of(proc)


def test_testing_images_without_masks_warns_and_passes_them_through(trained, shapes_root, tmp_path):
    root = copy_data(shapes_root / "testA", tmp_path / "photos")
    proc = cli("test.py", "--dataroot", root, "--dataset_mode", "single_seg", "--checkpoints_dir", trained / "ck",
               "--name", "run", *TINY, "--results_dir", tmp_path / "res", code=0)  # fmt: skip
    assert "3 of the 3 images" in proc.stderr and "not translated" in proc.stderr


def test_a_test_pass_of_insta_gan_refuses_data_without_masks(trained, shapes_root, tmp_path):
    proc = cli("test.py", "--dataroot", shapes_root, "--dataset_mode", "unaligned", "--checkpoints_dir", trained / "ck",
               "--name", "run", *TINY, "--results_dir", tmp_path / "res", code=2)  # fmt: skip
    assert "--dataset_mode unaligned does not load" in error_of(proc) and "unaligned_seg" in error_of(proc)
    assert not (tmp_path / "res").exists()


def _blank(masks: list[Path]) -> None:
    for mask in masks:
        Image.new("L", Image.open(mask).size).save(mask)


def test_masks_that_mark_nothing_are_refused_and_leave_no_run_folder(shapes_root, tmp_path):
    root = copy_data(shapes_root, tmp_path / "data")
    _blank(sorted((root / "trainB_seg").glob("*.png")))
    proc = cli("train.py", *train_args(root, tmp_path / "ck"), code=1)
    assert "every mask read in" in error_of(proc) and "trainB_seg is empty" in error_of(proc)
    assert not (tmp_path / "ck" / "run").exists()  # not even the lock's folder
    proc = cli("test.py", "--dataroot", root, "--phase", "train", "--checkpoints_dir", tmp_path / "ck", "--name", "run",
               *TINY, "--results_dir", tmp_path / "res")  # fmt: skip
    assert proc.returncode == 1 and "trainB_seg is empty" in error_of(proc)


def test_some_empty_masks_are_counted_in_a_warning(shapes_root, tmp_path):
    root = copy_data(shapes_root, tmp_path / "data")
    masks = sorted((root / "trainA_seg").glob("*.png"))
    _blank(masks[:2])
    proc = cli("train.py", *train_args(root, tmp_path / "ck"), code=0)
    assert f"2 of the {len(masks)} masks read in" in proc.stderr and "are empty" in proc.stderr


def test_masks_drawn_in_the_alpha_channel_are_read_as_their_alpha(tmp_path):
    from instagan.data.image_folder import read_mask

    inside = np.zeros((8, 8), dtype=bool)
    inside[2:5, 3:7] = True
    alpha_only = np.zeros((8, 8, 4), np.uint8)
    alpha_only[..., 3] = inside * 255  # black everywhere, opaque on the instance
    white_on_clear = np.full((8, 8, 4), 255, np.uint8)
    white_on_clear[..., 3] = inside * 255
    black_opaque = np.zeros((8, 8, 4), np.uint8)
    black_opaque[..., 3] = 255  # an empty mask, saved with an alpha channel
    for name, pixels, expected in (("alpha", alpha_only, inside), ("white", white_on_clear, inside),
                                   ("empty", black_opaque, np.zeros_like(inside))):  # fmt: skip
        Image.fromarray(pixels, "RGBA").save(tmp_path / f"{name}.png")
        assert np.array_equal(read_mask(tmp_path / f"{name}.png", (8, 8)).numpy() > 127, expected), name


def test_an_epoch_without_a_single_update_stops_the_run(tmp_path):
    """Masks that mark a pixel, but one that every crop cuts away: the run says so instead of saving untrained nets."""
    root = tmp_path / "corner"
    rng = np.random.default_rng(0)
    for domain in "AB":
        (root / f"train{domain}").mkdir(parents=True)
        (root / f"train{domain}_seg").mkdir()
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(root / f"train{domain}" / f"{i}.png")
            mask = np.zeros((64, 64), np.uint8)
            mask[63, 63] = 255
            Image.fromarray(mask).save(root / f"train{domain}_seg" / f"{i}_0.png")
    flags = ["--loadSizeH", "64", "--loadSizeW", "64", "--resize_or_crop", "crop", "--seed", "0"]
    proc = cli("train.py", *train_args(root, tmp_path / "ck", "run", *flags), code=1)
    assert "epoch 1 trained nothing" in error_of(proc) and "no checkpoint was saved" in error_of(proc)
    assert not list((tmp_path / "ck" / "run").glob("*.pth"))


def _image_with_mask(root: Path, domain: str, stem: str, size: tuple[int, int]) -> None:
    h, w = size
    Image.fromarray(np.full((h, w, 3), 120, np.uint8)).save(root / domain / f"{stem}.png")
    mask = np.zeros((h, w), np.uint8)
    mask[: max(1, h // 2), : max(1, w // 2)] = 255
    Image.fromarray(mask).save(root / f"{domain}_seg" / f"{stem}_0.png")


def test_images_of_several_sizes_in_one_batch_are_refused_naming_two_of_them(shapes_root, tmp_path):
    root = copy_data(shapes_root, tmp_path / "data")
    _image_with_mask(root, "trainA", "tall", (40, 32))
    proc = cli("train.py", *train_args(root, tmp_path / "ck", "run", "--resize_or_crop", "none", "--batch_size", "2"), code=1)
    assert "--resize_or_crop none keeps the sizes" in error_of(proc) and "tall.png 32x40" in error_of(proc)
    assert "--batch_size 1" in error_of(proc)
    cli("train.py", *train_args(root, tmp_path / "ck", "run", "--resize_or_crop", "none", "--batch_size", "1"), code=0)


def test_images_that_would_be_too_small_for_the_networks_are_skipped_by_name(shapes_root, tmp_path):
    root = copy_data(shapes_root, tmp_path / "data")
    _image_with_mask(root, "trainA", "strip", (20, 5000))  # scaled to 32 wide: 4 pixels high
    proc = cli("train.py", *train_args(root, tmp_path / "ck", "run", "--resize_or_crop", "scale_width"), code=0)
    assert "1 of the images in" in proc.stderr and "strip.png: 5000x20 is 32x4 after --resize_or_crop scale_width" in proc.stderr
    proc = cli("train.py", *train_args(root, tmp_path / "ck2", "run", "--resize_or_crop", "crop", "--loadSizeH", "36",
               "--loadSizeW", "36", "--fineSizeH", "36", "--fineSizeW", "36"), code=1)  # fmt: skip
    assert "none of the" in error_of(proc) and "is smaller than the crop --fineSizeW/H 36x36" in error_of(proc)


def test_gifs_are_read_and_other_files_are_named_when_skipped(shapes_root, tmp_path):
    root = copy_data(shapes_root, tmp_path / "data")
    first = sorted((root / "trainA").glob("*.png"))[0]
    Image.open(first).convert("P").save(first.with_suffix(".gif"))
    first.unlink()
    (root / "trainA" / "notes.txt").write_text("not an image")
    proc = cli("train.py", *train_args(root, tmp_path / "ck"), code=0)
    assert f"trainA: {len(list((root / 'trainA').glob('*.*'))) - 1} images" in proc.stdout  # the GIF counts
    assert "1 files in" in proc.stderr and "are skipped: notes.txt" in proc.stderr


def test_translate_py_names_its_own_flags_when_it_finds_no_photos(trained, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "masks").mkdir()
    proc = cli("translate.py", "--input", tmp_path / "empty", "--name", "run", "--checkpoints_dir", trained / "ck",
               "--masks", tmp_path / "masks", "--gpu_ids", "-1", "--results_dir", tmp_path / "res", code=1)  # fmt: skip
    assert "holds no images" in error_of(proc) and "--input" in error_of(proc) and "--dataroot" not in error_of(proc)


def test_a_file_where_a_folder_should_be_is_named(shapes_root, tmp_path):
    (tmp_path / "file").write_text("in the way")
    proc = cli("train.py", *train_args(shapes_root, tmp_path / "file"), code=1)
    made, blocking = tmp_path / "file" / "run", tmp_path / "file"
    assert error_of(proc) == f"error: {made} cannot be made: {blocking} is a file, not a folder; give another folder"


def test_a_results_manifest_naming_files_outside_its_folder_is_refused(trained, tmp_path):
    folder = shutil.copytree(trained / "res" / "run" / "test_latest", tmp_path / "results")
    manifest = json.loads((folder / "results.json").read_text())
    for outside in ("../../../etc/passwd", "/etc/passwd"):
        manifest["samples"][0]["images"]["translated"] = outside
        (folder / "results.json").write_text(json.dumps(manifest))
        proc = cli("evaluate.py", "--results", folder, "--fid", "none", "--classifier_steps", "5", "--classifiers", "1",
                   "--cache", tmp_path / "judge.pth", code=1)  # fmt: skip
        assert f"names a file outside its folder ({outside})" in error_of(proc)


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    grey = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)  # 0 .. 65520
    Image.fromarray(grey).save(tmp_path / "deep.png")
    image = read_image(tmp_path / "deep.png")
    assert image.shape == (3, 64, 64) and image.dtype == torch.uint8
    assert int(image.max()) == 255 and int(image.min()) == 0 and 100 < float(image.float().mean()) < 155


# bad flags -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "flags, message",
    [
        (["--print_freq", "0"], "--print_freq 0 must be at least 1"),
        (["--save_epoch_freq", "0"], "--save_epoch_freq 0 must be at least 1"),
        (["--niter_decay", "-1"], "--niter_decay -1 must be at least 0"),
        (["--niter", "-1"], "--niter -1 must be at least 0"),
        (["--niter", "0", "--niter_decay", "0"], "is no epoch at all"),
        (["--ngf", "-1"], "--ngf -1 must be at least 1"),
        (["--ins_max", "0"], "--ins_max 0 must be at least 1"),
        (["--lambda_ctx", "-1"], "--lambda_ctx -1.0 must be zero or a positive number"),
        (["--mask_slots", "0"], "--mask_slots 0 must be at least 1"),
        (["--max_instances", "-1"], "--mask_slots -1 must be at least 1"),  # the flag's earlier name
        (["--suffix", "{bogus}"], "--suffix '{bogus}' cannot be formatted"),
        (["--lambda_c", "0"], "unrecognized arguments: --lambda_c"),
        (["--lr", "nan"], "--lr nan must be a positive number"),
        (["--gpu_ids", "zero"], "--gpu_ids 'zero'"),
        (["--ngf", "eight"], "argument --ngf: invalid int value"),
        (["--norm", "layer"], "argument --norm: invalid choice: 'layer'"),
        (["--max_dataset_size", "0.5"], "--max_dataset_size 0.5 must be a whole number of at least 1"),
        (["--input_nc", "1"], "--input_nc 1: the data sets, pages and scores read and write RGB images"),
        (["--ins_max", "10000"], "--ins_max 10000 is more than the 20 masks loaded per image (--mask_slots)"),
        (["--fineSizeH", "16", "--fineSizeW", "16"], "--fineSizeH 16 is too small for the networks: at least 24"),
        (["--name", "../outside"], "argument --name: '../outside' must be one folder name"),
        (["--name", "/tmp/outside"], "argument --name: '/tmp/outside' must be one folder name"),
        (["--suffix", "/../{model}"], "--name with --suffix '/../{model}' gives"),
        (["--phase", "../train"], "argument --phase: '../train' must be one folder name"),
        (["--epoch", "../../latest"], "argument --epoch: '../../latest' must be latest or an epoch number"),
        (["--dataset_mode", "unaligned"], "translates instance masks, which --dataset_mode unaligned does not load"),
        (["--dataset_mode", "single_seg"], "--dataset_mode single_seg loads one folder; training needs both domains"),
    ],
)
def test_bad_flags_are_one_line_usage_errors(shapes_root, tmp_path, flags, message):
    proc = cli("train.py", *train_args(shapes_root, tmp_path / "ck"), *flags, code=2)
    assert message in error_of(proc)
    assert not (tmp_path / "ck").exists()


# runs and results are never overwritten ------------------------------------------------------------------------
def test_reusing_a_name_refuses_and_leaves_the_run_untouched(trained, shapes_root, tmp_path):
    ck = shutil.copytree(trained / "ck", tmp_path / "ck")
    before = snapshot(ck)
    proc = cli("train.py", *train_args(shapes_root, ck, "run", "--ngf", "8"), code=1)
    assert "already holds a run" in error_of(proc) and "--continue_train" in error_of(proc)
    assert snapshot(ck) == before
    cli("train.py", *train_args(shapes_root, ck, "run", "--overwrite", "--ngf", "8"), code=0)
    assert torch.load(ck / "run" / "latest_net_G_A.pth")["encoder_img.1.weight"].shape[0] == 8


def test_run_files_are_readable_by_others_as_the_umask_allows(trained):
    mode = 0o666 & ~_umask()
    for path in [*(trained / "ck" / "run").glob("*.pth"), *(trained / "ck" / "run").glob("*.json")]:
        assert stat.S_IMODE(path.stat().st_mode) == mode, path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_extending_a_finished_run_trains_at_the_new_schedules_rate(trained, shapes_root, tmp_path):
    ck = shutil.copytree(trained / "ck", tmp_path / "ck")
    before = torch.load(ck / "run" / "latest_net_G_A.pth")
    proc = cli("train.py", *train_args(shapes_root, ck, "run"), "--niter", "2", "--continue_train", code=0)
    assert "epoch 2, learning rate 0.0002000" in proc.stdout
    after = torch.load(ck / "run" / "latest_net_G_A.pth")
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_resuming_with_another_architecture_names_the_flag(trained, shapes_root, tmp_path):
    ck = shutil.copytree(trained / "ck", tmp_path / "ck")
    before = snapshot(ck)
    proc = cli("train.py", *train_args(shapes_root, ck, "run", "--ngf", "8", "--niter", "2", "--continue_train"), code=1)
    assert "--ngf 8 differs from the run's" in error_of(proc) and "latest_training_state.pth (--ngf 4)" in error_of(proc)
    assert "resume with the run's flags, or start a new --name" in error_of(proc)
    assert snapshot(ck) == before


def test_results_are_refused_then_replaced_whole(trained, shapes_root, tmp_path):
    res = shutil.copytree(trained / "res", tmp_path / "res")
    stale = res / "run" / "test_latest" / "images" / "stale_fake_B_img.png"
    shutil.copy(res / "run" / "test_latest" / "images" / "00000_fake_B_img.png", stale)
    before = snapshot(res)
    args = ["--dataroot", shapes_root, "--checkpoints_dir", trained / "ck", "--name", "run", *TINY, "--results_dir", res]
    proc = cli("test.py", *args, code=1)
    assert "already holds results" in error_of(proc) and "--overwrite" in error_of(proc)
    assert snapshot(res) == before
    cli("test.py", *args, "--overwrite", code=0)
    assert not stale.exists() and (res / "run" / "test_latest" / "images" / "00000_fake_B_img.png").is_file()
    assert [p.name for p in res.glob("run/.*")] == [".test_latest.lock"]  # no partial or old folder left


def test_evaluate_refuses_a_training_page(trained, tmp_path):
    ck = shutil.copytree(trained / "ck", tmp_path / "ck")
    before = snapshot(ck)
    proc = cli("evaluate.py", "--results", ck / "run" / "web", code=1)
    assert "not a results folder of test.py" in error_of(proc)
    assert snapshot(ck) == before


# damaged checkpoints ---------------------------------------------------------------------------------------------
def test_a_truncated_state_file_is_named(trained, shapes_root, tmp_path):
    ck = shutil.copytree(trained / "ck", tmp_path / "ck")
    state = ck / "run" / "latest_training_state.pth"
    state.write_bytes(state.read_bytes()[:1000])
    proc = cli("train.py", *train_args(shapes_root, ck, "run", "--niter", "2", "--continue_train"), code=1)
    assert "latest_training_state.pth does not match checkpoint 'latest'" in error_of(proc)
    (ck / "run" / "latest_checkpoint.json").unlink()  # a checkpoint from before manifests: loading names the file
    proc = cli("train.py", *train_args(shapes_root, ck, "run", "--niter", "2", "--continue_train"), code=1)
    assert "latest_training_state.pth cannot be loaded" in error_of(proc)


@pytest.mark.parametrize("content, message", [(b"\x00garbage", "cannot be loaded"), ("list", "holds a list")])
def test_foreign_weight_files_are_named(trained, shapes_root, tmp_path, content, message):
    run = tmp_path / "ck" / "foreign"
    run.mkdir(parents=True)
    for name in ("G_A", "G_B"):
        if content == "list":
            torch.save([1, 2, 3], run / f"200_net_{name}.pth")
        else:
            (run / f"200_net_{name}.pth").write_bytes(content)
    proc = cli("test.py", "--dataroot", shapes_root, "--checkpoints_dir", tmp_path / "ck", "--name", "foreign", "--epoch", "200",
               *TINY, "--results_dir", tmp_path / "res", code=1)  # fmt: skip
    assert "200_net_G_A.pth" in error_of(proc) and message in error_of(proc)
    assert not (tmp_path / "res" / "foreign" / "test_200").exists()


def test_weights_that_do_not_fit_name_the_training_flags(trained, shapes_root, tmp_path):
    # the run's train_opt.json says --ngf 4: a contradicting flag is refused before anything loads
    flags = ["--dataroot", shapes_root, "--name", "run", "--ngf", "8", *TINY[4:], "--gpu_ids", "-1", "--results_dir",
             tmp_path / "res"]  # fmt: skip
    proc = cli("test.py", "--checkpoints_dir", trained / "ck", *flags, code=2)
    assert "--ngf 8 differs from the run's" in error_of(proc) and "(--ngf 4): drop the flag" in error_of(proc)
    # weight files without train_opt.json (as the authors published theirs): loading says that they do not fit
    ck = shutil.copytree(trained / "ck", tmp_path / "ck")
    (ck / "run" / "train_opt.json").unlink()
    proc = cli("test.py", "--checkpoints_dir", ck, *flags, code=1)
    assert "does not fit" in error_of(proc)


# faults during training ------------------------------------------------------------------------------------------
def test_a_diverging_run_stops_without_touching_the_last_checkpoint(trained, shapes_root, tmp_path):
    ck = shutil.copytree(trained / "ck", tmp_path / "ck")
    before = snapshot(ck / "run")
    proc = cli("train.py", *train_args(shapes_root, ck, "run", "--niter", "3", "--continue_train", "--lr", "1e30"), code=1)
    assert "training diverged" in error_of(proc) and "no checkpoint was written" in error_of(proc)
    after = snapshot(ck / "run")
    assert {k: v for k, v in after.items() if k.endswith(".pth")} == {k: v for k, v in before.items() if k.endswith(".pth")}


def _latest(snap: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in snap.items() if "latest" in k}


def _file_size_limit(limit: int):
    """For a child process: every file it writes stops at ``limit`` bytes, the write failing with EFBIG (a real
    failure of the kernel's write, which reaches torch's zip writer as the full disk does)."""

    def set_limit() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the failing write returns EFBIG instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return set_limit


def test_a_write_that_fails_inside_torch_save_is_one_line_and_keeps_the_last_checkpoint(trained, shapes_root, tmp_path):
    """torch's zip writer reports a failed write as a RuntimeError about positions; the save names the file."""
    ck = shutil.copytree(trained / "ck", tmp_path / "ck")
    before = snapshot(ck / "run")
    args = train_args(shapes_root, ck, "run", "--niter", "2", "--continue_train")
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, preexec_fn=_file_size_limit(24_000))  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    line = error_of(proc)
    assert line.startswith("error: the file size limit (ulimit -f) stopped writing") and str(ck / "run") in line
    assert _latest(snapshot(ck / "run")) == _latest(before)
    assert not list((ck / "run").glob(".*.tmp"))


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs (where mounting is allowed: root, or a container with that right)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if shutil.which("mount") is None or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)],
                                                       capture_output=True).returncode:  # fmt: skip
        pytest.skip("mounting a small tmpfs is not allowed here (needs root): the full-disk test cannot run")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


@pytest.mark.parametrize("fill", [0, 150_000, 300_000, 450_000, 600_000])
def test_a_full_disk_names_the_folder_and_keeps_the_last_checkpoint(trained, shapes_root, small_disk, fill):
    """A real full disk at several points of the save (the weights, the training state)."""
    run = small_disk / "run"
    run.mkdir()
    for file in (trained / "ck" / "run").glob("*"):
        if file.name.startswith("latest") or file.name == "train_opt.json":  # 3.1 MB: the rest of the disk is the save's
            shutil.copy(file, run)
    (small_disk / "filler").write_bytes(bytes(fill))
    before = snapshot(small_disk / "run")
    proc = cli("train.py", *train_args(shapes_root, small_disk, "run", "--niter", "2", "--continue_train"), code=1)
    line = error_of(proc)
    assert line.startswith("error: no space left on the device while writing") and str(small_disk / "run") in line
    assert _latest(snapshot(small_disk / "run")) == _latest(before)
    assert not list((small_disk / "run").glob(".*.tmp"))


@pytest.mark.slow
def test_ctrl_c_saves_mid_epoch_and_the_run_resumes_without_repeating_images(shapes_root, tmp_path):
    args = train_args(shapes_root, tmp_path / "ck", "run", "--niter", "3", "--print_freq", "1", "--seed", "0")
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    for line in proc.stdout:  # the first loss line: training is under way
        if line.startswith("(epoch"):
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "interrupted: saved 'latest' at epoch" in err and "--continue_train" in err
    state = torch.load(tmp_path / "ck" / "run" / "latest_training_state.pth", weights_only=False)
    done = state["counters"]["total_iters"]
    assert 0 < done < 18
    resumed = cli("train.py", *args, "--continue_train", code=0)
    assert "resumed from 'latest'" in resumed.stdout
    state = torch.load(tmp_path / "ck" / "run" / "latest_training_state.pth", weights_only=False)
    assert state["counters"]["total_iters"] == 18 and state["counters"]["epoch"] == 4  # 3 epochs of 6, none twice


@pytest.mark.slow
def test_resuming_from_an_epoch_checkpoint_reproduces_a_straight_run(shapes_root, tmp_path):
    common = [*TINY, "--display_id", "0", "--dataroot", shapes_root, "--checkpoints_dir", tmp_path, "--seed", "3",
              "--niter_decay", "0"]  # fmt: skip
    cli("train.py", *common, "--name", "straight", "--niter", "2", code=0)
    cli("train.py", *common, "--name", "resumed", "--niter", "1", code=0)
    cli("train.py", *common, "--name", "resumed", "--niter", "2", "--continue_train", code=0)
    for name in ("G_A", "G_B", "D_A", "D_B"):
        straight = torch.load(tmp_path / "straight" / f"latest_net_{name}.pth")
        resumed = torch.load(tmp_path / "resumed" / f"latest_net_{name}.pth")
        assert all(torch.equal(straight[k], resumed[k]) for k in straight), name


SAVER = """
import sys, torch
sys.path.insert(0, sys.argv[2])
from instagan.util.file_set import write_set
generation = 0
while True:
    generation += 1
    files = {f"latest_net_{n}.pth": {"w": torch.full((200_000,), float(generation))} for n in ("G_A", "G_B")}
    files["latest_training_state.pth"] = {"generation": generation, "x": torch.full((200_000,), float(generation))}
    write_set(sys.argv[1], "latest", files)
    print(generation, flush=True)
"""


@pytest.mark.slow
def test_kill_9_at_any_point_of_a_save_leaves_a_consistent_checkpoint(tmp_path):
    folder = tmp_path / "run"
    rng = random.Random(0)
    survived = []
    for _ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(folder), str(ROOT)], stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()  # at least one complete save
        time.sleep(rng.uniform(0.0, 0.3))
        proc.kill()
        proc.wait()
        file_set.recover(folder)  # what train.py does first
        assert not list(folder.glob(".*.tmp"))
        file_set.verify(folder, "latest")
        state = torch.load(folder / "latest_training_state.pth", weights_only=True)
        generation = state["generation"]
        for name in ("G_A", "G_B"):
            assert torch.load(folder / f"latest_net_{name}.pth")["w"][0].item() == generation
        survived.append(generation)
        assert json.loads((folder / "latest_checkpoint.json").read_text())["tag"] == "latest"
    assert len(set(survived)) > 1  # the kills landed at different points


def test_a_reader_racing_a_saver_never_loads_a_mixed_or_half_written_set(tmp_path):
    """Hundreds of loads while another process saves 'latest' again and again: every load is one whole save."""
    folder = tmp_path / "run"
    names = ["latest_net_G_A.pth", "latest_net_G_B.pth", "latest_training_state.pth"]
    saver = subprocess.Popen([sys.executable, "-c", SAVER, str(folder), str(ROOT)], stdout=subprocess.PIPE, text=True)
    try:
        saver.stdout.readline()
        seen = set()
        for _ in range(300):
            loaded = file_set.load_set(folder, "latest", names)
            generation = loaded["latest_training_state.pth"]["generation"]
            for name in names[:2]:
                assert torch.equal(loaded[name]["w"], torch.full((200_000,), float(generation))), name
            assert torch.equal(loaded[names[2]]["x"], torch.full((200_000,), float(generation)))
            seen.add(generation)
    finally:
        saver.kill()
        saver.wait()
    assert len(seen) > 10  # the loads did overlap many saves


@pytest.mark.slow
def test_translating_from_a_run_that_is_saving_never_fails_or_mixes(trained, shapes_root, tmp_path):
    """The API loads 'latest' again and again while train.py saves it after every batch."""
    from instagan.translator import Translator

    ck = shutil.copytree(trained / "ck", tmp_path / "ck")
    args = train_args(shapes_root, ck, "run", "--niter", "40", "--continue_train", "--save_latest_freq", "1")
    trainer = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *map(str, args)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    loads = 0
    try:
        while trainer.poll() is None and loads < 150:
            translator = Translator.from_checkpoint(ck / "run", device="cpu")
            assert translator.model.netG_A is not None
            loads += 1
    finally:
        trainer.kill()
        trainer.wait()
    assert loads >= 50


class _Failing(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        raise ValueError(f"sample {index} is bad: fix it")


def test_errors_raised_in_data_loader_workers_come_back_as_their_own_line():
    from instagan.util.cli import one_line

    loader = torch.utils.data.DataLoader(_Failing(), num_workers=1)
    with pytest.raises(ValueError) as caught:
        next(iter(loader))
    assert "Original Traceback" in str(caught.value)
    assert one_line(caught.value) == "sample 0 is bad: fix it"


# shared run folders never run code ---------------------------------------------------------------------------------
class Payload:
    """A pickle that runs a shell command when it is loaded without weights_only."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _rehash(manifest: Path, file: Path) -> None:
    """What an attacker can do: the manifest's SHA-256 is a plain hash, with no secret."""
    entries = json.loads(manifest.read_text())
    entries["files"][file.name].update(sha256=hashlib.sha256(file.read_bytes()).hexdigest(), size=file.stat().st_size)
    manifest.write_text(json.dumps(entries))


def test_a_training_state_that_would_run_code_is_refused_and_never_run(trained, shapes_root, tmp_path):
    ck = shutil.copytree(trained / "ck", tmp_path / "ck")
    marker, state = tmp_path / "payload_ran", ck / "run" / "latest_training_state.pth"
    torch.save({"model": Payload(marker), "counters": {}}, state)
    _rehash(ck / "run" / "latest_checkpoint.json", state)
    resume = train_args(shapes_root, ck, "run", "--niter", "2", "--continue_train")
    proc = cli("train.py", *resume, code=1)
    assert "latest_training_state.pth holds objects other than tensors and numbers" in error_of(proc)
    assert "refused" in error_of(proc) and not marker.exists()
    (ck / "run" / "latest_checkpoint.json").unlink()  # a checkpoint from before manifests is loaded as safely
    proc = cli("train.py", *resume, code=1)
    assert "holds objects other than tensors" in error_of(proc) and not marker.exists()


def test_weight_files_that_would_run_code_are_refused_and_never_run(trained, shapes_root, tmp_path):
    ck = shutil.copytree(trained / "ck", tmp_path / "ck")
    marker = tmp_path / "payload_ran"
    for name in ("G_A", "G_B"):
        torch.save({"encoder_img.1.weight": Payload(marker)}, ck / "run" / f"latest_net_{name}.pth")
        _rehash(ck / "run" / "latest_checkpoint.json", ck / "run" / f"latest_net_{name}.pth")
    proc = cli("test.py", "--dataroot", shapes_root, "--checkpoints_dir", ck, "--name", "run", *TINY, "--results_dir",
               tmp_path / "res", code=1)  # fmt: skip
    assert "latest_net_G_A.pth holds objects other than tensors" in error_of(proc) and not marker.exists()


def test_a_training_state_of_an_earlier_version_still_resumes(trained, shapes_root, tmp_path):
    # states written before RNG states were plain values hold NumPy's RNG tuple: its exact types are allowed
    ck = shutil.copytree(trained / "ck", tmp_path / "ck")
    state_file = ck / "run" / "latest_training_state.pth"
    state = torch.load(state_file, weights_only=True)
    for rng in {id(r): r for r in [state["rng"], *state["rng_per_rank"]]}.values():  # rng is rng_per_rank[0]
        numpy = rng["numpy"]
        rng["numpy"] = (numpy["key"], numpy["keys"].numpy().astype(np.uint32), numpy["pos"], numpy["has_gauss"], numpy["gauss"])
    torch.save(state, state_file)
    _rehash(ck / "run" / "latest_checkpoint.json", state_file)
    cli("train.py", *train_args(shapes_root, ck, "run", "--niter", "2", "--continue_train"), code=0)


# one run per folder, one writer per results folder -----------------------------------------------------------------
def _start(script, *args):
    return subprocess.Popen([sys.executable, str(ROOT / script), *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _wait_for_lock(lock: Path, process: subprocess.Popen) -> None:
    for _ in range(600):
        if lock.is_file() and f"process {process.pid} " in lock.read_text():
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError(f"{lock} was never taken")


def test_two_runs_with_one_name_do_not_share_the_folder(shapes_root, tmp_path):
    # long enough (about 30 s) that it still holds the folder while the second starts, even on a loaded machine
    first = _start("train.py", *train_args(shapes_root, tmp_path / "ck", "run", "--niter", "20"))
    _wait_for_lock(tmp_path / "ck" / "run" / ".lock", first)
    second = cli("train.py", *train_args(shapes_root, tmp_path / "ck", "run", "--overwrite"), code=1)
    assert error_of(second).startswith(f"error: {tmp_path / 'ck' / 'run'} is in use by process {first.pid} (train.py")
    assert "wait for it to finish, or choose another --name" in error_of(second)
    assert first.wait() == 0  # the first run is untouched by the second
    log = (tmp_path / "ck" / "run" / "loss_log.txt").read_text()
    assert log.count("Training Loss") == 1
    # a run that stopped before its first checkpoint left its options: a new run there is refused too
    (tmp_path / "ck" / "begun").mkdir()
    (tmp_path / "ck" / "begun" / "train_opt.json").write_text("{}")
    begun = cli("train.py", *train_args(shapes_root, tmp_path / "ck", "begun"), code=1)
    assert "already holds a run (train_opt.json)" in error_of(begun)


def test_two_tests_into_one_results_folder_do_not_mix(trained, shapes_root, tmp_path):
    args = ["--dataroot", shapes_root, "--checkpoints_dir", trained / "ck", "--name", "run", *TINY, "--results_dir",
            tmp_path / "res"]  # fmt: skip
    cli("test.py", *args, code=0)
    # a writer that holds the folder (here this process, so that the test cannot race a fast test.py) refuses others
    with FolderLock(tmp_path / "res" / "run" / ".test_latest.lock", "test_latest", "wait"):
        second = cli("test.py", *args, "--overwrite", code=1)
    assert f"test_latest is in use by process {os.getpid()} (" in error_of(second)
    manifest = json.loads((tmp_path / "res" / "run" / "test_latest" / "results.json").read_text())
    for sample in manifest["samples"]:  # every file the manifest lists is there
        assert all((tmp_path / "res" / "run" / "test_latest" / path).is_file() for path in sample["images"].values())
    # a crashed writer's partial folder is cleared by the next one; a live writer's never is
    stale = tmp_path / "res" / "run" / ".test_latest.partial-999999999-deadbeef"
    stale.mkdir()
    cli("test.py", *args, "--overwrite", code=0)
    assert not stale.exists()


# inputs read alike everywhere --------------------------------------------------------------------------------------
def _rotated_jpeg(path: Path, upright: np.ndarray) -> None:
    """Store an upright (H, W, 3) image as a JPEG turned 90 degrees, with EXIF orientation 6 to turn it back."""
    stored = Image.fromarray(np.rot90(upright, k=1).copy())  # counter-clockwise: orientation 6 turns it clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(path, quality=95, exif=exif)


def test_exif_orientation_is_applied_everywhere_and_said(shapes_root, tmp_path):
    upright = np.zeros((40, 32, 3), np.uint8)
    upright[:10] = 255  # a white band at the top of the upright view
    root = tmp_path / "data"
    for split in ("train", "test"):
        for domain in "AB":
            (root / f"{split}{domain}_seg").mkdir(parents=True)
            (root / f"{split}{domain}").mkdir()
            _rotated_jpeg(root / f"{split}{domain}" / "phone.jpg", upright)
            mask = np.zeros((40, 32), np.uint8)
            mask[12:30, 8:24] = 255  # drawn on the upright view
            Image.fromarray(mask).save(root / f"{split}{domain}_seg" / "phone_0.png")
    image = read_image(root / "trainA" / "phone.jpg")
    assert image.shape == (3, 40, 32) and image[:, :8].float().mean() > 200 and image[:, 20:].float().mean() < 50
    proc = cli("train.py", *train_args(root, tmp_path / "ck"), code=0)
    assert "turned upright by its EXIF orientation (6)" in proc.stderr
    out = cli("translate.py", "--input", root / "testA", "--name", "run", "--checkpoints_dir", tmp_path / "ck", "--masks",
              root / "testA_seg", "--gpu_ids", "-1", "--results_dir", tmp_path / "res", code=0)  # fmt: skip
    assert "turned upright" in out.stderr
    side = np.asarray(Image.open(tmp_path / "res" / "run" / "translate_latest" / "phone_side_by_side.png").convert("L"))
    photo = side[:, : side.shape[0]]  # the input, resized to the run's square crop: its white band is at the top
    assert photo[: len(photo) // 6].mean() > 200 and photo[len(photo) // 2 :].mean() < 50


def test_sixteen_bit_photos_are_read_alike_by_translate_py_and_the_api(trained, shapes_root, tmp_path):
    from instagan.translator import Translator

    grey = (np.arange(32 * 32).reshape(32, 32) * 60).astype(np.uint16)  # 0 .. 61380
    Image.fromarray(grey).save(tmp_path / "deep.png")
    translator = Translator.from_checkpoint(trained / "ck" / "run", device="cpu")
    mask = np.zeros((32, 32), np.uint8)
    mask[4:20, 4:20] = 255
    result = translator.translate(Image.open(tmp_path / "deep.png"), [mask])
    source = (result.source[0] + 1) * 127.5
    assert 100 < float(source.mean()) < 155 and float(source.min()) < 5  # scaled, not clipped to white
    torch.testing.assert_close(result.source[0], translator.translate(read_image(tmp_path / "deep.png"), [mask]).source[0])



def test_the_api_reads_floats_in_zero_one_and_refuses_other_ranges(trained, shapes_root):
    from instagan.translator import Translator

    translator = Translator.from_checkpoint(trained / "ck" / "run", device="cpu")
    image = read_image(next((shapes_root / "testA").glob("*.png")))  # uint8 (3, 32, 32)
    mask = torch.zeros(32, 32, dtype=torch.uint8)
    mask[4:20, 6:18] = 255
    expected = translator.translate(image, [mask])
    # what ToTensor gives: an image in [0, 1], a 0/1 mask; the same translation, the instance only where the mask is 1
    floats = translator.translate(image.float() / 255, [mask.float() / 255])
    torch.testing.assert_close(floats.translated, expected.translated)
    assert float((floats.source_masks > 0).float().mean()) == pytest.approx(float((mask > 0).float().mean()))
    with pytest.raises(ValueError, match=r"the image: float values from -1 to 1; floats must lie in \[0, 1\]"):
        translator.translate(image.float() / 127.5 - 1, [mask])
    with pytest.raises(ValueError, match=r"mask 0: float values from -1 to 1"):
        translator.translate(image, [mask.float() / 127.5 - 1])
    with pytest.raises(ValueError, match=r"mask 0: torch.int64 pixels"):
        translator.translate(image, [mask.long()])

def _bomb(path: Path) -> None:
    """A small PNG that declares more pixels than PIL allows (a decompression bomb)."""
    Image.new("1", (20000, 20000)).save(path)


def test_decompression_bombs_are_skipped_in_training_and_refused_by_translate_py(trained, shapes_root, tmp_path):
    root = copy_data(shapes_root, tmp_path / "data")
    _bomb(root / "trainA" / "bomb.png")
    proc = cli("train.py", *train_args(root, tmp_path / "ck"), code=0)
    assert "bomb.png" in proc.stderr and "cannot be read and are skipped" in proc.stderr
    (tmp_path / "photos").mkdir()
    _bomb(tmp_path / "photos" / "bomb.png")
    (tmp_path / "masks").mkdir()
    proc = cli("translate.py", "--input", tmp_path / "photos", "--name", "run", "--checkpoints_dir", trained / "ck", "--masks",
               tmp_path / "masks", "--gpu_ids", "-1", "--results_dir", tmp_path / "res", code=1)  # fmt: skip
    assert "bomb.png: cannot read this image" in error_of(proc) and "decompression bomb" in error_of(proc)


# each source image once, side files that are damaged, helpers at the CLI's standard ---------------------------------
def test_a_shorter_domain_is_translated_and_scored_once_per_image(trained, shapes_root, tmp_path):
    root = copy_data(shapes_root, tmp_path / "data")
    for path in sorted((root / "testB").glob("*.png"))[1:]:  # 3 A images, 1 B image
        path.unlink()
    cli("test.py", "--dataroot", root, "--checkpoints_dir", trained / "ck", "--name", "run", *TINY, "--results_dir",
        tmp_path / "res", code=0)  # fmt: skip
    folder = tmp_path / "res" / "run" / "test_latest"
    samples = json.loads((folder / "results.json").read_text())["samples"]
    assert [s["direction"] for s in samples].count("A->B") == 3 and [s["direction"] for s in samples].count("B->A") == 1
    cli("evaluate.py", "--results", folder, "--fid", "none", "--classifier_steps", "5", "--classifiers", "1", "--cache",
        tmp_path / "judge.pth", code=0)  # fmt: skip
    report = json.loads((folder / "metrics.json").read_text())["directions"]
    assert report["A->B"]["images"] == 3 and report["B->A"]["images"] == 1


def test_damaged_side_files_of_evaluate_are_named_or_rebuilt(trained, shapes_root, tmp_path):
    folder = shutil.copytree(trained / "res" / "run" / "test_latest", tmp_path / "results")
    manifest = json.loads((folder / "results.json").read_text())
    del manifest["samples"][0]["images"]["translated"]
    (folder / "results.json").write_text(json.dumps(manifest))
    evaluate = ["evaluate.py", "--results", folder, "--fid", "none", "--classifier_steps", "5", "--classifiers", "1"]
    proc = cli(*evaluate, "--cache", tmp_path / "judge.pth", code=1)
    assert "results.json is damaged" in error_of(proc) and "lacks translated" in error_of(proc)
    shutil.copy(trained / "res" / "run" / "test_latest" / "results.json", folder / "results.json")
    (tmp_path / "judge.pth").write_bytes(b"not a judge")  # a damaged cache: trained again and rewritten
    proc = cli(*evaluate, "--cache", tmp_path / "judge.pth", code=0)
    assert "the judge is trained again" in proc.stderr and torch.load(tmp_path / "judge.pth", weights_only=True)["members"]
    (tmp_path / "blocked").write_text("a file where a folder should be")  # a cache that cannot be written: said, then on
    proc = cli(*evaluate, "--cache", tmp_path / "blocked" / "judge.pth", code=0)
    assert "the judge could not be cached" in proc.stderr and "pass --cache" in proc.stderr


def test_mask_r_cnn_weights_that_are_not_are_one_line(trained, shapes_root, tmp_path):
    torch.save({"backbone.body.conv1.weight": torch.zeros(1)}, tmp_path / "wrong.pth")
    (tmp_path / "garbage.pth").write_bytes(b"\x00garbage")
    for weights, message in ((tmp_path / "wrong.pth", "does not hold torchvision's Mask R-CNN"),
                             (tmp_path / "garbage.pth", "garbage.pth cannot be loaded")):  # fmt: skip
        proc = cli("datasets/make_masks.py", "--input", shapes_root / "testA", "--out", tmp_path / "m", "--category", "sheep",
                   "--weights", weights, code=1)  # fmt: skip
        assert message in error_of(proc)
        run = ["--name", "run", "--checkpoints_dir", trained / "ck", "--gpu_ids", "-1", "--results_dir", tmp_path / "r"]
        proc = cli("translate.py", "--input", shapes_root / "testA", *run, "--category", "sheep", "--weights", weights, code=1)
        assert message in error_of(proc)


def test_page_links_survive_special_characters_and_names_are_escaped(tmp_path):
    from urllib.parse import unquote

    from instagan.reporting import page

    doc = page.HTML(tmp_path, "<title> & more")
    names = ["a#1.png", "b?2.png", "c%3.png", "d<4>.png"]
    for name in names:
        (doc.img_dir / name).write_bytes(b"")
    doc.add_images(names, ["<b>bold</b>", "x", "y", "z"], names)
    html = doc.save().read_text()
    links = re.findall(r'href="images/([^"]+)"', html)
    assert [unquote(link) for link in links] == names and all(c not in link for link in links for c in "#?<>")
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html and "&lt;title&gt; &amp; more" in html


def test_a_new_set_of_a_tag_removes_the_files_the_old_set_had_and_it_has_not(tmp_path):
    # a run saved with --ema_decay, then resumed without it: 'latest' no longer holds averages, on disk either
    file_set.write_set(tmp_path, "latest", {"latest_net_G_A.pth": {"w": torch.zeros(2)}, "latest_net_G_A_ema.pth": {}})
    (tmp_path / "notes.txt").write_text("mine")
    file_set.write_set(tmp_path, "5", {"5_net_G_A_ema.pth": {}})
    file_set.write_set(tmp_path, "latest", {"latest_net_G_A.pth": {"w": torch.ones(2)}})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["5_checkpoint.json", "5_net_G_A_ema.pth", "latest_checkpoint.json",
                                                          "latest_net_G_A.pth", "notes.txt"]  # fmt: skip
    assert torch.equal(file_set.load_set(tmp_path, "latest", ["latest_net_G_A.pth"])["latest_net_G_A.pth"]["w"], torch.ones(2))
    # a crash after the commit, before the old files went: recover() finishes it
    file_set.write_set(tmp_path, "latest", {"latest_net_G_A.pth": {}, "latest_net_G_B_ema.pth": {}})
    manifest = json.loads((tmp_path / "latest_checkpoint.json").read_text())
    manifest.update(removed=["latest_net_G_B_ema.pth"], files={"latest_net_G_A.pth": manifest["files"]["latest_net_G_A.pth"]})
    (tmp_path / "latest_checkpoint.json").write_text(json.dumps(manifest))
    file_set.recover(tmp_path)
    assert not (tmp_path / "latest_net_G_B_ema.pth").exists() and (tmp_path / "latest_net_G_A.pth").is_file()
    # a foreign manifest never deletes anything outside its tag's own files
    outside = tmp_path.parent / f"{tmp_path.name}_outside.txt"
    outside.write_text("keep")
    names = {f"../{outside.name}": {}, "notes.txt": {}, "5_net_G_A_ema.pth": {}, "latest_net_G_A.pth": {}}
    (tmp_path / "latest_checkpoint.json").write_text(json.dumps({"tag": "latest", "files": names}))
    file_set.write_set(tmp_path, "latest", {"latest_net_G_A.pth": {}})
    assert outside.read_text() == "keep" and (tmp_path / "notes.txt").is_file() and (tmp_path / "5_net_G_A_ema.pth").is_file()
