"""The shapes data set's ideal translations, and the metrics that score translations against them."""

import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

from instagan.data.builders import shapes
from instagan.evaluation import ground_truth, metrics


def digest(folder):
    """The images and masks a data set had before it had ideal translations."""
    h = hashlib.sha1()
    for p in sorted(folder.rglob("*.png")):
        rel = p.relative_to(folder)
        if not rel.parts[0].endswith(("_ideal", "_ideal_seg", "_background")):
            h.update(str(rel).encode() + p.read_bytes())
    return h.hexdigest()


def test_the_same_seed_draws_the_same_images_and_masks_as_before_ideals_existed(tmp_path):
    # digests of these two data sets as the builder wrote them before it wrote ideal translations: every seed measured
    # since keeps its meaning
    demo = ["--max_instances", "4", "--test_min_instances", "3", "--apart", "--instances", "mono", "--sides", "0.25", "0.4"]
    shapes.main(["--out", str(tmp_path / "a"), "--size", "48", "--train", "4", "--test", "4", *demo, "--seed", "3"])
    shapes.main(["--out", str(tmp_path / "b"), "--size", "32", "--train", "3", "--test", "3", "--seed", "5"])
    assert digest(tmp_path / "a") == "1deef183f5cae2fb4247a5dd4a43acf8ebff0f01"
    assert digest(tmp_path / "b") == "65a5ad475f491345f953c55c896a2f5854895c57"


def read(path):
    return np.asarray(Image.open(path))


def test_every_test_image_has_its_ideal_translation_masks_and_background(tmp_path):
    shapes.main(["--out", str(tmp_path), "--size", "48", "--train", "3", "--test", "6", "--min_instances", "2",
                 "--max_instances", "4", "--apart", "--seed", "4"])  # fmt: skip
    assert not (tmp_path / "trainA_ideal").exists()  # only the test splits
    for domain, (kind, other) in (("A", ("box", "round")), ("B", ("round", "box"))):
        stems = sorted(p.stem for p in (tmp_path / f"test{domain}").glob("*.png"))
        assert stems == sorted(p.stem for p in (tmp_path / f"test{domain}_ideal").glob("*.png"))
        for stem in stems:
            source = read(tmp_path / f"test{domain}" / f"{stem}.png")
            ideal = read(tmp_path / f"test{domain}_ideal" / f"{stem}.png")
            background = read(tmp_path / f"test{domain}_background" / f"{stem}.png")
            masks = [read(p) > 127 for p in sorted((tmp_path / f"test{domain}_seg").glob(f"{stem}_*.png"))]
            ideals = [read(p) > 127 for p in sorted((tmp_path / f"test{domain}_ideal_seg").glob(f"{stem}_*.png"))]
            assert len(masks) == len(ideals) >= 2
            union = np.logical_or.reduce(masks + ideals)
            # the same background: outside every instance the three images agree exactly
            assert (source[~union] == ideal[~union]).all() and (source[~union] == background[~union]).all()
            for m, i in zip(masks, ideals):
                # mask k becomes the other shape in the same bounding box (instances apart: each is whole)
                assert metrics.shape_of(torch.from_numpy(m)) == kind and metrics.shape_of(torch.from_numpy(i)) == other
                assert bbox(m) == bbox(i)
                # with the same look: the ideal instance shows the source instance's colours
                assert set(map(tuple, ideal[i & m])) <= set(map(tuple, source[m]))


def bbox(mask):
    ys, xs = np.nonzero(mask)
    return ys.min(), ys.max(), xs.min(), xs.max()


@pytest.mark.parametrize("apart", [True, False])
def test_the_ideal_of_the_ideal_is_the_source(apart):
    rng = np.random.default_rng(11)
    for kind in ("box", "round"):
        for _ in range(5):
            scene = shapes.make_scene(kind, rng, 48, 5, "patterned", (0.2, 0.45), 2, apart)
            image, masks = scene.render()
            again, again_masks = scene.translated().translated().render()
            assert np.array_equal(image, again) and all(np.array_equal(a, b) for a, b in zip(masks, again_masks))
            ideal, ideal_masks = scene.translated().render()
            assert not np.array_equal(image, ideal) and len(ideal_masks) == len(masks)


