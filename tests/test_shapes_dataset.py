import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

from instagan.data.builders.shapes import main
from instagan.evaluation import metrics
from instagan.util.cli import UserError


def digest(folder):
    h = hashlib.sha1()
    for p in sorted(folder.rglob("*.png")):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    args = ["--size", "32", "--train", "4", "--test", "2"]
    main(["--out", str(tmp_path / "a"), *args])
    main(["--out", str(tmp_path / "b"), *args])
    main(["--out", str(tmp_path / "c"), *args, "--seed", "5"])
    assert digest(tmp_path / "a") == digest(tmp_path / "b") != digest(tmp_path / "c")


def test_layout_and_masks_match_the_drawn_shapes(tmp_path):
    main(["--out", str(tmp_path), "--size", "48", "--train", "20", "--test", "3", "--max_instances", "6"])
    for split, count in (("train", 20), ("test", 3)):
        for domain in "AB":
            assert len(list((tmp_path / f"{split}{domain}").glob("*.png"))) == count
    ratios = {"A": [], "B": []}
    counts = []
    for domain in "AB":
        for img_path in sorted((tmp_path / f"train{domain}").glob("*.png")):
            img = np.asarray(Image.open(img_path))
            masks = sorted((tmp_path / f"train{domain}_seg").glob(f"{img_path.stem}_*.png"))
            counts.append(len(masks))
            assert 1 <= len(masks) <= 6
            for m in masks:
                mask = np.asarray(Image.open(m)) > 127
                assert mask.shape == img.shape[:2] and mask.any()
                if mask.sum() > 30:
                    ratios[domain].append(metrics.fill_ratio(torch.from_numpy(mask)))
            assert img.reshape(-1, 3).std(axis=0).mean() > 5  # textured, not flat
    # unoccluded boxes fill their bounding box; discs and ellipses about pi/4 of it
    assert np.median(ratios["A"]) > 0.95
    assert 0.7 < np.median(ratios["B"]) < 0.85
    assert len(set(counts)) > 2


def test_background_colour_follows_its_material(tmp_path):
    # InstaGAN's generator cannot see a constant colour added to its input, so the background must tell its
    # colour through its material: every background's mean colour sits near one material's colour.
    from instagan.data.builders.shapes import COLOUR_JITTER, MATERIALS

    main(["--out", str(tmp_path), "--size", "48", "--train", "24", "--test", "1", "--max_instances", "3"])
    colours = np.array([colour for _name, colour, _pattern in MATERIALS], dtype=float)
    used = set()
    for domain in "AB":
        for img_path in sorted((tmp_path / f"train{domain}").glob("*.png")):
            img = np.asarray(Image.open(img_path)).astype(float)
            inside = np.zeros(img.shape[:2], bool)
            for m in (tmp_path / f"train{domain}_seg").glob(f"{img_path.stem}_*.png"):
                inside |= np.asarray(Image.open(m)) > 127
            mean = img[~inside].mean(axis=0)
            distance = np.abs(colours - mean).max(axis=1)
            assert distance.min() < COLOUR_JITTER + 4, (img_path.name, mean)
            used.add(int(distance.argmin()))
    assert used == set(range(len(MATERIALS)))


def test_instance_styles_plain_and_mono(tmp_path):
    from instagan.data.builders.shapes import MONO

    for style in ("plain", "mono"):
        main(["--out", str(tmp_path / style), "--size", "32", "--train", "12", "--test", "1", "--instances", style])
    means = {}
    for style in ("plain", "mono"):
        colours = []
        for img_path in sorted((tmp_path / style / "trainA").glob("*.png")):
            img = np.asarray(Image.open(img_path)).astype(float)
            for m in sorted((tmp_path / style / "trainA_seg").glob(f"{img_path.stem}_*.png")):
                inside = img[np.asarray(Image.open(m)) > 127]
                assert inside.std(axis=0).max() < 1e-6 or style == "plain"  # one flat colour per instance
                colours.append(inside.mean(axis=0))
        means[style] = np.array(colours)
    assert np.abs(means["mono"] - np.array(MONO)).max() <= 8.5  # every instance the same light colour, jittered
    assert means["plain"].std(axis=0).mean() > 30  # random colours


