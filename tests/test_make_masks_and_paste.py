import json

import numpy as np
import pytest
import torch
from PIL import Image

from instagan.data import detection
from instagan.data.builders import masks as mask_builder
from instagan.util import instance_set
from instagan.util.cli import UserError
from tests.test_cli import TINY, run


def test_select_instances_thresholds_category_and_order():
    masks = torch.zeros(4, 1, 16, 16)
    masks[0, 0, :4, :4] = 0.9  # small, right category
    masks[1, 0, :10, :10] = 0.8  # large, right category
    masks[2, 0, :, :] = 0.9  # other category
    masks[3, 0, :12, :12] = 0.9  # right category, low score
    detections = {"labels": torch.tensor([20, 20, 1, 20]), "scores": torch.tensor([0.9, 0.8, 0.99, 0.3]), "masks": masks}
    chosen = detection.select_instances(detections, 20, score=0.5, max_instances=5)
    assert [int(m.sum()) for m in chosen] == [100, 16]
    assert len(detection.select_instances(detections, 20, score=0.5, max_instances=1)) == 1
    assert detection.select_instances(detections, 20, score=0.95, max_instances=5) == []


def photos(folder, n=2, size=64):
    folder.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (size, size, 3), dtype=np.uint8)).save(folder / f"p{i}.jpg")


def test_make_masks_mechanics_with_an_untrained_model(tmp_path):
    photos(tmp_path / "in")
    torch.manual_seed(0)
    common = ["--input", str(tmp_path / "in"), "--category", "sheep", "--weights", "none", "--min_size", "64"]
    # nothing scores 0.99 with untrained weights: every photo is skipped, with a warning
    with pytest.warns(UserWarning, match="lower --score"):
        counts = mask_builder.main([*common, "--out", str(tmp_path / "none"), "--score", "0.99"])
    assert counts == {"written": 0, "instances": 0, "skipped": 2}
    counts = mask_builder.main([*common, "--out", str(tmp_path / "all"), "--score", "0", "--max_instances", "3", "--keep_empty"])
    assert counts["written"] == 2 and counts["instances"] <= 6
    assert sorted(p.name for p in (tmp_path / "all" / "testA").iterdir()) == ["p0.png", "p1.png"]
    for mask in (tmp_path / "all" / "testA_seg").glob("*.png"):
        assert np.asarray(Image.open(mask)).shape == (64, 64)
    # it owns only the domain it writes: a rerun into the same --out replaces testA(_seg), and keeps trainA beside it
    (tmp_path / "all" / "trainA").mkdir()
    (tmp_path / "all" / "trainA" / "mine.png").write_bytes(b"")
    (tmp_path / "all" / "testA" / "stale.png").write_bytes(b"")
    mask_builder.main([*common, "--out", str(tmp_path / "all"), "--score", "0", "--max_instances", "1", "--keep_empty"])
    assert sorted(p.name for p in (tmp_path / "all" / "testA").iterdir()) == ["p0.png", "p1.png"]
    assert (tmp_path / "all" / "trainA" / "mine.png").is_file()


def test_make_masks_errors(tmp_path, monkeypatch):
    photos(tmp_path / "in", n=1)
    with pytest.raises(UserError, match="did you mean sheep"):
        mask_builder.main(["--input", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--category", "shep"])

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(UserError, match="maskrcnn_resnet50_fpn_coco.*put it there"):
        mask_builder.main(["--input", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--category", "sheep"])


def test_paste_background_keeps_the_input_outside_the_instances():
    source, translated = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    m_in, m_out = -torch.ones(1, 1, 16, 16), -torch.ones(1, 1, 16, 16)
    m_in[0, 0, 2:5, 2:5] = 1
    m_out[0, 0, 10:12, 10:12] = 0.5
    pasted = instance_set.paste_background(source, translated, m_in, m_out, radius=1)
    region = torch.zeros(16, 16, dtype=torch.bool)
    region[1:6, 1:6] = True
    region[9:13, 9:13] = True
    assert torch.equal(pasted[0][:, region], translated[0][:, region])
    assert torch.equal(pasted[0][:, ~region], source[0][:, ~region])


def test_test_py_paste_background_is_pixel_exact(shapes_root, tmp_path):
    ckpt = tmp_path / "ck"
    run("train.py", "--dataroot", shapes_root, "--name", "p", "--checkpoints_dir", ckpt, *TINY, "--niter", "1", "--seed", "0",
        "--niter_decay", "0", "--display_id", "0", "--max_dataset_size", "2", "--resize_or_crop", "none")  # fmt: skip
    run("test.py", "--dataroot", shapes_root, "--name", "p", "--checkpoints_dir", ckpt, "--results_dir", tmp_path / "r",
        *TINY, "--resize_or_crop", "none", "--paste_background", "--paste_dilation", "2")  # fmt: skip
    images = tmp_path / "r" / "p" / "test_latest" / "images"
    real = np.asarray(Image.open(images / "00000_real_A_img.png")).astype(int)
    fake = np.asarray(Image.open(images / "00000_fake_B_img.png")).astype(int)
    union = np.zeros(real.shape[:2], bool)
    for p in list(images.glob("00000_real_A_ins*.png")) + list(images.glob("00000_fake_B_ins*.png")):
        union |= np.asarray(Image.open(p))[..., 0] > 127
    grown = instance_set.dilate(torch.from_numpy(union), 2).numpy()
    assert (real[~grown] == fake[~grown]).all()
    assert (real[grown] != fake[grown]).any()
    # evaluate.py says that the background is the source's by construction, on the console and on the page
    evaluated = run("evaluate.py", "--results", tmp_path / "r" / "p" / "test_latest", "--fid", "none", "--cache",
                    tmp_path / "judge.pth", "--classifier_steps", "2", "--classifiers", "1", "--realism_splits", "0")  # fmt: skip
    assert "written with --paste_background" in evaluated.stdout
    metrics = json.loads((tmp_path / "r" / "p" / "test_latest" / "metrics.json").read_text())
    assert metrics["paste_background"] is True
    assert "by construction" in (tmp_path / "r" / "p" / "test_latest" / "index.html").read_text()
