import math

import torch

from util import instance_set, metrics


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


def test_domain_classifier_is_cached_per_data_set_and_step_count(shapes_root, tmp_path):
    from util.domain_classifier import train_or_load

    cache = tmp_path / "clf.pth"
    first = train_or_load(shapes_root, cache, steps=3)
    stamp = cache.stat().st_mtime_ns
    again = train_or_load(shapes_root, cache, steps=3)
    assert cache.stat().st_mtime_ns == stamp
    for a, b in zip(first.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    train_or_load(shapes_root, cache, steps=4)  # another training budget is another classifier
    assert cache.stat().st_mtime_ns != stamp