def test_metrics_of_pixels_and_masks():
    a = torch.zeros(3, 8, 8)
    region = torch.zeros(8, 8, dtype=torch.bool)
    region[2:4, 2:4] = True
    assert ground_truth.psnr(a, a) == ground_truth.PSNR_MAX and ground_truth.error(a, a, region) == 0
    b = a.clone()
    b[:, region] = 0.2  # off by 0.1 in [0, 1] inside the region only
    assert ground_truth.psnr(a, b, region) == pytest.approx(20.0)
    assert ground_truth.psnr(a, b, ~region) == ground_truth.PSNR_MAX and ground_truth.error(a, b, region) == pytest.approx(0.2)
    assert ground_truth.error(a, b, torch.zeros(8, 8, dtype=torch.bool)) is None
    assert ground_truth.iou(region, region) == 1.0 and ground_truth.iou(region, ~region) == 0.0
    half = region.clone()
    half[3] = False
    assert ground_truth.iou(region, half) == 0.5
    assert ground_truth.ssim(a, a) == pytest.approx(1.0) and ground_truth.ssim(a, b) < 1.0


# --- evaluate.py on constructed translations: the ideal, and the ideal spoiled in known ways -------------------------

STEMS_PER_DOMAIN = 24


@pytest.fixture(scope="module")
def shapes48(tmp_path_factory):
    """The demo's kind of data (48x48, 1 to 4 instances of one light colour, apart), small."""
    out = tmp_path_factory.mktemp("shapes48")
    shapes.main(["--out", str(out), "--size", "48", "--train", "60", "--test", str(STEMS_PER_DOMAIN), "--max_instances",
                 "4", "--test_min_instances", "2", "--apart", "--instances", "mono", "--sides", "0.25", "0.4"])  # fmt: skip
    return out


def constructed_results(folder, dataroot, make):
    """A results folder as test.py writes it, whose translations ``make(source, masks, ideal, ideal_masks, background)``
    returns (an image (3, H, W) and masks (N, H, W), all in [-1, 1]) for every test image of both domains."""
    import json

    from instagan.data.image_folder import index_masks, read_image
    from instagan.models.two_domain_model import Translation
    from instagan.reporting.results import ResultsWriter
    from instagan.util.images import from_uint8

    writer = ResultsWriter(folder, "constructed")
    for src, tgt in (("A", "B"), ("B", "A")):
        masks_of, ideal_masks_of = index_masks(dataroot / f"test{src}_seg"), index_masks(dataroot / f"test{src}_ideal_seg")
        for path in sorted((dataroot / f"test{src}").glob("*.png")):
            image = from_uint8(read_image(path))
            masks = torch.stack([from_uint8(read_image(p)[0]) for p in masks_of[path.stem]])
            ideal = from_uint8(read_image(dataroot / f"test{src}_ideal" / path.name))
            ideal_masks = torch.stack([from_uint8(read_image(p)[0]) for p in ideal_masks_of[path.stem]])
            background = from_uint8(read_image(dataroot / f"test{src}_background" / path.name))
            out, out_masks = make(image, masks, ideal, ideal_masks, background)
            writer.add([Translation(src, tgt, [str(path)], image[None], masks[None], out[None], out_masks[None], image[None],
                                    masks[None], slot_steps=[0] * len(masks))])  # fmt: skip
    writer.save()
    size = {f"{kind}Size{side}": 48 for kind in ("load", "fine") for side in "HW"}
    options = {"dataroot": str(dataroot), "phase": "test", "resize_or_crop": "resize_and_crop", "no_flip": True, **size}
    (folder / "test_opt.json").write_text(json.dumps(options))
    return folder


def evaluated(folder, judge_cache, realism_splits=2):
    from instagan import evaluate

    return evaluate.main(["--results", str(folder), "--fid", "none", "--cache", str(judge_cache), "--classifier_steps",
                          "300", "--classifiers", "2", "--realism_splits", str(realism_splits)])["directions"]  # fmt: skip


