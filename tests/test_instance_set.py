import torch

from instagan.util import instance_set as S


def masks_with_areas(areas, size=8):
    """(1, N, size, size): slot i has its first areas[i] pixels set (+1), the rest -1; area 0 = empty."""
    out = -torch.ones(1, len(areas), size * size)
    for i, a in enumerate(areas):
        out[0, i, :a] = 1
    return out.view(1, len(areas), size, size)


def test_nonempty_and_slot0_fallback():
    m = masks_with_areas([0, 5, 0])
    assert S.nonempty(m).tolist() == [[False, True, False]]
    assert S.encoded_slots(m).tolist() == [[False, True, False]]
    assert S.encoded_slots(masks_with_areas([0, 0])).tolist() == [[True, False]]
    soft = -torch.ones(1, 1, 4, 4)
    soft[0, 0, 0, 0] = -0.99  # any pixel above -1 makes a slot non-empty
    assert S.nonempty(soft).tolist() == [[True]]


def test_select_decreasing_pads_and_orders():
    m = masks_with_areas([3, 0, 9, 5])
    sel = S.select(m, 6)
    areas = ((sel + 1) / 2).sum(dim=(2, 3))[0].tolist()
    assert areas == [9, 5, 3, 0, 0, 0]


def test_select_random_shuffles_only_the_largest():
    m = masks_with_areas([1, 2, 3, 4, 5])
    seen = set()
    for seed in range(20):
        sel = S.select(m, 3, "random", torch.Generator().manual_seed(seed))
        seen.add(tuple(((sel + 1) / 2).sum(dim=(2, 3))[0].int().tolist()))
    assert all(sorted(s) == [3, 4, 5] for s in seen)
    assert len(seen) > 1


def test_step_slices_cover_every_instance():
    assert S.step_slices(4, 2) == [slice(0, 2), slice(2, 4)]
    assert S.step_slices(5, 2) == [slice(0, 2), slice(2, 4), slice(4, 5)]
    assert S.step_slices(3, 8) == [slice(0, 3)]


def test_merge_and_context_weight():
    a = masks_with_areas([4, 0], size=4)
    b = masks_with_areas([2], size=4)
    merged = S.merge(torch.cat([a, b], 1))
    assert merged.shape == (1, 1, 4, 4)
    assert ((merged + 1) / 2).sum() == 4  # union, clamped: overlapping pixels count once
    w = S.context_weight(a, b)
    assert w.min() == 0 and w.max() == 1 and w.sum() == 12


def test_select_and_rest_split_every_instance_once():
    m = masks_with_areas([3, 0, 9, 5, 7, 1])
    chosen, rest = S.select_and_rest(m, 3)
    assert torch.equal(chosen, S.select(m, 3))
    areas = lambda x: ((x + 1) / 2).sum(dim=(2, 3))[0].tolist()  # noqa: E731
    assert areas(chosen) == [9, 7, 5] and areas(rest) == [3, 1, 0]
    # random order shuffles the chosen ones; the rest stays the same smaller instances
    chosen, rest = S.select_and_rest(m, 3, "random", torch.Generator().manual_seed(1))
    assert sorted(areas(chosen)) == [5, 7, 9] and areas(rest) == [3, 1, 0]
    # ins_max above the number of slots: nothing is left out
    chosen, rest = S.select_and_rest(m, 8)
    assert chosen.shape[1] == 8 and rest.shape[1] == 0
