import random

import pytest
import torch

from instagan.models.insta_gan_model import InstaGANModel
from instagan.models.networks import twins
from instagan.models.trainer import Trainer
from instagan.options.test_options import TestOptions
from instagan.options.train_options import TrainOptions
from instagan.util.distributed import Context
from tests.test_networks import make_input

SMALL = ["--dataroot", "unused", "--gpu_ids", "-1", "--ngf", "8", "--ndf", "8", "--n_blocks", "1"]


def batch_from(x_a, x_b):
    pad = lambda s: torch.cat([s, -torch.ones(s.shape[0], 20 - s.shape[1], *s.shape[2:])], 1)  # noqa: E731
    n = x_a.shape[0]
    return {
        "A": x_a[:, :3], "A_segs": pad(x_a[:, 3:]), "A_paths": [f"a{i}.png" for i in range(n)],
        "B": x_b[:, :3], "B_segs": pad(x_b[:, 3:]), "B_paths": [f"b{i}.png" for i in range(n)],
    }  # fmt: skip


def test_training_survives_images_without_instances():
    opt = TrainOptions().parse(SMALL)
    model = InstaGANModel(opt, torch.device("cpu"))
    trainer = Trainer(model, opt, Context(torch.device("cpu")))
    everything_empty = {(b, k) for b in range(2) for k in range(4)}
    x_a = make_input(batch=2, empty=everything_empty)
    x_b = make_input(batch=2, empty={(0, 2), (0, 3)}, seed=1)
    before = {k: v.clone() for k, v in model.netG_B.state_dict().items()}
    trainer.train_step(batch_from(x_a, x_b))
    # A has nothing to translate: it passes through and gives no A -> B loss; B -> A still trains.
    assert torch.equal(model.get_current_visuals()["fake_B_img"], x_a[:, :3])
    losses = model.get_current_losses()
    assert losses["G_A"] == 0 and losses["cyc_A"] == 0
    assert losses["G_B"] > 0
    assert any(not torch.equal(before[k], v) for k, v in model.netG_B.state_dict().items())


def test_step_without_instances_leaves_that_sample_alone():
    opt = TestOptions().parse(SMALL + ["--ins_max", "4", "--ins_per", "2"])
    model = InstaGANModel(opt, torch.device("cpu"))
    model.eval()
    x = make_input(batch=2, empty={(0, 2), (0, 3)})  # sample 0 has 2 instances: no second step
    model.set_input({"A": x[:, :3], "A_segs": x[:, 3:], "A_paths": ["a.png", "b.png"]})
    one_step = model.translate()[0].translated[0]
    model.set_input({"A": x[:1, :3], "A_segs": x[:1, 3:5], "A_paths": ["a.png"]})
    model.opt.ins_max = 2
    model.steps, model.slots = model.steps[:1], 2
    torch.testing.assert_close(one_step, model.translate()[0].translated[0], atol=1e-5, rtol=0)


def test_batch_of_four_gives_the_same_translation_as_four_single_runs():
    opt = TestOptions().parse(SMALL + ["--ins_max", "5", "--ins_per", "2"])
    model = InstaGANModel(opt, torch.device("cpu"))
    model.eval()
    x = make_input(batch=4, n=5, empty={(1, 3), (1, 4), (2, 0), (2, 1), (2, 2), (2, 3), (2, 4)})
    batch = {"A": x[:, :3], "A_segs": x[:, 3:], "A_paths": [f"{i}.png" for i in range(4)]}
    model.set_input(batch)
    together = model.translate()[0]
    fields = ("source", "source_masks", "translated", "translated_masks", "reconstructed", "reconstructed_masks")
    for i in range(4):
        model.set_input({"A": x[i : i + 1, :3], "A_segs": x[i : i + 1, 3:], "A_paths": [f"{i}.png"]})
        alone = model.translate()[0]
        assert alone.paths == [f"{i}.png"] and (alone.src, alone.tgt) == ("A", "B")
        for name in fields:  # reconstructions went through both generators: twice the rounding
            atol = 3e-5 if name.startswith("reconstructed") else 1e-5
            torch.testing.assert_close(getattr(together, name)[i : i + 1], getattr(alone, name), atol=atol, rtol=0, msg=name)
    # sample 2 has no instance: it passes through untouched
    assert torch.equal(together.translated[2], x[2, :3])


