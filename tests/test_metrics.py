import math

import pytest
import torch

from instagan.evaluation import metrics
from instagan.util import instance_set


def box(size=32, top=4, left=6, h=12, w=18):
    m = -torch.ones(size, size)
    m[top : top + h, left : left + w] = 1
    return m


def disc(size=32, cy=16, cx=16, r=9):
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return torch.where((yy - cy) ** 2 + (xx - cx) ** 2 <= (r + 0.5) ** 2, 1.0, -1.0)  # diameter 2r + 1


def test_fill_ratio_tells_boxes_from_discs():
    assert metrics.fill_ratio(metrics.binarize(box())) == 1.0
    assert abs(metrics.fill_ratio(metrics.binarize(disc(r=12))) - math.pi / 4) < 0.03
    assert metrics.shape_of(metrics.binarize(box())) == "box"
    assert metrics.shape_of(metrics.binarize(disc())) == "round"
    assert metrics.shape_of(metrics.binarize(-torch.ones(8, 8))) is None


def test_components_label_each_connected_part():
    mask = torch.zeros(9, 9, dtype=torch.bool)
    mask[0:3, 0:3] = True  # a block
    mask[3, 3] = True  # touches the block's corner: the same part (8-neighbourhood)
    mask[6:9, 5] = True  # a bar of its own
    mask[8, 0] = True  # a lone pixel
    labels = metrics.components(mask)
    assert (labels[~mask] == 0).all() and (labels[mask] > 0).all()
    assert len(torch.unique(labels[mask])) == 3
    assert labels[0, 0] == labels[3, 3] != labels[6, 5] == labels[8, 5] != labels[8, 0]


def test_specks_do_not_decide_a_masks_shape():
    # one stray pixel far from a disc sets the bounding box of the whole mask: its fill ratio says neither box nor
    # disc; the body without the speck is a disc, and the speck is counted on its own
    clean = metrics.binarize(disc(size=48, cy=20, cx=20, r=9))
    specked = clean.clone()
    specked[45, 2] = True
    assert metrics.fill_ratio(specked) < metrics.ROUND_MIN
    assert metrics.shape_of(specked) == metrics.shape_of(clean) == "round"
    assert torch.equal(metrics.without_specks(specked), clean)
    assert metrics.has_specks(specked) and not metrics.has_specks(clean)
    # parts of SPECK_PIXELS or more are not specks: a box split in two stays two parts
    split = metrics.binarize(box(size=32, top=4, left=2, h=10, w=28))
    split[:, 14:16] = False
    assert torch.equal(metrics.without_specks(split), split) and metrics.shape_of(split) == "box"
    # a mask made of specks alone is left as it is
    dots = torch.zeros(16, 16, dtype=torch.bool)
    dots[2, 2] = dots[10, 10] = True
    assert torch.equal(metrics.without_specks(dots), dots) and not metrics.has_specks(dots)


def test_a_speck_is_a_part_under_speck_pixels_apart_from_the_body():
    body = metrics.binarize(box(size=32, top=2, left=2, h=10, w=10))
    five, six, touching = body.clone(), body.clone(), body.clone()
    five[20, 20 : 20 + metrics.SPECK_PIXELS - 1] = True  # a part of 5 pixels: a speck
    six[20, 20 : 20 + metrics.SPECK_PIXELS] = True  # a part of 6 pixels: part of the mask's body
    touching[12, 12] = True  # touches the box's corner: one part with it (8-neighbourhood)
    assert torch.equal(metrics.without_specks(five), body)
    assert torch.equal(metrics.without_specks(six), six) and not metrics.has_specks(six)
    assert torch.equal(metrics.without_specks(touching), touching)
    assert torch.equal(metrics.without_specks(five.float()), body)  # any mask type is read as inside / outside


def test_shape_accuracy_perfect_and_identity():
    discs = [disc(r=r) for r in (5, 8, 11)]
    boxes = [box(h=h) for h in (5, 9, 14)]
    assert metrics.shape_accuracy(discs, "round") == 1.0  # a perfect box -> disc translation
    assert metrics.shape_accuracy(boxes, "round") == 0.0  # the identity mapping keeps boxes
    assert metrics.shape_accuracy([disc(), -torch.ones(32, 32)], "round") == 0.5  # a vanished instance is wrong


def test_context_error_is_zero_for_an_untouched_background_and_high_for_identity_off_target():
    image = torch.rand(3, 32, 32) * 2 - 1
    inside = box()
    changed = torch.where(inside > 0, -image, image)  # only the instance changes
    assert metrics.context_error(image, changed, [inside]) == 0.0
    shifted = (image + 0.5).clamp(-1, 1)
    assert metrics.context_error(image, shifted, [inside]) > 0.2
    # the dilation forgives a change just around the instance's edge
    grown = instance_set.dilate(inside > 0, 1)
    near = torch.where(grown, -image, image)
    assert metrics.context_error(image, near, [inside], radius=2) == 0.0
    assert metrics.context_error(image, near, [inside], radius=0) > 0