def grown(masks, pixels):
    return torch.nn.functional.max_pool2d(masks[None], 2 * pixels + 1, stride=1, padding=pixels)[0]


@pytest.fixture(scope="module")
def scores(shapes48, tmp_path_factory):
    """evaluate.py's scores of constructed translations, by case."""
    from instagan.evaluation.judge import blurred

    work = tmp_path_factory.mktemp("constructed")
    noise = 0.3 * torch.randn(3, 48, 48, generator=torch.Generator().manual_seed(0))

    def erased(source, masks, ideal, ideal_masks, background):  # the instances gone, their masks drawn as ideal
        inside = (torch.cat([masks, ideal_masks]) > 0).any(dim=0)
        return torch.where(inside, background, ideal), ideal_masks

    def haloed(source, masks, ideal, ideal_masks, background, pixels=0):
        """Noise in a ring of 3 pixels around the instances, as a smeared edge leaves; the ideal masks, or masks grown
        by ``pixels``."""
        inside = torch.cat([masks, ideal_masks]) > 0
        ring = (grown(inside.float(), 3) > 0).any(dim=0) & ~inside.any(dim=0)
        out_masks = grown(ideal_masks, pixels) if pixels else ideal_masks
        return torch.where(ring, (ideal + noise).clamp(-1, 1), ideal), out_masks

    cases = {
        "ideal": lambda source, masks, ideal, ideal_masks, background: (ideal, ideal_masks),
        "blurred": lambda source, masks, ideal, ideal_masks, background: (blurred(ideal, 1.5), ideal_masks),
        # a background spoiled around the instances, with the ideal masks and with masks grown by 3 pixels over it
        "noisy": haloed,
        "noisy_oversized": lambda *args: haloed(*args, pixels=3),
        "erased": erased,
        "unchanged": lambda source, masks, ideal, ideal_masks, background: (source, masks),
    }  # fmt: skip
    realism = {"ideal": 2, "blurred": 2}  # the cases whose realism is asserted; the others skip it
    return {name: evaluated(constructed_results(work / name, shapes48, make), work / "judge.pth", realism.get(name, 0))
            for name, make in cases.items()}  # fmt: skip


def value(scores, case, metric, direction="A->B"):
    return scores[case][direction][metric]["value"]


@pytest.mark.slow
def test_the_ideal_translation_scores_perfect(scores):
    for direction in ("A->B", "B->A"):
        ideal = scores["ideal"][direction]
        assert ideal["ground_truth"] == ideal["images"] == STEMS_PER_DOMAIN
        assert value(scores, "ideal", "mask_iou", direction) == 1.0
        assert value(scores, "ideal", "mask_agreement", direction) == 1.0
        for metric in ("instance_psnr", "background_psnr", "image_psnr"):
            assert value(scores, "ideal", metric, direction) == ground_truth.PSNR_MAX
        assert value(scores, "ideal", "instance_error", direction) == value(scores, "ideal", "background_error", direction) == 0
        assert value(scores, "ideal", "image_ssim", direction) == pytest.approx(1.0)
        assert value(scores, "ideal", "classification_score", direction) >= 0.9
        assert value(scores, "ideal", "mask_shape_accuracy", direction) >= 0.9
        assert ideal["realism"]["instances"]["value"] <= 0.75  # real and ideal instances are alike


@pytest.mark.slow
def test_a_blurred_ideal_scores_worse_on_realism_and_psnr(scores):
    for direction in ("A->B", "B->A"):
        for metric in ("instance_psnr", "image_psnr", "image_ssim"):
            assert value(scores, "blurred", metric, direction) < value(scores, "ideal", metric, direction)
        assert value(scores, "blurred", "instance_psnr", direction) < 35
        realism = scores["blurred"][direction]["realism"]["instances"]["value"]
        assert realism >= 0.85 and realism > scores["ideal"][direction]["realism"]["instances"]["value"] + 0.2


