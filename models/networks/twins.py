"""Twin networks run as one (``--fuse_twins``): G_A and G_B have one architecture, as have D_A and D_B, and a
training step calls each twin on inputs of the same shapes. Run as one network, every layer is one call for both:
the inputs are stacked along the channels, twin 1's channels first, and each convolution is a grouped convolution
(2 groups) with the twins' weights stacked, so that each layer is one call (operator dispatch, autograd nodes) instead
of two while the arithmetic stays the same. Instance norm, padding and activations work per channel, so they run on
the stacked channels unchanged.

Fusion is how a step runs, not what is stored: the twins keep their own parameters (and spectral-norm vectors), which
the fused call reads at each call, so checkpoints, optimisers and DDP see the same networks as without it. A
spectral-norm convolution runs its power iteration when its weight is read, once per call as unfused.

The twins run their fixed-shape functions (``forward_dense``, ``forward_static``): both inputs have the batch size's
rows and every slot (``TwoDomainModel.run_twins`` pads them), so each sample gets what the unfused network gives it,
float rounding apart.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from instagan.models.networks.compile import allow_recompiles
from instagan.models.networks.discriminators import NLayerSetDiscriminator
from instagan.models.networks.generators import HEAD, ResnetBlock, ResnetSetGenerator
from instagan.models.networks.layers import FewOutputsConv2d, few_outputs_conv, instance_norm
from instagan.util import instance_set

TWINS = 2
PER_CHANNEL = (nn.ReflectionPad2d, nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Identity, nn.Dropout, nn.Upsample)
Weights = list[tuple[torch.Tensor, torch.Tensor | None]]


def check_twins(first: nn.Module, second: nn.Module) -> None:
    """Raise ValueError unless the two networks have one architecture that fusion can run: the same layers and
    parameter shapes, every layer one that ``run_stack`` runs, instance norm without affine parameters or running
    statistics (or none)."""
    shapes = [[(name, tuple(p.shape)) for name, p in net.named_parameters()] for net in (first, second)]
    if type(first) is not type(second) or shapes[0] != shapes[1]:
        raise ValueError(f"{type(first).__name__} and {type(second).__name__} differ in their layers or parameter shapes "
                         "(--input_nc and --output_nc must be equal)")  # fmt: skip
    for module in first.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) or (
            isinstance(module, nn.InstanceNorm2d) and (module.affine or module.track_running_stats)
        ):
            raise ValueError(f"{type(module).__name__} with parameters or statistics per channel cannot be fused: use "
                             "--norm instance")  # fmt: skip



def check_stack(stack: nn.Module) -> None:
    """Raise ValueError naming the first layer of ``stack`` that ``run_stack`` has no fused form for."""
    if isinstance(stack, nn.Sequential):
        for layer in stack:
            check_stack(layer)
    elif isinstance(stack, ResnetBlock):
        check_stack(stack.conv_block)
    elif isinstance(stack, nn.Conv2d | nn.ConvTranspose2d) and stack.padding_mode != "zeros":
        raise ValueError(f"a {type(stack).__name__} with padding_mode={stack.padding_mode!r} has no fused form")
    elif not isinstance(stack, (nn.Conv2d, nn.ConvTranspose2d, nn.InstanceNorm2d, *PER_CHANNEL)):
        raise ValueError(f"{type(stack).__name__} has no fused form")


def stacked(parts: list[torch.Tensor]) -> torch.Tensor:
    """Per-twin tensors [(N, C, ...) of twin 1, (N, C, ...) of twin 2] -> (N, 2C, ...), the fused layout."""
    return torch.cat(parts, dim=1)


def unstacked(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(N, 2C, ...) in the fused layout -> each twin's (N, C, ...)."""
    return x.chunk(TWINS, dim=1)


def stacked_cat(*parts: torch.Tensor) -> torch.Tensor:
    """Fused tensors (N, 2C_i, ...) -> (N, 2 sum C_i, ...): each twin's concatenation of its parts, in the fused layout
    (what ``torch.cat(parts, dim=1)`` is for one network)."""
    halves = [unstacked(p) for p in parts]
    return stacked([torch.cat([h[t] for h in halves], dim=1) for t in range(TWINS)])


def stack_weights(first: nn.Module, second: nn.Module) -> Weights:
    """The stacked (weight, bias) of every convolution of two twin stacks, in module order. Reading a spectral-norm
    convolution's weight runs its power iteration (in training mode), as a call of the unfused stack does."""
    weights: Weights = []
    for a, b in zip(first.modules(), second.modules()):
        if isinstance(a, nn.Conv2d | nn.ConvTranspose2d):
            bias = None if a.bias is None else torch.cat([a.bias, b.bias])
            weights.append((torch.cat([a.weight, b.weight]), bias))
    return weights


