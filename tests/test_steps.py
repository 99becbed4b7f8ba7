"""Which sequential step translated which instance: recorded by the model, written by test.py, drawn on the results
page and scored per step by evaluate.py; instances beyond --ins_max are reported as not translated."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from instagan.models.insta_gan_model import InstaGANModel
from instagan.models.two_domain_model import Translation
from instagan.options.test_options import TestOptions
from instagan.reporting.results import STEP_COLOURS, UNTRANSLATED_COLOUR, ResultsWriter
from tests.test_cli import run
from tests.test_model import SMALL
from tests.test_networks import make_input

TINY = ["--gpu_ids", "-1", "--ngf", "4", "--ndf", "4", "--n_blocks", "1", "--num_threads", "0"]
SIZE = ["--loadSizeH", "32", "--loadSizeW", "32", "--fineSizeH", "32", "--fineSizeW", "32"]


def test_translation_records_the_step_of_every_slot_and_the_instances_left_out():
    opt = TestOptions().parse(SMALL + ["--ins_max", "3", "--ins_per", "2"])
    model = InstaGANModel(opt, torch.device("cpu"))
    model.eval()
    x = make_input(batch=2, n=5, empty={(1, 3), (1, 4)})  # sample 0: 5 instances, sample 1: 3
    model.set_input({"A": x[:, :3], "A_segs": x[:, 3:], "A_paths": ["a.png", "b.png"]})
    t = model.translate()[0]
    assert t.slot_steps == [0, 0, 1]
    assert t.translated_masks.shape[1] == 3 and t.untranslated_masks.shape[1] == 2
    areas = lambda m: ((m + 1) / 2).sum(dim=(-2, -1))  # noqa: E731
    # the two smallest of sample 0's five instances are left out, sample 1 has none left
    assert areas(t.untranslated_masks[0]).max() <= areas(t.source_masks[0]).min()
    assert (areas(t.untranslated_masks[0]) > 0).all() and (areas(t.untranslated_masks[1]) == 0).all()


def test_results_writer_outlines_each_instance_in_its_steps_colour(tmp_path):
    boxes = ((2, 2), (2, 18), (18, 2), (20, 20))
    masks = -torch.ones(1, 4, 32, 32)
    for k, (top, left) in enumerate(boxes):
        masks[0, k, top : top + 8, left : left + 8] = 1
    image = torch.zeros(1, 3, 32, 32)
    translation = Translation("A", "B", ["x.png"], image, masks[:, :3], image, masks[:, :3], image, masks[:, :3],
                              slot_steps=[0, 0, 1], untranslated_masks=masks[:, 3:])  # fmt: skip
    writer = ResultsWriter(tmp_path, "t")
    writer.add([translation])
    writer.save()
    manifest = json.loads((tmp_path / "results.json").read_text())
    instances = manifest["samples"][0]["instances"]
    assert [i["step"] for i in instances] == [1, 1, 2, None] and "translated" not in instances[3]
    steps = np.asarray(Image.open(tmp_path / manifest["samples"][0]["images"]["steps"]))
    colours = (STEP_COLOURS[0], STEP_COLOURS[0], STEP_COLOURS[1], UNTRANSLATED_COLOUR)
    for (top, left), colour in zip(boxes, colours):
        assert tuple(steps[top, left]) == tuple(steps[top + 7, left + 4]) == colour  # on the outline
        assert tuple(steps[top + 3, left + 3]) == (128, 128, 128)  # inside: the translated image
    page = (tmp_path / "index.html").read_text()
    assert "step 1 red, step 2 blue" in page and "x_fake_B_steps.png" in page


@pytest.mark.slow
def test_evaluate_scores_every_instance_by_the_step_that_translated_it(tmp_path):
    data, ckpt = tmp_path / "data", tmp_path / "checkpoints"
    run("datasets/make_shapes_dataset.py", "--out", data, "--size", "32", "--train", "4", "--test", "3",
        "--min_instances", "3", "--max_instances", "4", "--apart", "--seed", "2")  # fmt: skip
    common = ["--dataroot", data, "--name", "seq", "--checkpoints_dir", ckpt, *TINY, *SIZE]
    run("train.py", *common, "--niter", "1", "--niter_decay", "0", "--display_id", "0", "--ins_max", "3", "--ins_per", "2")
    results = {}
    for ins_max in (2, 8):  # one step of 2 (the others are left as they are), and every instance in steps of 2
        out = tmp_path / f"results{ins_max}"
        run("test.py", *common, "--results_dir", out, "--ins_max", ins_max, "--ins_per", "2")
        folder = out / "seq" / "test_latest"
        evaluated = run("evaluate.py", "--results", folder, "--fid", "none", "--cache", tmp_path / "judge.pth",
                        "--classifier_steps", "10", "--classifiers", "2")  # fmt: skip
        results[ins_max] = (json.loads((folder / "results.json").read_text()), json.loads((folder / "metrics.json").read_text()))
        assert "step 1:" in evaluated.stdout
    for manifest, report in results.values():
        samples = [s for s in manifest["samples"] if s["direction"] == "A->B"]
        counts = [len(s["instances"]) for s in samples]
        assert all(3 <= c <= 4 for c in counts)  # every instance of the source image is listed
        scores = report["directions"]["A->B"]
        steps = [i["step"] for s in samples for i in s["instances"]]
        expected = {str(k): steps.count(k) for k in (1, 2, 3, 4) if k in steps}
        if None in steps:
            expected["not translated"] = steps.count(None)
        assert {k: v["instances"] for k, v in scores["by_step"].items()} == expected
        left = [sum(i["step"] is None for i in s["instances"]) for s in samples]
        share = np.mean([(c - n) / c for c, n in zip(counts, left)])
        assert scores["instances_translated"]["value"] == pytest.approx(share, abs=1e-4)
    assert set(results[2][1]["directions"]["A->B"]["by_step"]) == {"1", "not translated"}
    assert set(results[8][1]["directions"]["A->B"]["by_step"]) == {"1", "2"}
    assert results[8][1]["directions"]["A->B"]["instances_translated"]["value"] == 1.0
    # the instances left out are scored on their own, never in the translated instances' denominators: one step of 2
    # on images of 3 or 4 instances has the mask shape accuracy of the instances of its one step
    one_step = results[2][1]["directions"]["A->B"]
    assert one_step["mask_shape_accuracy"]["value"] == pytest.approx(one_step["by_step"]["1"]["mask_shape_accuracy"]["value"])
    assert one_step["by_step"]["not translated"]["mask_shape_accuracy"] is None
    for step in ("1", "2"):  # judged on the final image, and on the image as it stood after the step
        assert 0 <= results[8][1]["directions"]["A->B"]["by_step"][step]["classification_after_step"]["value"] <= 1
    manifest = results[8][0]
    assert any("after_step_1" in s["images"] for s in manifest["samples"])  # test.py kept the image after step 1
    assert not any("after_step_2" in s["images"] for s in manifest["samples"])  # the last step's image is the output
