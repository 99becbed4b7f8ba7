"""Runs written by this project before checkpoints had manifests, counters had positions and options named the mask
slots: they still resume and test."""

import json

import pytest
import torch

from tests.test_cli import SIZE32, TINY, run


@pytest.mark.slow  # trains, resumes and tests whole runs
def test_a_run_of_the_previous_layout_resumes_and_tests(shapes_root, tmp_path):
    common = ["--dataroot", shapes_root, "--checkpoints_dir", tmp_path, "--name", "old", *TINY, *SIZE32, "--display_id", "0"]
    run("train.py", *common, "--niter", "1", "--niter_decay", "0")
    folder = tmp_path / "old"
    # rewrite it as the previous version wrote it: no manifests, the state without the newer keys, old option names
    for manifest in folder.glob("*_checkpoint.json"):
        manifest.unlink()
    for path in folder.glob("*_training_state.pth"):
        state = torch.load(path, weights_only=False)
        old = {"model": {k: state["model"][k] for k in ("networks", "optimizers", "schedulers", "extra")},
               "counters": {k: state["counters"][k] for k in ("epoch", "total_iters")},
               "visualizer": state["visualizer"], "rng": state["rng"]}  # fmt: skip
        torch.save(old, path)
    options = json.loads((folder / "train_opt.json").read_text())
    options["max_instances"] = options.pop("mask_slots")
    (folder / "train_opt.json").write_text(json.dumps(options))

    out = run("train.py", *common, "--niter", "2", "--niter_decay", "0", "--continue_train")
    assert "resumed from 'latest': epoch 2" in out.stdout
    state = torch.load(folder / "latest_training_state.pth", weights_only=False)
    assert (state["counters"]["epoch"], state["counters"]["total_iters"]) == (3, 12)
    sizes = ["--loadSizeH", "32", "--loadSizeW", "32", "--fineSizeH", "32", "--fineSizeW", "32"]
    run("test.py", "--dataroot", shapes_root, "--checkpoints_dir", tmp_path, "--name", "old", "--epoch", "1", *TINY, *sizes,
        "--results_dir", tmp_path / "results", "--max_instances", "20")  # the flag's earlier name still works  # fmt: skip
    assert (tmp_path / "results" / "old" / "test_1" / "images" / "00000_fake_B_img.png").is_file()