@pytest.mark.slow
def test_an_oversized_mask_does_not_improve_the_background_score(scores):
    for direction in ("A->B", "B->A"):
        for metric in ("background_error", "background_psnr"):
            assert value(scores, "noisy_oversized", metric, direction) == value(scores, "noisy", metric, direction)
        assert value(scores, "noisy", "background_error", direction) > 0.02
        # the context error, which leaves out the translated masks, is fooled by them
        assert value(scores, "noisy_oversized", "context_error", direction) < value(scores, "noisy", "context_error", direction)
        assert value(scores, "noisy_oversized", "mask_iou", direction) < 0.7
        assert value(scores, "noisy_oversized", "mask_agreement", direction) < value(scores, "noisy", "mask_agreement", direction)


@pytest.mark.slow
def test_an_erased_instance_is_not_the_target_shape(scores):
    for direction in ("A->B", "B->A"):
        assert value(scores, "erased", "classification_score", direction) <= 0.2
        assert value(scores, "erased", "judged_neither", direction) >= 0.6
        assert value(scores, "erased", "mask_agreement", direction) < 0.2  # the masks claim instances no one drew
    # an untouched source is judged as its own domain, not the target's, and far from the ideal
    assert value(scores, "unchanged", "classification_score") <= 0.2
    assert value(scores, "unchanged", "mask_iou") < 0.9


def test_realism_tells_apart_what_differs_and_not_what_does_not():
    from instagan.evaluation import realism

    g = torch.Generator().manual_seed(0)
    flat = (torch.rand(80, 3, 1, 1, generator=g) * 0.2 + 0.6).expand(80, 3, 32, 32).clone()  # flat light squares
    other_flat = (torch.rand(80, 3, 1, 1, generator=g) * 0.2 + 0.6).expand(80, 3, 32, 32).clone()
    mottled = other_flat + 0.1 * torch.randn(80, 3, 32, 32, generator=g)  # the same colours, a mottled inside
    same = realism.two_sample_accuracy(flat, other_flat, splits=2, steps=60)
    told = realism.two_sample_accuracy(flat, mottled, splits=2, steps=60)
    assert same["value"] <= 0.7 and told["value"] >= 0.9 and told["n"] == 80 and len(told["splits"]) == 2
    assert realism.two_sample_accuracy(flat, mottled, splits=2, steps=60) == told  # deterministic
    assert realism.two_sample_accuracy(flat[:4], mottled, splits=2, steps=60) is None  # too few to split
    assert realism.floor(flat, splits=2, steps=60)["value"] <= 0.75


def test_background_patches_touch_no_instance():
    from instagan.evaluation import realism

    image = torch.rand(3, 48, 48) * 2 - 1
    occupied = torch.zeros(48, 48, dtype=torch.bool)
    occupied[10:30, 5:40] = True
    patches = realism.background_patches(image, occupied, 4, torch.Generator().manual_seed(0))
    assert len(patches) == 4 and all(p.shape == (3, 32, 32) for p in patches)
    occupied[:] = True
    assert realism.background_patches(image, occupied, 4, torch.Generator().manual_seed(0)) == []


def test_mask_shape_is_scored_on_the_shapes_data_only(tmp_path):
    from instagan.evaluation.scoring import is_shapes_data, target_shape

    shapes.main(["--out", str(tmp_path / "shapes"), "--size", "32", "--train", "4", "--test", "2", "--seed", "1"])
    assert is_shapes_data(tmp_path / "shapes")
    assert (target_shape(tmp_path / "shapes", "A"), target_shape(tmp_path / "shapes", "B")) == ("box", "round")
    # the same masks in a data set of photos (no ideal translations): a fill ratio says nothing about sheep
    for split in ("trainA_seg", "trainB_seg", "testA_seg"):
        (tmp_path / "photos" / split).mkdir(parents=True)
        for mask in (tmp_path / "shapes" / split).iterdir():
            (tmp_path / "photos" / split / mask.name).write_bytes(mask.read_bytes())
    assert not is_shapes_data(tmp_path / "photos")
