"""A model declares its training recipe and the trainer carries it out: a toy model with a recipe of its own (the
discriminators first, a third network with its own learning rate) trains, saves and resumes without a change to the
trainer."""

import pytest
import torch
from torch import nn

from instagan.models.checkpoint import Counters
from instagan.models.cycle_gan_model import CycleGANModel
from instagan.models.recipe import Update
from instagan.models.trainer import Trainer
from instagan.options.train_options import TrainOptions
from instagan.util.cli import UserError
from instagan.util.distributed import Context
from scripts.benchmark_speed import random_batch

CPU = Context(torch.device("cpu"))
FLAGS = ["--dataroot", "unused", "--gpu_ids", "-1", "--model", "cycle_gan", "--ngf", "4", "--ndf", "4",
         "--netG", "resnet_6blocks", "--lr", "0.001"]  # fmt: skip


class ToyModel(CycleGANModel):
    """CycleGAN plus a critic E that learns to tell each step's translations from the sources; D learns first."""

    extra_loss_names = ("E",)

    def __init__(self, opt, device):
        super().__init__(opt, device)
        self.netE = nn.Conv2d(3, 1, 3)
        self.model_names.append("E")
        self.calls: list[str] = []

    def critic_losses(self, live):
        self.calls.append("E")
        losses = {}
        for d, step in live:
            fake, real = step.fake[:, :3].detach(), step.input[:, :3]
            losses[f"E_{d.src}"] = (self.netE(fake) - 1).square().mean() + self.netE(real).square().mean()
        return losses

    def training_recipe(self):
        o = self.opt
        generators, discriminators = self.generator_networks(), self.discriminator_networks()

        def logged(name, losses):
            return lambda live: (self.calls.append(name), losses(live))[1]

        return [
            Update("D", discriminators, logged("D", self.step_discriminator_losses), 2 * o.lr, (0.9, 0.99)),
            Update("G", generators, logged("G", self.step_generator_losses), o.lr, frozen=list(discriminators.values())),
            Update("E", {"E": self.netE}, self.critic_losses, o.lr / 10, (0.0, 0.9)),
        ]


def toy(tmp_path):
    opt = TrainOptions().parse([*FLAGS, "--checkpoints_dir", str(tmp_path), "--name", "toy"])
    opt.dataset_mode = "unaligned"
    model = ToyModel(opt, torch.device("cpu"))
    return model, Trainer(model, opt, CPU)


def images_only(batch):
    return {k: v for k, v in batch.items() if not k.endswith("_segs")}


def test_a_recipe_of_its_own_trains_saves_and_resumes(tmp_path):
    model, trainer = toy(tmp_path)
    # one optimizer per update, at the update's rate and betas, over that update's networks only
    assert [o.param_groups[0]["lr"] for o in trainer.optimizers] == [0.002, 0.001, 0.0001]
    assert [o.param_groups[0]["betas"] for o in trainer.optimizers] == [(0.9, 0.99), (0.5, 0.999), (0.0, 0.9)]
    assert {id(p) for p in trainer.optimizers[2].param_groups[0]["params"]} == {id(p) for p in model.netE.parameters()}
    before = {name: [p.clone() for p in net.parameters()] for name, net in model.networks().items()}
    arrived = []  # the update during which D_A's parameters got a gradient
    for p in model.netD_A.parameters():
        p.register_hook(lambda grad: arrived.append(model.calls[-1]))
    losses = trainer.train_step(images_only(random_batch(2, 1, 32, 8, 0)))
    assert model.calls == ["D", "G", "E"]  # the recipe's order, once per sequential step (CycleGAN: one)
    assert {"E_A", "E_B", "D_A", "G_A", "cyc_B", "idt_A"} <= set(losses)
    for name, net in model.networks().items():
        assert any(not torch.equal(p, q) for p, q in zip(before[name], net.parameters())), f"{name} was not updated"
    # D was frozen while G learned (G's losses go through D), and is trainable again after
    assert arrived and set(arrived) == {"D"} and all(p.requires_grad for p in model.netD_A.parameters())
    trainer.save("latest", Counters(epoch=1), {})
    saved_state = [o.state_dict()["state"] for o in trainer.optimizers]
    model2, trainer2 = toy(tmp_path)
    trainer2.resume("latest")
    for name, net in model.networks().items():
        for p, q in zip(net.parameters(), model2.networks()[name].parameters()):
            assert torch.equal(p, q), name
    for mine, theirs in zip(saved_state, (o.state_dict()["state"] for o in trainer2.optimizers)):
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[k]["exp_avg"], theirs[k]["exp_avg"]) for k in mine)
    # each update keeps its own rate after a resume
    assert [o.param_groups[0]["lr"] for o in trainer2.optimizers] == [0.002, 0.001, 0.0001]


def test_instagans_recipe_is_g_then_d_at_one_rate():
    opt = TrainOptions().parse(["--dataroot", "unused", "--gpu_ids", "-1", "--ngf", "4", "--ndf", "4", "--n_blocks", "1",
                                "--lr", "0.0003", "--beta1", "0.4"])  # fmt: skip
    from instagan.models.insta_gan_model import InstaGANModel

    model = InstaGANModel(opt, torch.device("cpu"))
    recipe = model.training_recipe()
    assert [u.name for u in recipe] == ["G", "D"] and [sorted(u.networks) for u in recipe] == [["G_A", "G_B"], ["D_A", "D_B"]]
    assert all(u.lr == 0.0003 and u.betas == (0.4, 0.999) for u in recipe)
    assert recipe[0].frozen == [model.netD_A, model.netD_B] and recipe[1].frozen == []


