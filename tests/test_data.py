import argparse
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from instagan.data import create_dataset, find_dataset_using_name
from instagan.data.base_dataset import build_transform, load_image_and_masks
from instagan.data.image_folder import index_masks
from instagan.options.test_options import TestOptions
from instagan.options.train_options import TrainOptions


def write_pair(root, phase, domain, stem, img, masks, mode="L"):
    (root / f"{phase}{domain}").mkdir(parents=True, exist_ok=True)
    (root / f"{phase}{domain}_seg").mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(root / f"{phase}{domain}" / f"{stem}.png")
    for k, m in enumerate(masks):
        Image.fromarray(m).convert(mode).save(root / f"{phase}{domain}_seg" / f"{stem}_{k}.png")


def opts(**kw):
    base = dict(resize_or_crop="resize_and_crop", loadSizeH=40, loadSizeW=48, fineSizeH=24, fineSizeW=32, no_flip=False)
    base.update(kw)
    return argparse.Namespace(**base)


def test_image_and_masks_get_the_same_crop_and_flip(tmp_path):
    # Each mask marks a block of the image by its red channel: after any resize/crop/flip, the mask must
    # still sit exactly where the image is red.
    img = np.zeros((60, 80, 3), np.uint8)
    masks = []
    for top, left in [(5, 5), (30, 50)]:
        img[top : top + 20, left : left + 20, 0] = 255
        m = np.zeros((60, 80), np.uint8)
        m[top : top + 20, left : left + 20] = 255
        masks.append(m)
    write_pair(tmp_path, "train", "A", "x", img, masks)
    paths = sorted((tmp_path / "trainA_seg").glob("*.png"))
    transform = build_transform(opts(), train=True)
    flipped = set()
    for seed in range(12):
        torch.manual_seed(seed)
        image, segs = load_image_and_masks(tmp_path / "trainA" / "x.png", paths, transform, slots=5)
        assert image.shape == (3, 24, 32) and segs.shape == (5, 24, 32)
        union = segs[:2].max(dim=0).values
        torch.testing.assert_close(union, image[0], atol=2e-2, rtol=0)
        assert (segs[2:] == -1).all()
        flipped.add(bool(image[0, :, :16].sum() < image[0, :, 16:].sum()))
    assert len(flipped) == 2  # both flipped and unflipped draws happened


def test_masks_of_any_png_mode_read_as_one_channel(tmp_path):
    img = np.full((16, 16, 3), 128, np.uint8)
    m = np.zeros((16, 16), np.uint8)
    m[4:8, 4:8] = 255
    write_pair(tmp_path, "train", "A", "rgb", img, [m], mode="RGB")
    write_pair(tmp_path, "train", "A", "binary", img, [(m > 0).astype(np.uint8)])  # 0/1 masks
    transform = build_transform(opts(resize_or_crop="none"), train=False)
    for stem in ("rgb", "binary"):
        paths = index_masks(tmp_path / "trainA_seg")[stem]
        _, segs = load_image_and_masks(tmp_path / "trainA" / f"{stem}.png", paths, transform, 2)
        assert segs[0].max() == 1 and ((segs[0] + 1) / 2).sum() == 16


def test_mask_paths_come_from_the_folder_not_letter_replacement(tmp_path):
    root = tmp_path / "A_data_with_As"
    img = np.zeros((24, 24, 3), np.uint8)  # the smallest the discriminators take
    m = np.zeros((24, 24), np.uint8)
    m[:4, :4] = 255
    write_pair(root, "train", "A", "BA_1", img, [m, m])
    write_pair(root, "train", "B", "AB_2", img, [m])
    ds = create_dataset(TrainOptions().parse(["--dataroot", str(root), "--resize_or_crop", "none", "--gpu_ids", "-1"]))
    item = ds[0]
    assert (item["A_segs"][:2] > -1).any(dim=(1, 2)).tolist() == [True, True]
    assert (item["B_segs"] > -1).any(dim=(1, 2)).sum() == 1
    assert item["A_segs"].shape[0] == 20  # padded to --mask_slots


def test_image_without_instances_gives_empty_slots(tmp_path):
    img = np.zeros((16, 16, 3), np.uint8)
    write_pair(tmp_path, "test", "A", "lonely", img, [])
    argv = ["--dataroot", str(tmp_path / "testA"), "--dataset_mode", "single_seg", "--resize_or_crop", "none"]
    ds = create_dataset(TestOptions().parse(argv))
    item = ds[0]
    assert item["A"].shape == (3, 16, 16) and (item["A_segs"] == -1).all()


def test_bad_mask_size_names_the_file(tmp_path):
    img = np.zeros((16, 16, 3), np.uint8)
    write_pair(tmp_path, "train", "A", "bad", img, [np.zeros((8, 8), np.uint8)])
    transform = build_transform(opts(resize_or_crop="none"), train=False)
    with pytest.raises(ValueError, match="bad_0.png.*write the masks at the image's size"):
        load_image_and_masks(tmp_path / "trainA" / "bad.png", index_masks(tmp_path / "trainA_seg")["bad"], transform, 2)


def test_too_many_masks_warn_and_keep_the_first(tmp_path):
    img = np.zeros((16, 16, 3), np.uint8)
    m = np.full((16, 16), 255, np.uint8)
    write_pair(tmp_path, "train", "A", "many", img, [m] * 3)
    transform = build_transform(opts(resize_or_crop="none"), train=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = index_masks(tmp_path / "trainA_seg")["many"]
        _, segs = load_image_and_masks(tmp_path / "trainA" / "many.png", paths, transform, 2)
    assert segs.shape[0] == 2 and any("--mask_slots" in str(w.message) for w in caught)


def test_missing_folder_and_unknown_mode_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="--dataroot"):
        create_dataset(TrainOptions().parse(["--dataroot", str(tmp_path)]))
    with pytest.raises(ValueError, match="unaligned_seg"):
        find_dataset_using_name("paired")
