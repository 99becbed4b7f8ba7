"""Generators: InstaGAN's set-aware ResNet generator and CycleGAN's ResNet generator."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from instagan.models.networks.layers import (
    FewOutputsConv2d,
    InstanceNorm2d,
    NormFactory,
    _uses_bias,
    get_norm_layer,
    init_weights,
)
from instagan.util import instance_set


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
    upsample: str = "transpose",
    context_skip: bool = False,
) -> nn.Module:
    """Build the generator ``netG``, one of ``GENERATORS``; ``upsample``: see ``upsampling``; ``context_skip``: see
    ``ContextSkip``."""
    if netG not in GENERATORS:
        raise ValueError(f"unknown --netG {netG!r}: use {', '.join(GENERATORS)}")
    if upsample not in UPSAMPLING:
        raise ValueError(f"unknown --upsample {upsample!r}: use {', '.join(UPSAMPLING)}")
    net = GENERATORS[netG](input_nc, output_nc, ngf, get_norm_layer(norm), use_dropout, n_blocks, upsample, context_skip)
    init_weights(net, init_type, init_gain)
    return net


RESNET_BLOCKS = {"resnet_9blocks": 9, "resnet_6blocks": 6}  # CycleGAN's ResNet generators: their residual blocks


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


UPSAMPLING = ("transpose", "transpose4", "nearest", "bilinear")


def upsampling(in_channels: int, out_channels: int, mode: str, use_bias: bool) -> list[nn.Module]:
    """Twice the size: a stride-2 transposed 3x3 convolution (``transpose``, the original's), a stride-2 transposed
    4x4 convolution (``transpose4``), or a resize (``nearest`` or ``bilinear``) and a 3x3 convolution. A transposed
    convolution of stride 2 and kernel 3 adds up unevenly many inputs in neighbouring outputs, which invites a
    checkerboard (Odena et al., Distill 2016); a kernel of 4 adds up as many in every output, and a resize first
    draws none, at four times the arithmetic."""
    if mode == "transpose":
        return [nn.ConvTranspose2d(in_channels, out_channels, kernel_size=3, stride=2, padding=1, output_padding=1,
                                   bias=use_bias)]  # fmt: skip
    if mode == "transpose4":
        return [nn.ConvTranspose2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1, bias=use_bias)]
    return [nn.Upsample(scale_factor=2, mode=mode), nn.ReflectionPad2d(1),
            nn.Conv2d(in_channels, out_channels, kernel_size=3, bias=use_bias)]  # fmt: skip


def _resnet_decoder(output_nc: int, ngf: int, norm_layer: NormFactory, use_bias: bool,
                    upsample: str = "transpose") -> list[nn.Module]:  # fmt: skip
    """From 4*ngf channels: two upsamplings by 2 (``upsampling``) down to ngf, 7x7 conv to output_nc, tanh."""
    layers: list[nn.Module] = []
    for mult in (4, 2):
        layers += [*upsampling(ngf * mult, ngf * mult // 2, upsample, use_bias), norm_layer(ngf * mult // 2), nn.ReLU(True)]
    layers += [nn.ReflectionPad2d(3), FewOutputsConv2d(ngf, output_nc, kernel_size=7), nn.Tanh()]
    return layers


HEAD = 3  # the layers that end a decoder: pad, 7x7 conv, tanh
FILL_RADIUS = 10  # context_image: how far (pixels) an instance's pixel looks for the context around it


def context_image(img: torch.Tensor, segs: torch.Tensor, radius: int = FILL_RADIUS) -> torch.Tensor:
    """The image outside the instances, filled in inside them with the mean of the context within ``radius`` pixels
    (a square window), or of the whole context where none is that near (zero where the instances cover the image):
    (B, C, H, W), (B, N, H, W) in [-1, 1] -> (B, C, H, W). A box's corners get the colour of the background around
    it, which is what A -> B paints there."""
    outside = (1 - instance_set.merge(segs.to(img.dtype))) / 2  # 1 outside every mask, 0 inside
    near, count = _box_mean(img * outside, radius), _box_mean(outside, radius)
    anywhere = (img * outside).sum(dim=(2, 3), keepdim=True) / outside.sum(dim=(2, 3), keepdim=True).clamp(min=1)
    fill = torch.where(count > 1e-3, near / count.clamp(min=1e-3), anywhere)
    return img * outside + fill * (1 - outside)


def _box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """The mean of x over a (2 * radius + 1)-pixel square around each pixel, zeros beyond the border: two 1-d means,
    a tenth of the work of one 21 x 21 window."""
    k = 2 * radius + 1
    rows = F.avg_pool2d(x, kernel_size=(1, k), stride=1, padding=(0, radius))
    return F.avg_pool2d(rows, kernel_size=(k, 1), stride=1, padding=(radius, 0))


class ContextSkip(nn.Module):
    """``--context_skip``: a 3x3 convolution and ReLU over the image decoder's last features and ``context_image``,
    added to those features before the last 7x7 convolution. Instance norm after the first convolution removes an
    image's mean colour, so a generator must infer a flat background's colour from its texture; this shows it the
    colours around the instances, unnormalised, through a ReLU that can gate them: kept in the background and in the
    corners that A -> B paints as background, left out inside the instances it draws. (Tried before it: the whole image
    into the last convolution, which let the boxes' colour through to their corners; and a learned blend of input and
    output, which copied the boxes whole.)"""

    def __init__(self, features: int, image_nc: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(features + image_nc, features, kernel_size=3), nn.ReLU())

    def forward(self, features: torch.Tensor, img: torch.Tensor, segs: torch.Tensor) -> torch.Tensor:
        context = context_image(img.to(features.dtype), segs)
        return features + self.conv(torch.cat([features, context], dim=1))


def decode(decoder: nn.Sequential, features: torch.Tensor, skip: ContextSkip | None = None,
           img: torch.Tensor | None = None, segs: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """Run ``decoder`` (one that ends with ``_resnet_decoder``'s layers) on ``features``, with ``skip`` (given ``img``
    and ``segs``, the input image and the step's masks) before its last convolution."""
    if skip is None:
        return decoder(features)
    return decoder[-HEAD:](skip(decoder[:-HEAD](features), img, segs))


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
        upsample: str = "transpose",
        context_skip: bool = False,
    ) -> None:
        super().__init__()
        if context_skip:
            raise ValueError("--context_skip shows the generator the image outside the instances a step translates: it "
                             "needs --model insta_gan (--netG set)")  # fmt: skip
        use_bias = _uses_bias(norm_layer)
        self.model = nn.Sequential(
            *_resnet_encoder(input_nc, ngf, norm_layer, use_dropout, n_blocks, use_bias),
            *_resnet_decoder(output_nc, ngf, norm_layer, use_bias, upsample),
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
        norm_layer: NormFactory = InstanceNorm2d,
        use_dropout: bool = False,
        n_blocks: int = 9,
        upsample: str = "transpose",
        context_skip: bool = False,
    ) -> None:
        super().__init__()
        use_bias = _uses_bias(norm_layer)
        self.input_nc = input_nc
        self.encoder_img = nn.Sequential(*_resnet_encoder(input_nc, ngf, norm_layer, use_dropout, n_blocks, use_bias))
        self.encoder_seg = nn.Sequential(*_resnet_encoder(1, ngf, norm_layer, use_dropout, n_blocks, use_bias))
        self.decoder_img = nn.Sequential(*_resnet_decoder(output_nc, 2 * ngf, norm_layer, use_bias, upsample))
        self.skip_img = ContextSkip(2 * ngf, input_nc) if context_skip else None
        self.decoder_seg = nn.Sequential(*_resnet_decoder(1, 3 * ngf, norm_layer, use_bias, upsample))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        img, segs = x[:, : self.input_nc], x[:, self.input_nc :]
        slots = instance_set.encoded_slots(segs)
        sample_of, slot_of = slots.nonzero(as_tuple=True)

        enc_img = self.encoder_img(img)
        enc_segs = self.encoder_seg(segs[sample_of, slot_of].unsqueeze(1))  # (K, 4ngf, h, w)
        set_feature = torch.zeros_like(enc_img).index_add_(0, sample_of, enc_segs)  # (in place: keeps the layout)

        out_img = decode(self.decoder_img, torch.cat([enc_img, set_feature], dim=1), self.skip_img, img, segs)
        dec_segs = self.decoder_seg(torch.cat([enc_segs, enc_img[sample_of], set_feature[sample_of]], dim=1))
        out_segs = segs.index_put((sample_of, slot_of), dec_segs[:, 0].to(segs.dtype))
        return torch.cat([out_img, out_segs], dim=1)

    def forward_static(self, x: torch.Tensor) -> torch.Tensor:
        """``forward`` with shapes fixed by x's (``forward_dense`` on every slot), for CUDA graphs."""
        img, segs = x[:, : self.input_nc], x[:, self.input_nc :]
        return self.forward_dense(img, segs, instance_set.encoded_slots(segs))

    def forward_dense(self, img: torch.Tensor, segs: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        """The same function with every slot computed and the empty ones masked out: no data-dependent shapes, so it
        exports (ONNX, torch.export) with the batch and the number of slots as dynamic dimensions. Each slot is
        encoded and decoded on its own (instance norm is per sample), so the non-empty slots get exactly what
        ``forward`` gives them. img: (B, input_nc, H, W); segs: (B, N, H, W); slots: (B, N) bool, the encoded ones."""
        b, n, h, w = segs.shape
        enc_img = self.encoder_img(img)
        enc_segs = self.encoder_seg(segs.reshape(b * n, 1, h, w))  # (B * N, 4ngf, h', w')
        weights = slots.to(enc_segs.dtype).reshape(b * n, 1, 1, 1)
        set_feature = (enc_segs * weights).reshape(b, n, *enc_segs.shape[1:]).sum(dim=1)
        out_img = decode(self.decoder_img, torch.cat([enc_img, set_feature], dim=1), self.skip_img, img, segs)
        per_slot = torch.cat([enc_segs, enc_img.repeat_interleave(n, dim=0), set_feature.repeat_interleave(n, dim=0)], dim=1)
        dec_segs = self.decoder_seg(per_slot).reshape(b, n, h, w)
        out_segs = torch.where(slots[:, :, None, None], dec_segs.to(segs.dtype), segs)
        return torch.cat([out_img, out_segs], dim=1)


# --netG: name -> builder(input_nc, output_nc, ngf, norm_layer, use_dropout, n_blocks, upsample, context_skip). A new
# generator is a class and an entry here (the flag's choices are these names).
GENERATORS: dict[str, Callable[..., nn.Module]] = {
    "set": ResnetSetGenerator,
    **{name: lambda i, o, ngf, norm, dropout, _, up, skip, blocks=blocks: ResnetGenerator(i, o, ngf, norm, dropout, blocks,
                                                                                          up, skip)
       for name, blocks in RESNET_BLOCKS.items()},
}  # fmt: skip


class FixedShapeStep(nn.Module):
    """One sequential step of a set generator with shapes fixed by its input's, the path that export and the test
    pass with ``--cuda_graphs`` share: x (B, input_nc + N, H, W) in [-1, 1] -> the translated image and masks in the
    same layout. Every sample and every slot is computed (``forward_dense``), where ``forward`` selects the non-empty
    slots (a data-dependent shape), so that it exports (ONNX, torch.export, with the batch and the slots as dynamic
    dimensions) and replays as a CUDA graph. A sample with an instance among its slots gets what ``forward`` gives it,
    float rounding apart. ``keep_empty``: a sample without any passes through unchanged, as the model leaves an image
    without instances (the generator alone would encode an empty slot, whose features are float noise that instance
    norm amplifies): what export.py writes; the model's test pass picks the samples itself and runs without it, so
    that a reconstruction runs on every translated sample, whatever its translated masks. Training's fixed shapes
    (``TwoDomainModel.run``) call the same ``forward_static``.

    ``compiled``: ``torch.compile(mode="reduce-overhead")``, which on CUDA replays the step as a CUDA graph (one
    graph per batch size and slot count: a test pass has at most two batch sizes, and every step ``--ins_per``
    slots); on the CPU it compiles without graphs. Its outputs are copies, as a graph's next replay overwrites its
    own."""

    def __init__(self, generator: ResnetSetGenerator, compiled: bool = False, keep_empty: bool = True) -> None:
        super().__init__()
        if not hasattr(generator, "forward_static"):
            raise TypeError(f"a fixed-shape step needs a set generator, not {type(generator).__name__}")
        self.generator = generator
        self.compiled, self.keep_empty = compiled, keep_empty
        self.step = torch.compile(self.translate, mode="reduce-overhead", dynamic=False) if compiled else self.translate

    def translate(self, x: torch.Tensor) -> torch.Tensor:
        out = self.generator.forward_static(x)
        if not self.keep_empty:
            return out
        active = instance_set.nonempty(x[:, self.generator.input_nc :]).any(dim=1)
        return torch.where(active[:, None, None, None], out, x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.compiled:
            return self.step(x)
        torch.compiler.cudagraph_mark_step_begin()
        return self.step(x).clone()