def test_channels_last_trains_and_translates_as_the_default_layout():
    """--channels_last changes where numbers sit in memory, not the numbers: a test pass and the losses of a training
    step (G and D, identity and context losses) agree with the default layout's, and so, within the rounding Adam
    amplifies, does the second sequential step, which follows an update."""
    x_a = make_input(batch=2, n=4, empty={(1, 3)})
    x_b = make_input(batch=2, n=4, empty={(0, 2), (0, 3)}, seed=1)
    runs = []
    for flags in ([], ["--channels_last"]):
        torch.manual_seed(0)
        random.seed(0)
        opt = TrainOptions().parse(SMALL + ["--ins_max", "4", "--ins_per", "2", *flags])
        model = InstaGANModel(opt, torch.device("cpu"))
        model.setup()
        trainer = Trainer(model, opt, Context(torch.device("cpu")))
        model.eval()
        model.set_input(batch_from(x_a, x_b))
        translations = model.translate()
        model.train()
        trainer.train_step(batch_from(x_a, x_b))
        runs.append((model, translations, trainer.step_losses))
    (_, plain_out, plain_losses), (nhwc, nhwc_out, nhwc_losses) = runs
    assert nhwc.netG_A.encoder_img[1].weight.is_contiguous(memory_format=torch.channels_last)
    assert nhwc.directions[0].source.is_contiguous(memory_format=torch.channels_last)
    for a, b in zip(plain_out, nhwc_out):
        torch.testing.assert_close(a.translated, b.translated, atol=1e-5, rtol=0)
        torch.testing.assert_close(a.translated_masks, b.translated_masks, atol=1e-5, rtol=0)
        torch.testing.assert_close(a.reconstructed, b.reconstructed, atol=3e-5, rtol=0)
    assert len(plain_losses) == len(nhwc_losses) == 2 and len(plain_losses[0]) == 10
    for step, atol in zip(range(2), (1e-5, 1e-3)):
        assert plain_losses[step].keys() == nhwc_losses[step].keys()
        for name, value in plain_losses[step].items():
            assert abs(value - nhwc_losses[step][name]) < atol, (step, name, value, nhwc_losses[step][name])


