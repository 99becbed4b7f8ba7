"""Discriminators: InstaGAN's set-aware PatchGAN (spectral norm on every conv) and CycleGAN's PatchGAN."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from instagan.models.networks.layers import InstanceNorm2d, NormFactory, _uses_bias, get_norm_layer, init_weights
from instagan.models.networks.spectral_norm import spectral_norm
from instagan.util import instance_set


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
    """Build the discriminator ``netD``, one of ``DISCRIMINATORS``: ``set`` (InstaGAN, spectral norm), ``basic``
    (70x70 PatchGAN) or ``n_layers``."""
    if netD not in DISCRIMINATORS:
        raise ValueError(f"unknown --netD {netD!r}: use {', '.join(DISCRIMINATORS)}")
    net = DISCRIMINATORS[netD](input_nc, ndf, n_layers_D, get_norm_layer(norm), sn_update)
    init_weights(net, init_type, init_gain)
    return net


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
        norm_layer: NormFactory = InstanceNorm2d,
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
            set_feature.index_add_(0, sample_of, feat_segs)  # (in place: keeps the layout)
        return self.classifier(torch.cat([feat_img, set_feature], dim=1))

    def forward_static(self, x: torch.Tensor) -> torch.Tensor:
        """``forward`` with shapes fixed by x's: every sample's instances go through the extractor, empty slots
        included, and the set feature sums the encoded ones (for CUDA graphs, ``--cuda_graphs``). Per instance
        (``sn_update="per_instance"`` in training) the k-th encoded instance of every sample is one call, as in
        ``forward``, so the power iterations are the same; otherwise one call on every slot. The output is
        ``forward``'s, float rounding apart."""
        img, segs = x[:, : self.input_nc], x[:, self.input_nc :]
        slots = instance_set.encoded_slots(segs)
        feat_img = self.feature_img(img)
        b, n, h, w = segs.shape
        set_feature = torch.zeros_like(feat_img)
        if self.training and self.sn_update == "per_instance":
            rank = torch.where(slots, slots.cumsum(dim=1) - 1, -1)  # k-th encoded instance of its sample, from 0
            for k in range(int(slots.sum(dim=1).max())):
                hit = rank == k  # (B, N): at most one slot per sample
                slot = hit.to(torch.uint8).argmax(dim=1)  # (its slot; 0 for a sample without a k-th instance)
                masks = segs.gather(1, slot.view(b, 1, 1, 1).expand(b, 1, h, w))
                set_feature = set_feature + self.feature_seg(masks) * hit.any(dim=1).to(feat_img.dtype).view(b, 1, 1, 1)
        elif n:
            feat_segs = self.feature_seg(segs.reshape(b * n, 1, h, w))
            weights = slots.to(feat_segs.dtype).reshape(b * n, 1, 1, 1)
            set_feature = (feat_segs * weights).reshape(b, n, *feat_segs.shape[1:]).sum(dim=1)
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


# --netD: name -> builder(input_nc, ndf, n_layers_D, norm_layer, sn_update). A new discriminator is a class and an
# entry here (the flag's choices are these names).
DISCRIMINATORS: dict[str, Callable[..., nn.Module]] = {
    "set": NLayerSetDiscriminator,
    "basic": lambda input_nc, ndf, _, norm_layer, __: NLayerDiscriminator(input_nc, ndf, 3, norm_layer),
    "n_layers": lambda input_nc, ndf, n_layers, norm_layer, _: NLayerDiscriminator(input_nc, ndf, n_layers, norm_layer),
}
