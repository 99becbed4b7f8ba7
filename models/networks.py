"""Generators, discriminators, GAN losses, initialisation and learning-rate schedules.

The set-aware networks keep the original implementation's module names and ``nn.Sequential``
indices, so checkpoints written by the authors' code load directly (see ``load_original_state_dict``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn import init
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import _SpectralNorm
from torch.optim import lr_scheduler

from util import instance_set

NormFactory = Callable[[int], nn.Module]


def get_norm_layer(norm: str = "instance") -> NormFactory:
    """``instance`` (no affine, no running stats, as the original), ``batch`` or ``none``."""
    if norm == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if norm == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if norm == "none":
        return lambda channels: nn.Identity()
    raise ValueError(f"unknown --norm {norm!r}: use instance, batch or none")


def _uses_bias(norm_layer: NormFactory) -> bool:
    # Convs before a batch norm need no bias; the original kept them for instance norm.
    return not (isinstance(norm_layer, functools.partial) and norm_layer.func is nn.BatchNorm2d)


def init_weights(net: nn.Module, init_type: str = "normal", init_gain: float = 0.02) -> None:
    """Initialise conv and linear weights (biases to 0) and batch-norm scales, as CycleGAN did.

    Spectral-normalised convs keep PyTorch's default init: the original wrapped them in a module that
    hid their weight from the initialiser, and with spectral norm the weight's scale does not matter.
    """

    def init_func(m: nn.Module) -> None:
        classname = m.__class__.__name__
        if parametrize.is_parametrized(m, "weight"):
            return
        if hasattr(m, "weight") and m.weight is not None and ("Conv" in classname or "Linear" in classname):
            if init_type == "normal":
                init.normal_(m.weight, 0.0, init_gain)
            elif init_type == "xavier":
                init.xavier_normal_(m.weight, gain=init_gain)
            elif init_type == "kaiming":
                init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            elif init_type == "orthogonal":
                init.orthogonal_(m.weight, gain=init_gain)
            else:
                raise ValueError(f"unknown --init_type {init_type!r}: use normal, xavier, kaiming or orthogonal")
            if getattr(m, "bias", None) is not None:
                init.constant_(m.bias, 0.0)
        elif "BatchNorm2d" in classname and m.weight is not None:
            init.normal_(m.weight, 1.0, init_gain)
            init.constant_(m.bias, 0.0)

    with torch.no_grad():
        net.apply(init_func)


def define_G(
    input_nc: int,
    output_nc: int,
    ngf: int,
    netG: str,
    norm: str = "instance",
    use_dropout: bool = False,
    init_type: str = "normal",
    init_gain: float = 0.02,
    n_blocks: int = 9,
) -> nn.Module:
    """Build a generator: ``set`` (InstaGAN), ``resnet_9blocks`` or ``resnet_6blocks``."""
    norm_layer = get_norm_layer(norm)
    if netG == "set":
        net = ResnetSetGenerator(input_nc, output_nc, ngf, norm_layer, use_dropout, n_blocks)
    elif netG in ("resnet_9blocks", "resnet_6blocks"):
        net = ResnetGenerator(input_nc, output_nc, ngf, norm_layer, use_dropout, int(netG.split("_")[1][0]))
    else:
        raise ValueError(f"unknown --netG {netG!r}: use set, resnet_9blocks or resnet_6blocks")
    init_weights(net, init_type, init_gain)
    return net


def define_D(
    input_nc: int,
    ndf: int,
    netD: str,
    n_layers_D: int = 3,
    norm: str = "instance",
    init_type: str = "normal",
    init_gain: float = 0.02,
    sn_update: str = "per_instance",
) -> nn.Module:
    """Build a discriminator: ``set`` (InstaGAN, spectral norm), ``basic`` (70x70 PatchGAN) or ``n_layers``."""
    norm_layer = get_norm_layer(norm)
    if netD == "set":
        net = NLayerSetDiscriminator(input_nc, ndf, n_layers_D, norm_layer, sn_update)
    elif netD == "basic":
        net = NLayerDiscriminator(input_nc, ndf, 3, norm_layer)
    elif netD == "n_layers":
        net = NLayerDiscriminator(input_nc, ndf, n_layers_D, norm_layer)
    else:
        raise ValueError(f"unknown --netD {netD!r}: use set, basic or n_layers")
    init_weights(net, init_type, init_gain)
    return net


class GANLoss(nn.Module):
    """LSGAN (mean squared error to 1 / 0) or the vanilla GAN loss (on logits).

    The original put a sigmoid in the discriminator for the vanilla loss; taking logits here is the
    same function, numerically safer.
    """

    def __init__(self, use_lsgan: bool = True) -> None:
        super().__init__()
        self.loss = nn.MSELoss() if use_lsgan else nn.BCEWithLogitsLoss()

    def forward(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
        return self.loss(prediction, target)


def get_scheduler(optimizer: torch.optim.Optimizer, opt) -> lr_scheduler.LRScheduler:
    """``lambda``: constant lr for --niter epochs, then linear decay to 0 over --niter_decay epochs."""
    if opt.lr_policy == "lambda":

        def lambda_rule(epoch: int) -> float:
            return 1.0 - max(0, epoch + opt.epoch_count - opt.niter) / float(opt.niter_decay + 1)

        return lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda_rule)
    if opt.lr_policy == "step":
        return lr_scheduler.StepLR(optimizer, step_size=opt.lr_decay_iters, gamma=0.1)
    if opt.lr_policy == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=opt.niter + opt.niter_decay, eta_min=0)
    raise ValueError(f"unknown --lr_policy {opt.lr_policy!r}: use lambda, step or cosine")


class FewOutputsConv2d(nn.Conv2d):
    """A k x k convolution (stride 1, no padding) with few output channels, such as the 7x7 conv that ends a decoder.

    On the CPU, oneDNN computes a convolution with 1 or 3 output channels about as slowly as one with 16. There it
    runs as a 1 x k convolution to out * k channels (one per output channel and kernel row), in channels-last
    memory, followed by a sum of the k row-shifted slices: the same function and the same parameters, forward +
    backward 2x (8 x 16 x 48 x 48 to 3 channels) to 5x (16 x 24 x 48 x 48 to 1 channel) faster.
    Other devices run the plain convolution.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu":
            return super().forward(x)
        out_nc, in_nc, k, _ = self.weight.shape
        rows = self.weight.permute(0, 2, 1, 3).reshape(out_nc * k, in_nc, 1, k)  # channel o * k + dy: row dy of output o
        if not torch.compiler.is_compiling():  # (compiled, inductor chooses the memory layout itself)
            x, rows = x.contiguous(memory_format=torch.channels_last), rows.contiguous(memory_format=torch.channels_last)
        z = F.conv2d(x, rows)
        z = z.unflatten(1, (out_nc, k))  # (B, out_nc, k, H, W_out)
        h = x.shape[2] - k + 1
        out = z[:, :, 0, :h]
        for dy in range(1, k):
            out = out + z[:, :, dy, dy : dy + h]
        return out if self.bias is None else out + self.bias.view(1, -1, 1, 1)