def test_instances_kept():
    inputs = [box(), box(top=20)]
    assert metrics.instances_kept(inputs, [disc(), disc(cy=24)]) == 1.0
    assert metrics.instances_kept(inputs, [disc(), -torch.ones(32, 32)]) == 0.5


def test_domain_classifier_is_deterministic_and_cached_per_data_set_and_settings(shapes_root, tmp_path):
    from instagan.evaluation.judge import train_or_load

    cache = tmp_path / "clf.pth"
    first = train_or_load(shapes_root, cache, steps=3, members=2)
    stamp = cache.stat().st_mtime_ns
    again = train_or_load(shapes_root, cache, steps=3, members=2)
    assert cache.stat().st_mtime_ns == stamp
    for a, b in zip(first.members, again.members):
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    cache.unlink()  # trained again from scratch: the very same members (one thread, fixed order and seeds)
    retrained = train_or_load(shapes_root, cache, steps=3, members=2)
    for a, b in zip(first.members, retrained.members):
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(first.members[0].head.weight, first.members[1].head.weight)  # seeded apart
    stamp = cache.stat().st_mtime_ns
    train_or_load(shapes_root, cache, steps=4, members=2)  # another training budget is another judge
    assert cache.stat().st_mtime_ns != stamp


def test_the_judges_probes_are_computed_once_per_judge_and_data_set(shapes_root, tmp_path, monkeypatch):
    from instagan.evaluation import scoring
    from instagan.evaluation.judge import train_or_load

    judge = train_or_load(shapes_root, tmp_path / "clf.pth", steps=3, members=2)
    real = scoring.RealCrops(shapes_root, "test", floor_cache=tmp_path / "floors.json")
    probes = real.probes(judge)
    assert probes == scoring.judge_probes(judge, real) and "A blurred 2 px" in probes
    computed = []
    monkeypatch.setattr(scoring, "judge_probes", lambda *args: computed.append(args) or {"fresh": {}})
    assert scoring.RealCrops(shapes_root, "test", floor_cache=tmp_path / "floors.json").probes(judge) == probes
    assert not computed  # read from the cache
    other = train_or_load(shapes_root, tmp_path / "clf4.pth", steps=4, members=2)  # another judge: probed again
    assert real.probes(other) == {"fresh": {}} and len(computed) == 1


def test_crops_centre_the_instance_with_a_margin():
    from instagan.evaluation.judge import CROP, crop

    image = -torch.ones(3, 40, 40)
    image[:, 10:20, 24:30] = 1  # a 10 x 6 box
    piece = crop(image, image[0] > 0)
    assert piece.shape == (3, CROP, CROP)
    inside = piece[0] > 0
    rows, cols = inside.any(dim=1).nonzero()[:, 0], inside.any(dim=0).nonzero()[:, 0]
    assert 0 < rows.min() and rows.max() < CROP - 1  # background all around
    assert abs((rows.min() + rows.max()) / 2 - (CROP - 1) / 2) <= 1 and abs((cols.min() + cols.max()) / 2 - (CROP - 1) / 2) <= 1
    assert crop(image, torch.zeros(40, 40, dtype=torch.bool)) is None


def test_estimate_gives_the_mean_ratio_and_a_deterministic_interval():
    values = [0.0, 1.0] * 50
    first = metrics.estimate(values)
    assert first["value"] == 0.5 and first["n"] == 100
    assert first["ci95"][0] < 0.5 < first["ci95"][1] and first["ci95"][1] - first["ci95"][0] < 0.25
    assert metrics.estimate(values) == first
    assert metrics.estimate([3, 1, float("nan")], [4, 2, 1])["value"] == round(4 / 6, 4)  # nan units are left out
    assert metrics.estimate([float("nan")])["value"] is None
    constant = metrics.estimate([0.25] * 30)
    assert constant["ci95"] == [0.25, 0.25]


def test_feature_distances_follow_the_frechet_formula_and_kid():
    # Features with known statistics: the same whitened cloud, the second shifted by (3, 4) in two dimensions.
    torch.manual_seed(0)
    base = torch.randn(400, 6)
    base = (base - base.mean(0)) @ torch.linalg.inv(torch.linalg.cholesky(torch.cov(base.T))).T
    shifted = base.clone()
    shifted[:, :2] += torch.tensor([3.0, 4.0])
    same = metrics.feature_distances(base, base.clone(), resamples=10)
    moved = metrics.feature_distances(base, shifted, resamples=10)
    assert abs(same["fd"]["value"]) < 1e-3  # identical sets: distance 0
    assert moved["fd"]["value"] == pytest.approx(25.0, abs=1e-2)  # equal covariances: |mean difference|^2
    assert moved["kd"]["value"] > 10 * abs(same["kd"]["value"])
    low, high = moved["fd"]["ci95"]
    assert low <= moved["fd"]["value"] <= high
    assert metrics.feature_distances(base, shifted, resamples=10) == moved  # deterministic
