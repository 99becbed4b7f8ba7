"""The data set builders on tiny source sets in each format, written here in a temporary folder."""

import json

import numpy as np
import pytest
from PIL import Image

from instagan.data.builders import ccp, coco, mhp
from instagan.data.builders.common import SourceError


def photo(path, h, w, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


def coco_source(root):
    cats = [{"id": 20, "name": "sheep"}, {"id": 25, "name": "giraffe"}, {"id": 1, "name": "person"}]
    for split in ("train", "val"):
        images, anns = [], []
        for i, (cat, boxes) in enumerate(
            [(20, [(10, 10, 40, 30), (60, 50, 30, 30)]), (25, [(5, 5, 60, 80)]), (1, [(0, 0, 50, 50)])]
        ):
            img_id = i + 1
            images.append({"id": img_id, "file_name": f"{split}{img_id:04d}.jpg", "height": 100, "width": 120})
            photo(root / f"{split}2017" / f"{split}{img_id:04d}.jpg", 100, 120, img_id)
            for x, y, w, h in boxes:
                anns.append({"id": len(anns) + 1, "image_id": img_id, "category_id": cat, "iscrowd": 0, "area": w * h,
                             "bbox": [x, y, w, h], "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]})  # fmt: skip
        # a crowd annotation (RLE) and a tiny instance on the sheep image: both left out
        anns.append({"id": 99, "image_id": 1, "category_id": 20, "iscrowd": 1, "area": 400, "bbox": [80, 5, 20, 20],
                     "segmentation": {"counts": [100 * 80 + 5, 20, 80, 20], "size": [100, 120]}})  # fmt: skip
        anns.append({"id": 98, "image_id": 1, "category_id": 20, "iscrowd": 0, "area": 4, "bbox": [0, 90, 2, 2],
                     "segmentation": [[0, 90, 2, 90, 2, 92, 0, 92]]})  # fmt: skip
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        data = {"images": images, "annotations": anns, "categories": cats}
        (root / "annotations" / f"instances_{split}2017.json").write_text(json.dumps(data))


def test_coco_builder(tmp_path):
    coco_source(tmp_path / "coco")
    out = tmp_path / "out"
    args = ["--data_root", str(tmp_path / "coco"), "--save_root", str(out), "--image_size", "64"]
    counts = coco.main(args)
    assert counts == {"trainA": 1, "trainB": 1, "testA": 1, "testB": 1}
    sheep = sorted((out / "trainA_seg").glob("*.png"))
    assert [p.name for p in sheep] == ["train0001_0.png", "train0001_1.png"]  # crowd and tiny ones left out
    first = np.asarray(Image.open(sheep[0])) > 0
    assert abs(first.sum() - 40 * 30 * (64 / 120) * (64 / 100)) < 60  # the larger sheep first
    assert Image.open(out / "trainA" / "train0001.png").size == (64, 64)
    # a rerun into the same folder gives the same files, and leaves no stale masks behind
    (out / "trainA_seg" / "train0001_7.png").write_bytes(b"stale")
    coco.main(args)
    assert len(list((out / "trainA_seg").glob("*.png"))) == 2


def test_coco_builder_errors_are_clear(tmp_path):
    coco_source(tmp_path / "coco")
    with pytest.raises(SourceError, match="did you mean sheep"):
        coco.main(["--data_root", str(tmp_path / "coco"), "--save_root", str(tmp_path / "o"), "--cat1", "shep"])
    with pytest.raises(SourceError, match="annotations"):
        coco.main(["--data_root", str(tmp_path), "--save_root", str(tmp_path / "o")])


def mhp_source(root):
    (root / "annotations").mkdir(parents=True)
    for image_id, parts in (("1", [6, 6]), ("2", [5]), ("3", [4]), ("4", [6])):
        photo(root / "images" / f"{image_id}.jpg", 600, 400, int(image_id))
        for k, label in enumerate(parts, start=1):
            labels = np.zeros((600, 400, 3), np.uint8)
            labels[100 + 100 * k : 250 + 100 * k, 50:200] = label
            labels[50:80, 50:80] = 2  # hair: another part
            Image.fromarray(labels).save(root / "annotations" / f"{image_id}_{len(parts):02d}_{k:02d}.png")
    (root / "train_list.txt").write_text("1.jpg\n2.jpg\n3.jpg\n")
    (root / "test_list.txt").write_text("4.jpg\n")


def test_mhp_builder(tmp_path):
    mhp_source(tmp_path / "mhp")
    out = tmp_path / "out"
    counts = mhp.main(["--data_root", str(tmp_path / "mhp"), "--save_root", str(out)])
    assert counts == {"trainA": 1, "trainB": 1, "testA": 1, "testB": 0}
    assert Image.open(out / "trainA" / "1.png").size == (300, 450)
    assert sorted(p.name for p in (out / "trainA_seg").iterdir()) == ["1_0.png", "1_1.png"]  # two people in pants
    with pytest.raises(SourceError, match="did you mean skirt"):
        mhp.main(["--data_root", str(tmp_path / "mhp"), "--save_root", str(out), "--cat2", "skrit"])


def test_ccp_builder(tmp_path):
    scipy_io = pytest.importorskip("scipy.io", reason="scipy is needed to write and read CCP's .mat files")
    root = tmp_path / "ccp"
    (root / "annotations" / "pixel-level").mkdir(parents=True)
    names = np.empty((1, 4), dtype=object)
    for i, n in enumerate(["null", "jeans", "skirt", "shirt"]):
        names[0, i] = np.array([n])
    scipy_io.savemat(str(root / "label_list.mat"), {"label_list": names})
    for i, label in enumerate([1, 2, 3, 1], start=1):
        gt = np.zeros((600, 400), np.uint8)
        gt[300:500, 100:300] = label
        scipy_io.savemat(str(root / "annotations" / "pixel-level" / f"{i:04d}.mat"), {"groundtruth": gt})
        photo(root / "photos" / f"{i:04d}.jpg", 600, 400, i)
    out = tmp_path / "out"
    counts = ccp.main(["--data_root", str(root), "--save_root", str(out), "--test_every", "4"])
    assert counts == {"trainA": 1, "trainB": 1, "testA": 1}
    mask = np.asarray(Image.open(out / "trainA_seg" / "0001_0.png")) > 0
    assert mask.shape == (450, 300) and mask.any()
    with pytest.raises(SourceError, match="jeans"):
        ccp.main(["--data_root", str(root), "--save_root", str(out), "--cat1", "jean"])