class ResnetBlock(nn.Module):
    """Residual block: x + [pad, conv3x3, norm, ReLU, (dropout), pad, conv3x3, norm](x)."""

    def __init__(self, dim: int, norm_layer: NormFactory, use_dropout: bool, use_bias: bool) -> None:
        super().__init__()
        block: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, bias=use_bias),
            norm_layer(dim),
            nn.ReLU(True),
        ]
        if use_dropout:
            block.append(nn.Dropout(0.5))
        block += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, bias=use_bias), norm_layer(dim)]
        self.conv_block = nn.Sequential(*block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def _resnet_encoder(
    input_nc: int, ngf: int, norm_layer: NormFactory, use_dropout: bool, n_blocks: int, use_bias: bool
) -> list[nn.Module]:
    """7x7 conv to ngf, two stride-2 3x3 convs to 4*ngf, n_blocks residual blocks."""
    layers: list[nn.Module] = [
        nn.ReflectionPad2d(3),
        nn.Conv2d(input_nc, ngf, kernel_size=7, bias=use_bias),
        norm_layer(ngf),
        nn.ReLU(True),
    ]
    for mult in (1, 2):
        layers += [
            nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1, bias=use_bias),
            norm_layer(ngf * mult * 2),
            nn.ReLU(True),
        ]
    layers += [ResnetBlock(ngf * 4, norm_layer, use_dropout, use_bias) for _ in range(n_blocks)]
    return layers


def _resnet_decoder(output_nc: int, ngf: int, norm_layer: NormFactory, use_bias: bool) -> list[nn.Module]:
    """From 4*ngf channels: two stride-2 transposed convs down to ngf, 7x7 conv to output_nc, tanh."""
    layers: list[nn.Module] = []
    for mult in (4, 2):
        layers += [
            nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, kernel_size=3, stride=2, padding=1, output_padding=1, bias=use_bias),
            norm_layer(ngf * mult // 2),
            nn.ReLU(True),
        ]
    layers += [nn.ReflectionPad2d(3), FewOutputsConv2d(ngf, output_nc, kernel_size=7), nn.Tanh()]
    return layers


