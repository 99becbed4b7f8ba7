import copy

import pytest
import torch

from instagan.models import networks as N
from instagan.util import instance_set


def make_input(batch=2, n=4, size=32, empty=(), seed=0):
    g = torch.Generator().manual_seed(seed)
    img = torch.rand(batch, 3, size, size, generator=g) * 2 - 1
    segs = -torch.ones(batch, n, size, size)
    for b in range(batch):
        for k in range(n):
            if (b, k) in empty:
                continue
            t, l, h, w = torch.randint(0, size // 2, (4,), generator=g).tolist()
            segs[b, k, t : t + h + 4, l : l + w + 4] = 1
    return torch.cat([img, segs], dim=1)


@pytest.fixture(scope="module")
def G():
    return N.define_G(3, 3, 8, "set", n_blocks=2).eval()


def test_parameter_counts_match_the_original():
    count = lambda m: sum(p.numel() for p in m.parameters() if p.requires_grad)  # noqa: E731
    assert count(N.define_G(3, 3, 64, "set")) == 26_815_108
    assert count(N.define_D(3, 64, "set")) == 9_721_729


@pytest.mark.parametrize("upsample", N.generators.UPSAMPLING)
def test_every_upsampling_keeps_the_shapes_and_the_set_structure(upsample):
    G = N.define_G(3, 3, 4, "set", n_blocks=1, upsample=upsample).eval()
    x = make_input(empty={(0, 3)})
    perm = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        y, y_perm = G(x), G(torch.cat([x[:, :3], x[:, 3:][:, perm]], 1))
    assert y.shape == x.shape and torch.equal(y[0, 3 + 3], x[0, 3 + 3])
    torch.testing.assert_close(y_perm[:, 3:], y[:, 3:][:, perm], atol=1e-5, rtol=0)
    kinds = {type(m).__name__ for m in G.decoder_img}
    transposed = upsample.startswith("transpose")
    assert ("ConvTranspose2d" in kinds) == transposed and ("Upsample" in kinds) == (not transposed)


def test_only_the_context_skip_lets_a_generator_see_a_flat_colour():
    # instance norm after the first convolution removes a constant added to a colour channel (reflection padding keeps
    # it constant at the border too): without the skip the translated image is blind to it, with it the output moves;
    # the masks' decoder stays blind to it
    x = make_input(batch=1)
    shifted = x.clone()
    shifted[:, 1] += 0.3  # the same picture, greener
    for context_skip in (False, True):
        torch.manual_seed(0)
        G = N.define_G(3, 3, 4, "set", n_blocks=1, context_skip=context_skip).eval()
        with torch.no_grad():
            y, y_shifted = G(x), G(shifted)
        change = (y_shifted[:, :3] - y[:, :3]).abs().max().item()
        assert (change > 1e-3) == context_skip, (context_skip, change)
        torch.testing.assert_close(y_shifted[:, 3:], y[:, 3:], atol=1e-4, rtol=0)


def test_the_context_image_fills_the_instances_with_the_colour_around_them():
    x = make_input(batch=2)
    img, segs = x[:, :3], x[:, 3:]
    inside = (segs > 0).any(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    context = N.generators.context_image(img, segs)
    square = torch.nn.functional.avg_pool2d(img, kernel_size=21, stride=1, padding=10)  # one 21 x 21 window
    torch.testing.assert_close(N.generators._box_mean(img, 10), square, atol=1e-6, rtol=0)
    torch.testing.assert_close(context[~inside], img[~inside], atol=0, rtol=0)  # the context as it is
    recoloured = torch.where(inside, img + 0.5, img)
    torch.testing.assert_close(N.generators.context_image(recoloured, segs), context, atol=1e-6, rtol=0)
    flat = torch.full_like(img, 0.3)  # a flat background: an instance is filled with its colour
    flat[inside] = -0.8
    torch.testing.assert_close(N.generators.context_image(flat, segs), torch.full_like(img, 0.3), atol=1e-5, rtol=0)
    far = N.generators.context_image(img, segs, radius=0)  # no context near: the mean of the whole context
    mean = (img * ~inside).sum(dim=(2, 3)) / (~inside).sum(dim=(2, 3))
    torch.testing.assert_close(far[0, :, inside[0, 0]], mean[0][:, None].expand(-1, int(inside[0, 0].sum())))


def test_the_context_skip_keeps_the_set_structure_and_the_dense_path():
    G = N.define_G(3, 3, 4, "set", n_blocks=1, context_skip=True).eval()
    assert any(k.startswith("skip_img.") for k in G.state_dict())
    assert not any(k.startswith("skip_img.") for k in N.define_G(3, 3, 4, "set", n_blocks=1).state_dict())
    x = make_input(empty={(0, 3)})
    perm = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        y, y_perm = G(x), G(torch.cat([x[:, :3], x[:, 3:][:, perm]], 1))
        torch.testing.assert_close(y_perm, torch.cat([y[:, :3], y[:, 3:][:, perm]], 1), atol=1e-5, rtol=0)
        torch.testing.assert_close(G.forward_static(x), y, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="needs --model insta_gan"):
        N.define_G(3, 3, 4, "resnet_6blocks", context_skip=True)


def test_a_transposed_3x3_convolution_draws_a_checkerboard_and_the_others_do_not():
    # one stride-2 upsampling of a constant input with constant weights: a kernel of 3 adds up 1, 2 or 4 inputs in
    # neighbouring outputs (a checkerboard); a kernel of 4 and a resize add up as many everywhere (inside the border)
    x = torch.ones(1, 1, 8, 8)
    for mode, even in (("transpose", False), ("transpose4", True), ("nearest", True), ("bilinear", True)):
        layers = torch.nn.Sequential(*N.generators.upsampling(1, 1, mode, use_bias=False))
        for m in layers:
            if hasattr(m, "weight"):
                torch.nn.init.constant_(m.weight, 1.0)
        inner = layers(x)[0, 0, 2:-2, 2:-2]
        assert (inner.max() == inner.min()) == even, mode


def test_generator_shapes_and_empty_slots_pass_through(G):
    x = make_input(empty={(0, 2), (1, 0), (1, 3)})
    y = G(x)
    assert y.shape == x.shape
    assert torch.equal(y[0, 3 + 2], x[0, 3 + 2])
    assert torch.equal(y[1, 3 + 0], x[1, 3 + 0])
    assert not torch.equal(y[0, 3 + 1], x[0, 3 + 1])
    assert y[:, :3].abs().max() <= 1


def test_the_dense_generator_gives_what_the_sparse_one_gives(G):
    # forward_dense (every slot computed, the empty ones masked: what export traces) against forward (only the
    # encoded slots), with a sample that has no instance at all (its slot 0 is encoded)
    x = make_input(batch=3, n=4, empty={(0, 2), (1, 0), (1, 3), (2, 0), (2, 1), (2, 2), (2, 3)})
    img, segs = x[:, :3], x[:, 3:]
    with torch.no_grad():
        dense = G.forward_dense(img, segs, instance_set.encoded_slots(segs))
        sparse = G(x)
    torch.testing.assert_close(dense, sparse, atol=1e-6, rtol=0)


def test_generator_is_permutation_equivariant(G):
    x = make_input(empty={(0, 3)})
    perm = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        y = G(x)
        y_perm = G(torch.cat([x[:, :3], x[:, 3:][:, perm]], 1))
    torch.testing.assert_close(y_perm[:, :3], y[:, :3], atol=1e-5, rtol=0)
    torch.testing.assert_close(y_perm[:, 3:], y[:, 3:][:, perm], atol=1e-5, rtol=0)


def test_generator_cannot_see_a_constant_colour_shift(G):
    # Instance norm right after the first convolution (with reflection padding) removes any constant colour
    # added to the input image, so the generator must infer a background's colour from what it looks like.
    # This is why the shapes data set ties each background's colour to its material.
    x = make_input(batch=1, n=2)
    shifted = x.clone()
    shifted[:, :3] += torch.tensor([0.3, -0.2, 0.1]).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(G(shifted), G(x), atol=1e-5, rtol=0)
        changed = x.clone()
        changed[:, :3, :16] += 0.3  # a colour change in part of the image is seen
        assert (G(changed)[:, :3] - G(x)[:, :3]).abs().max() > 1e-3


def test_generator_batch_equals_single_runs(G):
    x = make_input(batch=4, empty={(1, 1), (2, 0), (2, 1), (2, 2), (2, 3)})
    with torch.no_grad():
        together = G(x)
        alone = torch.cat([G(x[b : b + 1]) for b in range(4)])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("mode", ["eval", "per_call"])
def test_discriminator_is_order_invariant(mode):
    D = N.define_D(3, 8, "set", sn_update="per_instance" if mode == "eval" else "per_call")
    D.eval() if mode == "eval" else D.train()
    x = make_input(empty={(1, 2)})
    x_perm = torch.cat([x[:, :3], x[:, 3:][:, [3, 1, 0, 2]]], 1)
    with torch.no_grad():
        state = {k: v.clone() for k, v in D.state_dict().items()}
        out = D(x)
        D.load_state_dict(state)  # same power-iteration start for both calls
        out_perm = D(x_perm)
    assert out.shape == (2, 1, 2, 2)
    torch.testing.assert_close(out_perm, out, atol=1e-5, rtol=0)


def test_discriminator_per_instance_mode_is_invariant_once_sigma_converged():
    D = N.define_D(3, 8, "set").train()
    x = make_input(empty={(1, 2)})
    with torch.no_grad():
        for _ in range(200):
            D(x)  # converge the power iterations
        a, b = D(x), D(torch.cat([x[:, :3], x[:, 3:][:, [3, 1, 0, 2]]], 1))
    torch.testing.assert_close(a, b, atol=1e-4, rtol=0)


def test_discriminator_batch_equals_single_runs():
    D = N.define_D(3, 8, "set").eval()
    x = make_input(batch=3, empty={(0, 1), (2, 0), (2, 1), (2, 2), (2, 3)})
    with torch.no_grad():
        torch.testing.assert_close(D(x), torch.cat([D(x[b : b + 1]) for b in range(3)]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("sn_update", ["per_instance", "per_call"])
def test_the_static_discriminator_is_the_set_discriminator(sn_update):
    """forward_static (every slot of every sample through the extractor, fixed shapes) in training mode: the output,
    every gradient and the spectral norm's vectors after the call are forward's; the inputs have a sample without
    instances and one whose encoded slots are not the first ones."""
    torch.manual_seed(0)
    D = N.define_D(3, 8, "set", sn_update=sn_update).train()
    static = copy.deepcopy(D)
    x = make_input(batch=4, n=4, empty={(0, 1), (1, 0), (1, 1), (1, 2), (1, 3), (2, 3)})
    out, out_static = D(x), static.forward_static(x)
    torch.testing.assert_close(out_static, out, atol=1e-6, rtol=0)
    out.square().sum().backward()
    out_static.square().sum().backward()
    for (name, p), q in zip(D.named_parameters(), static.parameters()):
        torch.testing.assert_close(q.grad, p.grad, atol=1e-5, rtol=1e-4, msg=name)
    for (name, u), v in zip(D.named_buffers(), static.buffers()):  # one power iteration per call in both
        torch.testing.assert_close(v, u, atol=1e-6, rtol=0, msg=name)


def test_plain_networks_for_the_cyclegan_baseline():
    G = N.define_G(3, 3, 8, "resnet_9blocks")
    D = N.define_D(3, 8, "basic")
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert G(x).shape == x.shape
    assert D(x).shape == (2, 1, 6, 6)


def test_unknown_names_list_the_choices():
    with pytest.raises(ValueError, match="resnet_9blocks"):
        N.define_G(3, 3, 8, "unet")
    with pytest.raises(ValueError, match="basic"):
        N.define_D(3, 8, "pixel")


def test_original_state_dict_keys_are_translated():
    D = N.define_D(3, 8, "set")
    ours = D.state_dict()
    original = {}
    for key, value in ours.items():
        key = key.replace("parametrizations.weight.original", "module.weight_bar")
        key = key.replace("parametrizations.weight.0._u", "module.weight_u")
        key = key.replace("parametrizations.weight.0._v", "module.weight_v")
        if key.endswith(".bias"):
            key = key[: -len("bias")] + "module.bias"
        original["module." + key] = value
    original["module.encoder.1.running_mean"] = torch.zeros(8)  # pre-0.4 instance-norm stats are dropped
    assert N.load_original_state_dict(original).keys() == ours.keys()


@pytest.mark.parametrize("dtype, atol", [(torch.float32, 1e-5), (torch.bfloat16, 0.05)])
def test_channels_last_instance_norm_is_torchs_in_the_input_layout(dtype, atol):
    x = (torch.randn(3, 16, 12, 10) * 3 + 1).to(dtype).contiguous(memory_format=torch.channels_last)
    y = N.layers.instance_norm_nhwc(x, 1e-5)
    assert y.dtype == dtype and y.is_contiguous(memory_format=torch.channels_last) and not y.is_contiguous()
    expected = torch.nn.functional.instance_norm(x.float(), eps=1e-5)
    torch.testing.assert_close(y.float(), expected, atol=atol, rtol=0)


def watch_layouts(model) -> tuple[list, list]:
    """Hooks on every convolution of the model's networks but the first of each layer stack (which reads its slice of
    the input): the lists of the convolutions that ran and of those that read memory that is not channels-last."""
    seen, converted = [], []

    def check(module, args):
        seen.append(module)
        if not args[0].is_contiguous(memory_format=torch.channels_last):
            converted.append((type(module).__name__, tuple(args[0].shape), args[0].stride()))

    for net in model.networks().values():
        for stack in net.children():
            convs = [m for m in stack.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)]
            for conv in convs[1:]:
                conv.register_forward_pre_hook(check)
    return seen, converted


def test_channels_last_runs_every_layer_in_channels_last_memory(monkeypatch):
    """With --channels_last (and the NHWC instance norm that CUDA uses, here on the CPU), every convolution of every
    network reads channels-last memory, except the first of each layer stack, which reads its slice of the input."""
    from instagan.models.insta_gan_model import InstaGANModel
    from instagan.models.trainer import Trainer
    from instagan.options.train_options import TrainOptions
    from instagan.util.distributed import Context
    from tests.test_model import SMALL, batch_from

    monkeypatch.setattr(N.layers, "NHWC_INSTANCE_NORM_DEVICES", {"cpu", "cuda"})
    opt = TrainOptions().parse(SMALL + ["--ins_max", "4", "--ins_per", "2", "--channels_last", "--n_blocks", "2"])
    model = InstaGANModel(opt, torch.device("cpu"))
    model.setup()
    trainer = Trainer(model, opt, Context(torch.device("cpu")))
    seen, converted = watch_layouts(model)
    x_a = make_input(batch=2, n=4, empty={(1, 3)})
    x_b = make_input(batch=2, n=4, empty={(0, 2), (0, 3)}, seed=1)
    trainer.train_step(batch_from(x_a, x_b))
    model.eval()
    model.set_input(batch_from(x_a, x_b))
    model.translate()
    assert len(seen) > 100
    assert converted == []


def test_a_new_network_is_a_class_and_an_entry(monkeypatch):
    """--netG and --netD choose from the registries: an entry there is all a new network needs (flag, build, model)."""
    from torch import nn

    from instagan.models.cycle_gan_model import CycleGANModel
    from instagan.options.train_options import TrainOptions

    class Tiny(nn.Module):
        def __init__(self, input_nc, output_nc, ngf, norm_layer, use_dropout, n_blocks, upsample, context_skip):
            super().__init__()
            self.conv = nn.Conv2d(input_nc, output_nc, 3, padding=1)

        def forward(self, x):
            return torch.tanh(self.conv(x))

    monkeypatch.setitem(N.GENERATORS, "tiny", Tiny)
    argv = ["--dataroot", "unused", "--gpu_ids", "-1", "--model", "cycle_gan", "--netG", "tiny", "--ndf", "4"]
    opt = TrainOptions().parse(argv)
    model = CycleGANModel(opt, torch.device("cpu"))
    assert isinstance(model.netG_A, Tiny) and model.netG_A.conv.weight.std() < 0.05  # initialised as every network
    with pytest.raises(SystemExit):
        TrainOptions().parse([*argv[:-4], "--netG", "huge"])


@pytest.mark.parametrize("upsample, context_skip", [("transpose", False), ("transpose4", True), ("bilinear", False)])
def test_twin_generators_run_as_one_give_what_each_gives(upsample, context_skip):
    """--fuse_twins: two generators as one network (grouped convolutions) give each one's forward_static, and the
    same gradients; also with the context skip (run per twin) and every kind of upsampling. (Every sample has an
    instance: the model translates no other, and an empty slot encoded alone is float noise that instance norm
    amplifies, in the gradients too.)"""
    torch.manual_seed(0)
    first, second = (N.define_G(3, 3, 8, "set", n_blocks=1, upsample=upsample, context_skip=context_skip) for _ in "12")
    fused = N.TwinSetGenerators(copy.deepcopy(first), copy.deepcopy(second))
    x1 = make_input(batch=3, n=3, empty={(0, 2), (1, 0), (1, 2)})
    x2 = make_input(batch=3, n=3, empty={(2, 1)}, seed=1)
    outs = first.forward_static(x1), second.forward_static(x2)
    fused_outs = fused(x1, x2, fused.weights())
    for out, fused_out in zip(outs, fused_outs):
        torch.testing.assert_close(fused_out, out, atol=1e-5, rtol=0)
    sum(o.square().sum() for o in outs).backward()
    sum(o.square().sum() for o in fused_outs).backward()
    for net, fused_net in ((first, fused.first), (second, fused.second)):
        # the network's gradient as a whole: the gradient of a bias right before an instance norm is float noise
        grads = [torch.cat([p.grad.flatten() for p in n.parameters()]) for n in (net, fused_net)]
        assert (grads[1] - grads[0]).norm() <= 1e-4 * grads[0].norm()


@pytest.mark.parametrize("sn_update", ["per_instance", "per_call"])
def test_twin_discriminators_run_as_one_give_what_each_gives(sn_update):
    """Two set discriminators as one, in training mode, on inputs whose samples have more instances in one twin than
    in the other (per instance, the extra ranks run on that twin alone): each twin's output, gradients and
    spectral-norm vectors after the call are its own forward_static's."""
    torch.manual_seed(0)
    first, second = (N.define_D(3, 8, "set", sn_update=sn_update).train() for _ in "12")
    fused = N.TwinSetDiscriminators(copy.deepcopy(first), copy.deepcopy(second))
    x1 = make_input(batch=3, n=4, empty={(0, 3), (1, 1), (1, 2), (1, 3), (2, 0), (2, 1), (2, 2), (2, 3)})
    x2 = make_input(batch=3, n=4, empty={(0, 0)}, seed=1)
    outs = first.forward_static(x1), second.forward_static(x2)
    fused_outs = fused(x1, x2)
    for out, fused_out in zip(outs, fused_outs):
        torch.testing.assert_close(fused_out, out, atol=1e-6, rtol=0)
    sum(o.square().sum() for o in outs).backward()
    sum(o.square().sum() for o in fused_outs).backward()
    for net, fused_net in ((first, fused.first), (second, fused.second)):
        for (name, p), q in zip(net.named_parameters(), fused_net.parameters()):
            torch.testing.assert_close(q.grad, p.grad, atol=1e-5, rtol=1e-4, msg=name)
        for (name, u), v in zip(net.named_buffers(), fused_net.buffers()):
            torch.testing.assert_close(v, u, atol=1e-6, rtol=0, msg=name)


def test_twins_run_as_one_in_bfloat16_give_what_each_gives():
    """Under bf16 autocast the fused networks compute in bfloat16 as each twin does: their outputs are within one
    bfloat16 step (at most 2 ** -7 of the largest value) of each twin's forward_static in bf16."""
    torch.manual_seed(0)
    generators = [N.define_G(3, 3, 8, "set", n_blocks=1) for _ in "12"]
    discriminators = [N.define_D(3, 8, "set").train() for _ in "12"]
    fused_D = N.TwinSetDiscriminators(*(copy.deepcopy(d) for d in discriminators))
    x1 = make_input(batch=3, n=3, empty={(0, 2), (1, 0), (1, 2)})
    x2 = make_input(batch=3, n=3, empty={(2, 1)}, seed=1)
    fused_G = N.TwinSetGenerators(*generators)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        pairs = [(fused_G(x1, x2, fused_G.weights()), [g.forward_static(x) for g, x in zip(generators, (x1, x2))]),
                 (fused_D(x1, x2), [d.forward_static(x) for d, x in zip(discriminators, (x1, x2))])]  # fmt: skip
    for fused_outs, outs in pairs:
        for fused_out, out in zip(fused_outs, outs):
            assert fused_out.dtype == out.dtype
            torch.testing.assert_close(fused_out.float(), out.float(), atol=2**-7 * float(out.abs().max()), rtol=0)


def test_only_twins_of_one_architecture_fuse():
    with pytest.raises(ValueError, match="differ in their layers or parameter shapes"):
        N.TwinSetGenerators(N.define_G(3, 3, 8, "set", n_blocks=1), N.define_G(3, 3, 8, "set", n_blocks=2))
    with pytest.raises(ValueError, match="use --norm instance"):
        N.TwinSetDiscriminators(*(N.define_D(3, 8, "set", norm="batch") for _ in "12"))
    generators = [N.define_G(3, 3, 8, "set", n_blocks=1) for _ in "12"]
    for g in generators:
        g.decoder_seg[0] = torch.nn.PixelShuffle(1)  # (a layer without a fused form)
    with pytest.raises(ValueError, match="PixelShuffle has no fused form"):
        N.TwinSetGenerators(*generators)