def test_sides_set_the_instances_sizes(tmp_path):
    # --sides MIN MAX bounds each instance's height and width (unoccluded, as the box of its mask shows)
    main(["--out", str(tmp_path), "--size", "40", "--train", "30", "--test", "1", "--max_instances", "1",
          "--sides", "0.4", "0.5"])  # fmt: skip
    extents = []
    for domain in "AB":
        for m in sorted((tmp_path / f"train{domain}_seg").glob("*.png")):
            ys, xs = np.nonzero(np.asarray(Image.open(m)) > 127)
            extents += [ys.max() - ys.min() + 1, xs.max() - xs.min() + 1]
    assert 16 <= min(extents) and max(extents) <= 20
    assert len(set(extents)) > 2


def test_sides_out_of_range_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--sides", "0.5", "0.2"])
    assert "--sides must satisfy 0 < MIN <= MAX <= 1" in capsys.readouterr().err


def test_instance_counts_and_instances_apart(tmp_path):
    # --min_instances / --max_instances (and their test_ versions) bound the count; --apart leaves a pixel of
    # background between any two instances, so every mask is its whole shape
    main(["--out", str(tmp_path), "--size", "48", "--train", "12", "--test", "6", "--min_instances", "4",
          "--max_instances", "6", "--test_min_instances", "3", "--test_max_instances", "3", "--apart"])  # fmt: skip
    for split, (low, high) in (("train", (4, 6)), ("test", (3, 3))):
        seen = set()
        for domain in "AB":
            for img_path in sorted((tmp_path / f"{split}{domain}").glob("*.png")):
                masks = [
                    np.asarray(Image.open(m)) > 127 for m in (tmp_path / f"{split}{domain}_seg").glob(f"{img_path.stem}_*.png")
                ]
                seen.add(len(masks))
                grown = [np.pad(m, 1) for m in masks]
                grown = [
                    np.logical_or.reduce([g[dy : dy + 48, dx : dx + 48] for dy in range(3) for dx in range(3)]) for g in grown
                ]
                for i, a in enumerate(grown):
                    for j, b in enumerate(masks):
                        assert i == j or not (a & b).any()  # neither overlapping nor touching
                if domain == "A":  # whole boxes fill their bounding box
                    assert all(metrics.fill_ratio(torch.from_numpy(m)) == 1.0 for m in masks)
        assert seen <= set(range(low, high + 1)) and (split == "test" or len(seen) > 1)


def test_counts_that_cannot_fit_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--min_instances", "5", "--max_instances", "3"])
    assert "--min_instances (5) and --max_instances (3) must satisfy 1 <= min <= max" in capsys.readouterr().err
    with pytest.raises(UserError, match="do not fit a 16x16 image apart: lower --min_instances"):
        main(["--out", str(tmp_path), "--size", "16", "--train", "1", "--test", "1", "--min_instances", "9", "--max_instances",
              "9", "--sides", "0.5", "0.5", "--apart"])  # fmt: skip


def test_a_rerun_replaces_the_data_set_whole(tmp_path):
    # a smaller rerun into the folder of a larger one leaves exactly the new files (no stale images or masks)
    main(["--out", str(tmp_path / "d"), "--size", "32", "--train", "10", "--test", "4"])
    main(["--out", str(tmp_path / "d"), "--size", "32", "--train", "3", "--test", "2", "--seed", "7"])
    main(["--out", str(tmp_path / "fresh"), "--size", "32", "--train", "3", "--test", "2", "--seed", "7"])
    assert digest(tmp_path / "d") == digest(tmp_path / "fresh")
    assert len(list((tmp_path / "d" / "trainA").iterdir())) == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_a_folder_that_no_builder_wrote_is_refused_not_deleted(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="holds files that no data set builder of this project wrote: give another --out"):
        main(["--out", str(tmp_path / "mine"), "--size", "32", "--train", "2", "--test", "1"])
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
