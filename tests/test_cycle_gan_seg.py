"""CycleGAN + Seg (``--model cycle_gan_seg``): the paper's architecture baseline, masks as channels, no set structure."""

import json

import torch

from instagan.models import networks
from instagan.models.cycle_gan_seg_model import CycleGANSegModel, ResnetSegGenerator
from instagan.models.networks.generators import ResnetGenerator
from instagan.models.trainer import Trainer
from instagan.options import test_options
from instagan.options.train_options import TrainOptions
from instagan.util.distributed import Context
from tests.test_cli import SIZE32, TINY, run
from tests.test_model import batch_from
from tests.test_networks import make_input

SMALL = ["--dataroot", "unused", "--gpu_ids", "-1", "--ngf", "4", "--ndf", "4", "--model", "cycle_gan_seg"]


def count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_networks_are_cyclegans_with_the_masks_as_channels():
    opt = TrainOptions().parse([*SMALL, "--seg_slots", "3"])
    model = CycleGANSegModel(opt, torch.device("cpu"))
    plain = ResnetGenerator(6, 6, 4, networks.get_norm_layer("instance"), False, 9)
    # the generator is CycleGAN's ResNet generator on 3 + 3 channels: the same weights and state-dict keys
    assert model.netG_A.state_dict().keys() == plain.state_dict().keys()
    assert [p.shape for p in model.netG_A.parameters()] == [p.shape for p in plain.parameters()]
    assert model.netD_A.model[0].in_channels == 6 and not any("parametrizations" in k for k in model.netD_A.state_dict())


def test_generator_keeps_empty_channels_empty_and_translates_the_rest():
    g = ResnetSegGenerator(3, 3, 4, ngf=4, norm_layer=networks.get_norm_layer("instance"), n_blocks=1).eval()
    x = make_input(batch=2, n=4, empty={(0, 2), (0, 3), (1, 1)})
    with torch.no_grad():
        y = g(x)
    assert y.shape == x.shape
    for b, k in [(0, 2), (0, 3), (1, 1)]:
        assert torch.equal(y[b, 3 + k], x[b, 3 + k])  # an empty channel is empty in the output
    for b, k in [(0, 0), (0, 1), (1, 0), (1, 2), (1, 3)]:
        assert not torch.equal(y[b, 3 + k], x[b, 3 + k])
    # no set structure: the channels' order matters (InstaGAN's generator is permutation equivariant)
    perm = torch.tensor([0, 1, 2, 4, 3, 5, 6])
    with torch.no_grad():
        swapped = g(x[:, perm])[:, perm]
    assert not torch.allclose(swapped, y, atol=1e-4)


def test_the_largest_instances_fill_the_channels_and_the_rest_are_reported():
    opt = test_options.TestOptions().parse([*SMALL, "--seg_slots", "2"])
    model = CycleGANSegModel(opt, torch.device("cpu"))
    model.eval()
    x = make_input(batch=2, n=4, empty={(1, 2), (1, 3)}, seed=3)
    area = (x[:, 3:] > 0).sum(dim=(2, 3)).float()
    model.set_input({"A": x[:, :3], "A_segs": x[:, 3:], "A_paths": ["a.png", "b.png"]})
    (t,) = model.translate()
    assert t.translated_masks.shape == (2, 2, 32, 32) and t.slot_steps == [0, 0]
    assert t.untranslated_masks.shape == (2, 2, 32, 32)
    kept = (t.source_masks > 0).sum(dim=(2, 3)).float()
    assert torch.equal(kept[0], area[0].sort(descending=True).values[:2])  # largest first
    assert torch.equal(kept[1], area[1, :2].sort(descending=True).values)
    assert (t.untranslated_masks[1] == -1).all()  # sample 1 has only 2 instances: none left out
    # whole images are translated, as CycleGAN translates them: the image changes in one step
    assert not torch.equal(t.translated, t.source)


def test_a_training_step_updates_every_network_with_cyclegans_losses():
    opt = TrainOptions().parse([*SMALL, "--seg_slots", "4", "--batch_size", "2"])
    model = CycleGANSegModel(opt, torch.device("cpu"))
    trainer = Trainer(model, opt, Context(torch.device("cpu")))
    before = {name: [p.clone() for p in net.parameters()] for name, net in model.networks().items()}
    x_a, x_b = make_input(batch=2, empty={(0, 3)}), make_input(batch=2, empty={(1, 0), (1, 1), (1, 2), (1, 3)}, seed=1)
    losses = trainer.train_step(batch_from(x_a, x_b))
    assert set(losses) == {f"{n}_{d}" for n in ("D", "G", "cyc", "idt") for d in "AB"}
    assert all(v > 0 for v in losses.values())  # a sample without instances still trains: its image is translated
    for name, net in model.networks().items():
        assert any(not torch.equal(p, q) for p, q in zip(before[name], net.parameters())), name


def test_trains_tests_and_evaluates_through_the_command_line(shapes_root, tmp_path):
    ckpt, results = tmp_path / "checkpoints", tmp_path / "results"
    common = ["--model", "cycle_gan_seg", "--dataroot", shapes_root, "--name", "cgs", "--checkpoints_dir", ckpt, *TINY]
    run("train.py", *common, "--seg_slots", "3", *SIZE32, "--niter", "1", "--niter_decay", "0", "--display_id", "0")
    assert json.loads((ckpt / "cgs" / "train_opt.json").read_text())["seg_slots"] == 3
    sizes = ["--loadSizeH", "32", "--loadSizeW", "32", "--fineSizeH", "32", "--fineSizeW", "32"]
    run("test.py", *common, *sizes, "--results_dir", results)  # --seg_slots 3 comes from the run
    other = run("test.py", *common, *sizes, "--seg_slots", "4", "--results_dir", tmp_path / "r2", check=False)
    assert other.returncode == 2 and "--seg_slots 4 differs from the run's" in other.stderr
    cache = ["--cache", tmp_path / "clf.pth", "--classifier_steps", "20", "--classifiers", "2", "--fid", "none"]
    run("evaluate.py", "--results", results / "cgs" / "test_latest", *cache, "--realism_splits", "1")
    report = json.loads((results / "cgs" / "test_latest" / "metrics.json").read_text())
    a_to_b = report["directions"]["A->B"]
    assert 0 <= a_to_b["mask_iou"]["value"] <= 1 and 0 <= a_to_b["classification_score"]["value"] <= 1
    too_many = run("train.py", *common, "--seg_slots", "30", check=False)
    assert too_many.returncode == 2 and "--seg_slots 30 is more than the 20 masks loaded per image" in too_many.stderr
    export = run("export.py", "--name", "cgs", "--checkpoints_dir", ckpt, "--format", "safetensors", check=False)
    assert export.returncode != 0 and "which export.py does not export: cycle_gan, insta_gan runs are" in export.stderr