def test_a_training_state_of_another_recipe_is_refused(tmp_path):
    model, trainer = toy(tmp_path)
    trainer.train_step(images_only(random_batch(2, 1, 32, 8, 0)))
    trainer.save("latest", Counters(epoch=1), {})
    opt = TrainOptions().parse([*FLAGS, "--checkpoints_dir", str(tmp_path), "--name", "toy"])
    opt.dataset_mode = "unaligned"
    plain = Trainer(CycleGANModel(opt, torch.device("cpu")), opt, CPU)  # G then D: not the toy's D, G, E
    with pytest.raises(UserError, match=r"the updates \['D', 'G', 'E'\], this model's recipe has \['G', 'D'\]"):
        plain.resume("latest")


def test_a_moving_average_of_the_generators_is_kept_saved_and_resumed(tmp_path, monkeypatch):
    """--ema_decay d: after every generator update, average <- d * average + (1 - d) * weights (from the initial
    weights); the discriminators keep none; the averages are saved as <tag>_net_G_A_ema.pth and resumed."""
    from instagan.models import trainer as trainer_module
    from instagan.models.insta_gan_model import InstaGANModel

    decay = 0.75
    opt = TrainOptions().parse(["--dataroot", "unused", "--gpu_ids", "-1", "--ngf", "4", "--ndf", "4", "--n_blocks", "1",
                                "--ema_decay", str(decay), "--checkpoints_dir", str(tmp_path), "--name", "ema"])  # fmt: skip
    model = InstaGANModel(opt, torch.device("cpu"))
    trainer = Trainer(model, opt, CPU)
    assert sorted(trainer.averages) == ["G_A", "G_B"] and model.training_recipe()[1].average == 0
    expected = [p.detach().clone() for p in model.netG_A.parameters()]  # the averages start from the initial weights
    original, moves = trainer_module.move_average, []

    def recorded(average, net, d):
        if net is model.netG_A:
            moves.append(d)
            for e, p in zip(expected, net.parameters()):
                e.mul_(d).add_((1 - d) * p.detach())
        original(average, net, d)

    monkeypatch.setattr(trainer_module, "move_average", recorded)
    for seed in range(2):
        trainer.train_step(random_batch(2, 3, 32, 3, seed))  # 3 instances, --ins_per 2: two steps, two G updates each
    assert moves == [decay] * 4
    average = trainer.averages["G_A"]
    for e, a in zip(expected, average.parameters()):
        torch.testing.assert_close(a, e, rtol=1e-6, atol=1e-7)
        assert not a.requires_grad
    assert any(not torch.equal(a, p) for a, p in zip(average.parameters(), model.netG_A.parameters()))
    trainer.save("latest", Counters(epoch=1), {})
    saved = torch.load(tmp_path / "ema" / "latest_net_G_A_ema.pth")
    assert all(torch.equal(saved[k], v) for k, v in average.state_dict().items())
    assert not (tmp_path / "ema" / "latest_net_D_A_ema.pth").exists()
    resumed = Trainer(InstaGANModel(opt, torch.device("cpu")), opt, CPU)
    resumed.resume("latest")
    for a, b in zip(resumed.averages["G_B"].parameters(), trainer.averages["G_B"].parameters()):
        assert torch.equal(a, b)
    # test.py --ema (and the API's ema=True) translate with the averages; a run that kept none says so
    from instagan.translator import Translator

    for ema, expected_net in ((True, average), (False, model.netG_A)):
        loaded = Translator.from_checkpoint(tmp_path / "ema", device="cpu", ngf=4, n_blocks=1, ema=ema).model.netG_A
        assert all(torch.equal(a, b) for a, b in zip(loaded.parameters(), expected_net.parameters()))
    for name in ("G_A", "G_B"):
        (tmp_path / "ema" / f"latest_net_{name}_ema.pth").unlink()
    with pytest.raises(UserError, match="latest_net_G_A_ema.pth not found: --ema translates with the moving averages"):
        Translator.from_checkpoint(tmp_path / "ema", device="cpu", ngf=4, n_blocks=1, ema=True)


def test_train_and_test_py_keep_and_translate_with_the_average(shapes_root, tmp_path):
    """Through the command lines: train.py --ema_decay writes the averages; test.py --ema translates with them into a
    folder of its own (<phase>_<epoch>_ema), beside the weights' results."""
    from tests.test_cli import SIZE32, TINY, run

    common = ["--dataroot", shapes_root, "--name", "ema", "--checkpoints_dir", tmp_path / "ck", *TINY, *SIZE32]
    run("train.py", *common, "--niter", "1", "--niter_decay", "0", "--display_id", "0", "--ema_decay", "0.9")
    assert (tmp_path / "ck" / "ema" / "latest_net_G_B_ema.pth").is_file()
    for flags in ([], ["--ema"]):
        run("test.py", *common, "--results_dir", tmp_path / "res", *flags)
    plain, averaged = (tmp_path / "res" / "ema" / name for name in ("test_latest", "test_latest_ema"))
    pages = [(folder / "index.html").read_text() for folder in (plain, averaged)]
    assert "moving average" not in pages[0] and "moving average" in pages[1]
    image = "images/00000_fake_B_img.png"
    assert (plain / image).read_bytes() != (averaged / image).read_bytes()