def run_stack(stack: nn.Module, weights: Weights, x: torch.Tensor) -> torch.Tensor:
    """Twin stacks (``stack`` is twin 1's, for the layers' settings) on x (N, 2C, H, W) in the fused layout, with
    their ``stack_weights``."""
    remaining = iter(weights)

    def run(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if isinstance(module, nn.Sequential):
            for layer in module:
                x = run(layer, x)
            return x
        if isinstance(module, ResnetBlock):
            return x + run(module.conv_block, x)
        if isinstance(module, nn.ConvTranspose2d):
            weight, bias = next(remaining)
            return F.conv_transpose2d(x, weight.to(x.dtype), _cast(bias, x), module.stride, module.padding,
                                      module.output_padding, TWINS * module.groups, module.dilation)  # fmt: skip
        if isinstance(module, FewOutputsConv2d) and x.device.type == "cpu":
            weight, bias = next(remaining)
            return few_outputs_conv(x, weight.to(x.dtype), _cast(bias, x), groups=TWINS)
        if isinstance(module, nn.Conv2d):
            weight, bias = next(remaining)
            return F.conv2d(x, weight.to(x.dtype), _cast(bias, x), module.stride, module.padding, module.dilation,
                            TWINS * module.groups)  # fmt: skip
        if isinstance(module, nn.InstanceNorm2d):  # (check_twins: without parameters or statistics)
            return instance_norm(x, module.eps)
        if isinstance(module, PER_CHANNEL):
            return module(x)
        raise TypeError(f"{type(module).__name__} has no fused form")  # (check_stack refuses it at construction)

    out = run(stack, x)
    if next(remaining, None) is not None:
        raise ValueError("more stacked weights than the stack's convolutions")
    return out


def compiled_run_stack() -> Callable:
    """``run_stack`` compiled for fixed shapes with ``torch.compile(mode="reduce-overhead")``: on CUDA each stack replays
    as a CUDA graph (``--fuse_twins --cuda_graphs``). Its weights are inputs, read eagerly (spectral norm's power
    iteration updates its vectors in place, which a graph must not capture)."""
    allow_recompiles(64)  # one compiled version per stack and shape (about 20): more than the default limit of 8
    return torch.compile(run_stack, dynamic=False, mode="reduce-overhead")


def _cast(bias: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor | None:
    return None if bias is None else bias.to(x.dtype)


class TwinSetGenerators:
    """Two ``ResnetSetGenerator`` s run as one: ``(x1, x2) -> (first.forward_static(x1), second.forward_static(x2))``,
    x1 and x2 (B, input_nc + N, H, W) of one shape. ``weights()`` reads the stacked weights; a training step reads them
    once for its calls (the translation and the cycle), as the weights change only at the update. ``run``: how a
    stack runs, ``run_stack`` or ``compiled_run_stack()``."""

    STACKS = ("encoder_img", "encoder_seg", "decoder_img", "decoder_seg")

    def __init__(self, first: ResnetSetGenerator, second: ResnetSetGenerator, run: Callable = run_stack) -> None:
        check_twins(first, second)
        for name in self.STACKS:
            check_stack(getattr(first, name))
        self.first, self.second, self.run = first, second, run
        # the image decoder's body and head, around the context skip (made once: a compiled stack is known by its module)
        self.decoder_body, self.decoder_head = first.decoder_img[:-HEAD], first.decoder_img[-HEAD:]

    def weights(self) -> dict[str, Weights]:
        return {name: stack_weights(getattr(self.first, name), getattr(self.second, name)) for name in self.STACKS}

    def __call__(self, x1: torch.Tensor, x2: torch.Tensor, weights: dict[str, Weights]) -> tuple[torch.Tensor, ...]:
        """``ResnetSetGenerator.forward_dense`` of each twin on its input: (first's output, second's output)."""
        nc = self.first.input_nc
        segs = [x1[:, nc:], x2[:, nc:]]
        slots = [instance_set.encoded_slots(s) for s in segs]
        b, n, h, w = segs[0].shape
        stack = self.first

        def run(name: str, x: torch.Tensor) -> torch.Tensor:
            return self.run(getattr(stack, name), weights[name], x)

        enc_img = run("encoder_img", stacked([x1[:, :nc], x2[:, :nc]]))
        enc_segs = run("encoder_seg", stacked([s.reshape(b * n, 1, h, w) for s in segs]))  # (B * N, 2 * 4ngf, h', w')
        set_feature = stacked([
            (e * s.to(e.dtype).reshape(b * n, 1, 1, 1)).reshape(b, n, *e.shape[1:]).sum(dim=1)
            for e, s in zip(unstacked(enc_segs), slots)
        ])  # fmt: skip
        features = stacked_cat(enc_img, set_feature)
        if stack.skip_img is None:
            out_img = run("decoder_img", features)
        else:  # (the context skip runs per twin, between the fused decoder's body and head)
            body = self.run(self.decoder_body, weights["decoder_img"][:-1], features)
            skips = (self.first.skip_img, self.second.skip_img)
            skipped = stacked([skip(f, x[:, :nc], s) for skip, f, x, s in zip(skips, unstacked(body), (x1, x2), segs)])
            out_img = self.run(self.decoder_head, weights["decoder_img"][-1:], skipped)
        per_slot = stacked_cat(enc_segs, enc_img.repeat_interleave(n, dim=0), set_feature.repeat_interleave(n, dim=0))
        dec_segs = run("decoder_seg", per_slot)
        outs = []
        for img, dec, seg, slot in zip(unstacked(out_img), unstacked(dec_segs), segs, slots):
            out_segs = torch.where(slot[:, :, None, None], dec.reshape(b, n, h, w).to(seg.dtype), seg)
            outs.append(torch.cat([img, out_segs], dim=1))
        return tuple(outs)


class TwinSetDiscriminators:
    """Two ``NLayerSetDiscriminator`` s run as one: ``(x1, x2) -> (first.forward_static(x1),
    second.forward_static(x2))``, x1 and x2 (B, input_nc + N, H, W) of one shape. Spectral norm runs the power
    iterations each twin would: one per call of a stack, and per instance (``sn_update="per_instance"`` in training)
    one per rank of instance; where one twin's samples have more instances than the other's, its extra ranks run on
    its own. ``run``: as for ``TwinSetGenerators``."""

    def __init__(self, first: NLayerSetDiscriminator, second: NLayerSetDiscriminator, run: Callable = run_stack) -> None:
        check_twins(first, second)
        if first.sn_update != second.sn_update:
            raise ValueError("twin discriminators with different --sn_update")
        for name in self.STACKS:
            check_stack(getattr(first, name))
        self.first, self.second, self.run = first, second, run

    STACKS = ("feature_img", "feature_seg", "classifier")

    def _run(self, name: str, x: torch.Tensor) -> torch.Tensor:
        first, second = getattr(self.first, name), getattr(self.second, name)
        return self.run(first, stack_weights(first, second), x)

    def __call__(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, ...]:
        nc = self.first.input_nc
        nets = (self.first, self.second)
        segs = [x1[:, nc:], x2[:, nc:]]
        slots = [instance_set.encoded_slots(s) for s in segs]
        b, n, h, w = segs[0].shape
        feat_img = self._run("feature_img", stacked([x1[:, :nc], x2[:, :nc]]))
        sets = [torch.zeros_like(f) for f in unstacked(feat_img)]
        if self.first.training and self.first.sn_update == "per_instance":
            ranks = [torch.where(s, s.cumsum(dim=1) - 1, -1) for s in slots]  # k-th encoded instance of its sample
            counts = [int(s.sum(dim=1).max()) for s in slots]
            for k in range(max(counts)):
                hits = [rank == k for rank in ranks]  # (B, N): at most one slot per sample
                masks = [seg.gather(1, hit.to(torch.uint8).argmax(dim=1).view(b, 1, 1, 1).expand(b, 1, h, w))
                         for seg, hit in zip(segs, hits)]  # fmt: skip
                live = [t for t in range(TWINS) if k < counts[t]]
                if len(live) == TWINS:
                    feats = unstacked(self._run("feature_seg", stacked(masks)))
                else:
                    feats = {live[0]: nets[live[0]].feature_seg(masks[live[0]])}
                for t in live:
                    sets[t] = sets[t] + feats[t] * hits[t].any(dim=1).to(feats[t].dtype).view(b, 1, 1, 1)
        elif n:
            feat_segs = unstacked(self._run("feature_seg", stacked([s.reshape(b * n, 1, h, w) for s in segs])))
            sets = [(f * s.to(f.dtype).reshape(b * n, 1, 1, 1)).reshape(b, n, *f.shape[1:]).sum(dim=1)
                    for f, s in zip(feat_segs, slots)]  # fmt: skip
        return unstacked(self._run("classifier", stacked_cat(feat_img, stacked(sets))))