class ResnetGenerator(nn.Module):
    """CycleGAN's ResNet generator: x (B, input_nc, H, W) in [-1, 1] -> (B, output_nc, H, W) in [-1, 1]."""

    def __init__(
        self,
        input_nc: int,
        output_nc: int,
        ngf: int = 64,
        norm_layer: NormFactory = nn.BatchNorm2d,
        use_dropout: bool = False,
        n_blocks: int = 9,
    ) -> None:
        super().__init__()
        use_bias = _uses_bias(norm_layer)
        self.model = nn.Sequential(
            *_resnet_encoder(input_nc, ngf, norm_layer, use_dropout, n_blocks, use_bias),
            *_resnet_decoder(output_nc, ngf, norm_layer, use_bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ResnetSetGenerator(nn.Module):
    """The set-aware ResNet generator of InstaGAN.

    Input (B, input_nc + N, H, W): an image followed by N instance-mask slots, all in [-1, 1], H and W
    multiples of 4. Output (B, output_nc + N, H, W): the translated image and the N translated masks.
    Empty slots pass through unchanged. Each sample's set feature is the sum of the encodings of its
    own non-empty instances (permutation invariant); each instance is decoded from
    [its code, the image code, the set feature] (permutation equivariant). All instances of the
    batch go through the shared instance encoder and decoder in one call.
    """

    def __init__(
        self,
        input_nc: int,
        output_nc: int,
        ngf: int = 64,
        norm_layer: NormFactory = nn.InstanceNorm2d,
        use_dropout: bool = False,
        n_blocks: int = 9,
    ) -> None:
        super().__init__()
        use_bias = _uses_bias(norm_layer)
        self.input_nc = input_nc
        self.encoder_img = nn.Sequential(*_resnet_encoder(input_nc, ngf, norm_layer, use_dropout, n_blocks, use_bias))
        self.encoder_seg = nn.Sequential(*_resnet_encoder(1, ngf, norm_layer, use_dropout, n_blocks, use_bias))
        self.decoder_img = nn.Sequential(*_resnet_decoder(output_nc, 2 * ngf, norm_layer, use_bias))
        self.decoder_seg = nn.Sequential(*_resnet_decoder(1, 3 * ngf, norm_layer, use_bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        img, segs = x[:, : self.input_nc], x[:, self.input_nc :]
        slots = instance_set.encoded_slots(segs)
        sample_of, slot_of = slots.nonzero(as_tuple=True)

        enc_img = self.encoder_img(img)
        enc_segs = self.encoder_seg(segs[sample_of, slot_of].unsqueeze(1))  # (K, 4ngf, h, w)
        set_feature = torch.zeros_like(enc_img).index_add(0, sample_of, enc_segs)

        out_img = self.decoder_img(torch.cat([enc_img, set_feature], dim=1))
        dec_segs = self.decoder_seg(torch.cat([enc_segs, enc_img[sample_of], set_feature[sample_of]], dim=1))
        out_segs = segs.index_put((sample_of, slot_of), dec_segs[:, 0].to(segs.dtype))
        return torch.cat([out_img, out_segs], dim=1)


class _SigmaWithLatestVectors(torch.autograd.Function):
    """sigma = u . (W v), whose gradient w.r.t. W is taken with the (u, v) of the latest power iteration.

    The original stored u and v as parameters and replaced their ``.data`` at every call, so the
    backward pass of every earlier call in the same graph read the newest u and v. Reproducing that
    keeps its discriminator updates (and so its training) numerically the same.
    """

    @staticmethod
    def forward(ctx, weight_mat: torch.Tensor, sn: _SpectralNorm) -> torch.Tensor:
        ctx.sn = sn
        return torch.vdot(sn._u, torch.mv(weight_mat, sn._v))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad * torch.outer(ctx.sn._u, ctx.sn._v), None


class _SpectralNormVFirst(_SpectralNorm):
    """torch's spectral-norm parametrization with the power iteration of the original implementation.

    torch updates u = normalize(W v) first, then v; the original (after Miyato et al.) updates
    v = normalize(W^T u) first, then u. Both converge to the same sigma, but from the same (u, v)
    one step of each gives different weights, so parity with the authors' checkpoints needs this order.
    With ``latest_vectors`` the gradient of sigma uses the newest (u, v), as the original's did.
    State-dict keys are torch's: ``parametrizations.weight.original`` and ``parametrizations.weight.0._u/_v``.
    """

    def __init__(self, weight: torch.Tensor, latest_vectors: bool) -> None:
        super().__init__(weight, eps=1e-12)
        self.latest_vectors = latest_vectors

    @torch.no_grad()
    def _power_method(self, weight_mat: torch.Tensor, n_power_iterations: int) -> None:
        for _ in range(n_power_iterations):
            self._v = F.normalize(torch.mv(weight_mat.H, self._u), dim=0, eps=self.eps, out=self._v)
            self._u = F.normalize(torch.mv(weight_mat, self._v), dim=0, eps=self.eps, out=self._u)

    @torch.compiler.disable  # the power iteration updates u and v in place; compiled graphs must not capture them
    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        with torch.autocast(weight.device.type, enabled=False):  # power iteration and sigma in fp32
            weight = weight.float()
            if not (self.training and self.latest_vectors):
                return super().forward(weight)
            weight_mat = self._reshape_weight_to_matrix(weight)
            self._power_method(weight_mat, self.n_power_iterations)
            return weight / _SigmaWithLatestVectors.apply(weight_mat, self)


def spectral_norm(module: nn.Module, latest_vectors: bool = True) -> nn.Module:
    """Register spectral normalisation (one power iteration per training-mode call) on module.weight."""
    parametrize.register_parametrization(module, "weight", _SpectralNormVFirst(module.weight, latest_vectors))
    return module


def _sn_conv(in_nc: int, out_nc: int, stride: int, bias: bool, original: bool) -> nn.Module:
    conv = nn.Conv2d(in_nc, out_nc, kernel_size=4, stride=stride, padding=1, bias=bias)
    return spectral_norm(conv, latest_vectors=original)


class NLayerSetDiscriminator(nn.Module):
    """The set-aware PatchGAN discriminator of InstaGAN, spectral norm on every conv.

    Input (B, input_nc + N, H, W) as for the generator; output (B, 1, H/8 - 2, W/8 - 2) patch scores
    (logits). Each sample's instance features are summed over its own non-empty slots, so the output
    does not depend on the order of the instances.

    Spectral norm runs one power iteration per training-mode call of a conv. The original called the
    instance extractor once per instance, so its convs advanced once per instance and the k-th
    instance was encoded with the weight after k iterations. ``sn_update="per_instance"`` (default)
    reproduces that exactly, batching the k-th instances of all samples into one call, and takes
    the gradient of sigma with the newest (u, v) as the original did; ``"per_call"`` encodes all
    instances in one call with one iteration and torch's usual gradient, which makes the output
    exactly order-invariant in training mode too. Once u and v have converged, as they do within
    the first iterations of training, both give the same output; in eval mode they are identical.
    """

    def __init__(
        self,
        input_nc: int,
        ndf: int = 64,
        n_layers: int = 3,
        norm_layer: NormFactory = nn.InstanceNorm2d,
        sn_update: str = "per_instance",
    ) -> None:
        super().__init__()
        if sn_update not in ("per_instance", "per_call"):
            raise ValueError(f"unknown --sn_update {sn_update!r}: use per_instance or per_call")
        use_bias = _uses_bias(norm_layer)
        self.input_nc = input_nc
        self.sn_update = sn_update
        original = sn_update == "per_instance"
        self.feature_img = self._feature_extractor(input_nc, ndf, n_layers, norm_layer, use_bias, original)
        self.feature_seg = self._feature_extractor(1, ndf, n_layers, norm_layer, use_bias, original)
        nf_prev, nf = 2 * ndf * min(2 ** (n_layers - 1), 8), 2 * ndf * min(2**n_layers, 8)
        self.classifier = nn.Sequential(
            _sn_conv(nf_prev, nf, stride=1, bias=True, original=original),
            norm_layer(nf),
            nn.LeakyReLU(0.2, True),
            _sn_conv(nf, 1, stride=1, bias=True, original=original),
        )

    @staticmethod
    def _feature_extractor(
        input_nc: int, ndf: int, n_layers: int, norm_layer: NormFactory, use_bias: bool, original: bool
    ) -> nn.Sequential:
        layers: list[nn.Module] = [_sn_conv(input_nc, ndf, 2, True, original), nn.LeakyReLU(0.2, True)]
        nf = 1
        for n in range(1, n_layers):
            nf_prev, nf = nf, min(2**n, 8)
            conv = _sn_conv(ndf * nf_prev, ndf * nf, 2, use_bias, original)
            layers += [conv, norm_layer(ndf * nf), nn.LeakyReLU(0.2, True)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        img, segs = x[:, : self.input_nc], x[:, self.input_nc :]
        slots = instance_set.encoded_slots(segs)
        feat_img = self.feature_img(img)
        set_feature = torch.zeros_like(feat_img)
        if self.training and self.sn_update == "per_instance":
            rank = slots.cumsum(dim=1) - 1  # k-th encoded instance of its sample, from 0
            groups = [slots & (rank == k) for k in range(int(slots.sum(dim=1).max()))]
        else:
            groups = [slots]
        for group in groups:
            sample_of, slot_of = group.nonzero(as_tuple=True)
            feat_segs = self.feature_seg(segs[sample_of, slot_of].unsqueeze(1))
            set_feature = set_feature.index_add(0, sample_of, feat_segs)
        return self.classifier(torch.cat([feat_img, set_feature], dim=1))


class NLayerDiscriminator(nn.Module):
    """CycleGAN's PatchGAN discriminator: (B, input_nc, H, W) -> (B, 1, h, w) patch logits."""

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm_layer: NormFactory = nn.BatchNorm2d):
        super().__init__()
        use_bias = _uses_bias(norm_layer)
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        nf = 1
        for n in range(1, n_layers + 1):
            nf_prev, nf = nf, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * nf_prev, ndf * nf, 4, stride=stride, padding=1, bias=use_bias),
                norm_layer(ndf * nf),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(ndf * nf, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def compile_network(net: nn.Module) -> nn.Module:
    """``torch.compile`` the layer stacks of a network in place (its ``nn.Sequential`` children: the encoders and
    decoders of a generator, the feature extractors and classifier of a discriminator); state-dict keys stay.

    The set logic between them (which slots hold an instance, the sum into the set feature) stays eager: its
    shapes depend on the data. Each stack's batch dimension (images, or instances: their number changes from step
    to step) is marked dynamic, so a new count does not recompile; batches of one are compiled once more.
    Spectral norm's power iteration updates u and v in place, which a compiled graph must not capture: each call
    computes the normalised weights eagerly first (one power iteration, as without compiling) and the compiled
    stack reads them from ``parametrize.cached()``.
    """
    # Every stack is an nn.Sequential, so all share one code object and one dynamo cache: the default limit of 8
    # compiled versions per code object is too few for the 14 stacks of InstaGAN's four networks.
    config = torch._dynamo.config
    limit = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    setattr(config, limit, max(getattr(config, limit), 64))
    for child in net.children():
        if isinstance(child, nn.Sequential):
            compiled = torch.compile(child.forward, dynamic=False)
            normalised = [m for m in child.modules() if parametrize.is_parametrized(m, "weight")]

            def forward(x: torch.Tensor, compiled: Callable = compiled, normalised: list = normalised) -> torch.Tensor:
                if x.shape[0] > 1:
                    torch._dynamo.mark_dynamic(x, 0)
                with parametrize.cached():
                    for module in normalised:
                        module.weight  # noqa: B018 (computes and caches the weight)
                    return compiled(x)

            child.forward = forward
    return net


_ORIGINAL_SN_KEYS = {
    "module.weight_bar": "parametrizations.weight.original",
    "module.weight_u": "parametrizations.weight.0._u",
    "module.weight_v": "parametrizations.weight.0._v",
    "module.bias": "bias",
}


def load_original_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Translate a state dict written by the original implementation to this project's key layout.

    Handles its spectral-norm wrapper (``<conv>.module.weight_bar`` / ``weight_u`` / ``weight_v`` /
    ``bias``), the ``module.`` prefix of nn.DataParallel, and the instance-norm running statistics
    that PyTorch < 0.4 stored. A state dict already in this layout comes back unchanged.
    """
    converted: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("module."):
            key = key[len("module.") :]
        if key.endswith(("running_mean", "running_var", "num_batches_tracked")) and value.dim() <= 1:
            parent = key.rsplit(".", 1)[0]
            if f"{parent}.weight" not in state and f"module.{parent}.weight" not in state:
                continue  # stats of an affine-free instance norm: nothing to load them into
        for old, new in _ORIGINAL_SN_KEYS.items():
            if key.endswith("." + old):
                key = key[: -len(old)] + new
                break
        converted[key] = value
    return converted