@pytest.mark.parametrize("compiled", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_the_static_step_translates_as_the_model_does(compiled):
    """--cuda_graphs runs each step on every sample and slot (fixed shapes), compiled whole; the translations equal the
    default pass's, also for a sample with no instance in a step and one with none at all."""
    opt = TestOptions().parse(SMALL + ["--ins_max", "5", "--ins_per", "2"])
    model = InstaGANModel(opt, torch.device("cpu"))
    model.eval()
    x = make_input(batch=4, n=5, empty={(1, 3), (1, 4), (2, 0), (2, 1), (2, 2), (2, 3), (2, 4), (3, 2), (3, 3), (3, 4)})
    batch = {"A": x[:, :3], "A_segs": x[:, 3:], "A_paths": [f"{i}.png" for i in range(4)]}
    model.set_input(batch)
    default = model.translate()[0]
    model.use_static_steps(compiled)
    for _ in range(2):  # (compiled: the second pass replays what the first compiled)
        model.set_input(batch)
        static = model.translate()[0]
        for name in ("translated", "translated_masks", "reconstructed", "reconstructed_masks"):
            atol = 3e-5 if name.startswith("reconstructed") else 1e-5
            torch.testing.assert_close(getattr(static, name), getattr(default, name), atol=atol, rtol=0, msg=name)
    assert static.slot_steps == default.slot_steps == [0, 0, 1, 1, 2]
    assert torch.equal(static.translated[2], x[2, :3])  # no instance: passes through


@pytest.mark.parametrize("compiled", [False, pytest.param(True, marks=pytest.mark.slow)])
@pytest.mark.parametrize("sn_update", ["per_instance", "per_call"])
def test_training_with_fixed_shapes_trains_as_the_default(sn_update, compiled):
    """--cuda_graphs in training: every network call of a step on the batch size's rows and every slot (samples
    without an instance in a step padded in as blank ones). Three batches of three steps each (a sample inactive in
    later steps, one without instances, the history pool drawing): every loss of every step is the default's, and so
    are the gradients of the last updates."""
    # compiled: inductor's CPU kernels are built for the host's vector units and sum in their own order; the
    # generators' gradients came within 0.6 % (G_A) and 1.05 % (G_B) of the default's on a 2-core AMD EPYC (Zen 3), the
    # discriminators' within 0.04 %, with or without the context loss
    check_fixed_shape_training("cpu", sn_update, compiled, atol=1e-4 if compiled else 1e-5, rtol=2e-2 if compiled else 1e-3)


B_EMPTY = {(0, 2), (0, 3), (0, 4), (3, 4)}  # B's samples: 0 has 2 instances, 3 has 4, the others 5


@pytest.mark.parametrize("sn_update, flags, reference, rtol", [
    ("per_instance", [], "default", 1e-3), ("per_call", [], "default", 1e-3),
    ("per_instance", ["--lambda_idt", "0"], "default", 1e-3), ("per_call", ["--channels_last"], "static", 1e-3),
    ("per_instance", ["--direction", "BtoA"], "default", 2e-2),
])  # fmt: skip
def test_fused_twins_train_as_the_default(sn_update, flags, reference, rtol):
    """--fuse_twins: G_A and G_B as one network, D_A and D_B as another, every call with fixed shapes. Every loss of
    every step (within 1e-5), the gradients of the last updates and the spectral-norm vectors are the default's (with
    the same flags): both spectral-norm modes, without the identity loss (the cycle call alone). In channels-last
    memory they are the unfused fixed-shape step's, which is itself up to 6e-3 from the default's losses by the last
    step: padded and unpadded batches round differently there, which Adam's first steps amplify. With the domains
    swapped G's gradients are ill-conditioned: the default and the unfused fixed-shape step are up to 1 % apart
    themselves, depending on the number of threads (a swapped twin would be 100 % off)."""
    check_fixed_shape_training("cpu", sn_update, False, atol=1e-5, rtol=rtol, fused=True, extra=tuple(flags),
                               reference=reference)  # fmt: skip


@pytest.mark.slow
def test_fused_twins_compiled_train_as_the_default():
    """--fuse_twins --cuda_graphs: each fused layer stack compiled for its shapes (CUDA graphs on a GPU; on the CPU
    inductor's kernels, whose sums run in their own order: the tolerances of the compiled fixed-shape test)."""
    check_fixed_shape_training("cpu", "per_call", True, atol=1e-4, rtol=2e-2, fused=True)


def test_fused_twins_run_a_direction_alone_in_a_step_where_the_other_has_nothing():
    """No sample of B has a fifth instance: in the last step of every batch only A -> B translates, and its twins run
    unfused. Compared with the unfused fixed-shape step (the default's gradients of that one-sample step are 2 % away
    from both, float rounding amplified; without the context loss, whose thresholded masks add to it)."""
    check_fixed_shape_training("cpu", "per_instance", False, atol=1e-5, rtol=1e-4, fused=True, b_empty=B_EMPTY | {(1, 4), (2, 4)},
                               reference="static", extra=["--lambda_ctx", "0"])  # fmt: skip


def test_fused_twins_train_as_the_default_in_bf16():
    """--precision bf16: the fused step is as close to the fp32 step as the unfused bf16 step is, in every loss of every
    step and in each network's gradients (bfloat16's 8-bit mantissa puts both about 2 % of a loss and a third of G's
    gradient away from fp32 on these tiny networks; the networks' outputs are within one bfloat16 step of each other,
    tests/test_networks.py)."""
    fp32, fp32_losses = train_three_batches("default", "per_instance")
    runs = {mode: train_three_batches(mode, "per_instance", precision="bf16") for mode in ("static", "fused")}

    def farthest(losses: list[dict]) -> float:  # the largest difference of a loss from fp32's
        return max(abs(a[name] - b[name]) for a, b in zip(fp32_losses, losses) for name in a)

    assert farthest(runs["fused"][1]) <= 1.5 * farthest(runs["static"][1])
    for net in ("G_A", "G_B", "D_A", "D_B"):
        exact = network_gradient(fp32, net)
        unfused, fused = ((network_gradient(model, net) - exact).norm() for model, _ in runs.values())
        assert fused <= 1.5 * unfused, net


def network_gradient(model: InstaGANModel, net: str) -> torch.Tensor:
    """All of a network's gradients, as one vector (zeros where a parameter has none: no update reached it)."""
    params = getattr(model, f"net{net}").parameters()
    return torch.cat([(torch.zeros_like(p) if p.grad is None else p.grad).flatten() for p in params])


def counted(run, calls: dict, key: str):
    def run_and_count(*args):
        calls[key] += 1
        return run(*args)

    return run_and_count


def train_three_batches(mode: str, sn_update: str, device: str = "cpu", compiled: bool = False, b_empty: set = B_EMPTY,
                        precision: str = "fp32", extra: tuple = ()) -> tuple[InstaGANModel, list[dict]]:  # fmt: skip
    """A model trained on three batches of three steps each (a sample inactive in later steps, one without instances,
    the history pool drawing) by default, with fixed shapes (``static``) or with the twins fused (``fused``); the
    model and every step's losses. A small learning rate keeps Adam from amplifying float rounding into different
    weights, so that later steps compare two computations, not two trajectories."""
    x_a = make_input(batch=4, n=5, empty={(1, 3), (1, 4), (2, 0), (2, 1), (2, 2), (2, 3), (2, 4), (3, 2), (3, 3), (3, 4)})
    x_b = make_input(batch=4, n=5, empty=b_empty, seed=1)
    torch.manual_seed(0)
    random.seed(0)
    flags = ["--ins_max", "5", "--ins_per", "2", "--sn_update", sn_update, "--pool_size", "3", "--lr", "1e-6",
             "--precision", precision, *(["--gpu_ids", "0"] if device == "cuda" else []),
             *(["--fuse_twins"] if mode == "fused" else []), *(["--cuda_graphs"] if mode == "fused" and compiled else []),
             *extra]  # fmt: skip
    opt = TrainOptions().parse(SMALL + flags)
    model = InstaGANModel(opt, torch.device(device))
    model.setup()
    if mode == "static":
        model.use_static_training(compiled)
    model.fused_stack_calls = {"G": 0, "D": 0}  # (the layer stacks that ran fused)
    model.fused_compiled = mode == "fused" and model.twin_G.run is not twins.run_stack
    for key, pair in (("G", model.twin_G), ("D", model.twin_D)) if mode == "fused" else ():
        pair.run = counted(pair.run, model.fused_stack_calls, key)
    trainer = Trainer(model, opt, Context(torch.device(device)))
    losses = []
    for _ in range(3):
        trainer.train_step(batch_from(x_a, x_b))
        losses += trainer.step_losses
    return model, losses


def check_fixed_shape_training(device: str, sn_update: str, compiled: bool, atol: float, rtol: float, fused: bool = False,
                               b_empty: set = B_EMPTY, reference: str = "default", extra: tuple = ()) -> None:  # fmt: skip
    """Trains the same model (``train_three_batches``) by default (or ``reference``) and with fixed shapes
    (``use_static_training``; ``fused``: with the twins fused, ``--fuse_twins``), and compares the losses of every
    step (within atol), each network's gradients as a whole (within rtol of their norm) and the spectral-norm vectors.
    The context loss thresholds the translated masks, so float rounding can move a pixel in or out of the context,
    which changes single gradient entries by more than rounding."""
    kwargs = dict(device=device, compiled=compiled, b_empty=b_empty, extra=extra)
    default, default_losses = train_three_batches(reference, sn_update, **kwargs)
    static, static_losses = train_three_batches("fused" if fused else "static", sn_update, **kwargs)
    assert static.fused_compiled == (fused and compiled)  # (compiled: the fused stacks too)
    assert static.static_training and len(default_losses) == len(static_losses) == 9
    assert (static.twin_G is not None) == (static.twin_D is not None) == fused
    assert all(calls > 0 for calls in static.fused_stack_calls.values()) == fused  # (the fused path ran, G's and D's)
    both = max(len(losses) for losses in default_losses)  # (the losses of a step in which both directions translate)
    assert sum(len(losses) == both // 2 for losses in default_losses) == (0 if b_empty == B_EMPTY else 3)  # each last step
    for step, (a, b) in enumerate(zip(default_losses, static_losses)):
        assert a.keys() == b.keys() and len(a) in (both // 2, both)
        for name in a:
            assert abs(a[name] - b[name]) < atol, (step, name, a[name], b[name])
    for net in ("G_A", "G_B", "D_A", "D_B"):
        grads = [network_gradient(m, net) for m in (default, static)]
        assert (grads[1] - grads[0]).norm() <= rtol * grads[0].norm(), net
        vectors = [[b for name, b in getattr(m, f"net{net}").named_buffers() if name.endswith(("_u", "_v"))]
                   for m in (default, static)]  # fmt: skip
        for u, v in zip(*vectors):
            torch.testing.assert_close(v, u, atol=max(atol, 1e-5), rtol=0)


@pytest.mark.parametrize("flags, says", [
    (["--cuda_graphs", "--norm", "batch"], "which batch norm would count in its statistics: use --norm instance"),
    (["--model", "cycle_gan", "--cuda_graphs"],
     "--cuda_graphs is not available with --model cycle_gan: it runs eager or with --channels_last or with --compile"),
    (["--model", "cycle_gan_seg", "--cuda_graphs"], "--cuda_graphs is not available with --model cycle_gan_seg"),
    (["--model", "cycle_gan", "--fuse_twins"], "--fuse_twins is not available with --model cycle_gan"),
    (["--fuse_twins", "--norm", "batch"], "--fuse_twins pads each step with blank samples, which batch norm would count"),
    (["--fuse_twins", "--compile"], "--fuse_twins runs with fixed shapes: leave out --compile, or compile them with"),
])  # fmt: skip
def test_speed_modes_a_model_cannot_run_are_refused_when_parsed(flags, says, capsys):
    with pytest.raises(SystemExit) as refused:
        TrainOptions().parse(SMALL + flags)
    assert refused.value.code == 2 and says in capsys.readouterr().err
    assert "cuda_graphs" in InstaGANModel.speed_modes and TrainOptions().parse(SMALL + ["--cuda_graphs"]).cuda_graphs
