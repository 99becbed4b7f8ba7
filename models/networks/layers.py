"""Building blocks shared by the networks: normalisation layers, initialisation, a faster few-output convolution."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn import init
from torch.nn.utils import parametrize

NormFactory = Callable[[int], nn.Module]


def get_norm_layer(norm: str = "instance") -> NormFactory:
    """``instance`` (no affine, no running stats, as the original), ``batch`` or ``none``."""
    if norm == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if norm == "instance":
        return functools.partial(InstanceNorm2d, affine=False, track_running_stats=False)
    if norm == "none":
        return lambda channels: nn.Identity()
    raise ValueError(f"unknown --norm {norm!r}: use instance, batch or none")


# Devices on which InstanceNorm2d keeps channels-last input in channels-last memory (see there).
NHWC_INSTANCE_NORM_DEVICES = {"cuda"}


class InstanceNorm2d(nn.InstanceNorm2d):
    """torch's instance norm, which returns contiguous (NCHW) memory whatever its input's layout, so that under
    ``--channels_last`` the next convolution converts it back. On the devices in ``NHWC_INSTANCE_NORM_DEVICES`` a
    channels-last input without affine parameters or running statistics (InstaGAN's) is normalised in place of layout:
    the same function, float rounding apart. Elsewhere, and for contiguous input, torch's kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4 and not self.affine and not self.track_running_stats:
            return instance_norm(x, self.eps)
        return super().forward(x)


def instance_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """Instance norm of x (B, C, H, W) without affine parameters or running statistics: ``instance_norm_nhwc`` for
    channels-last input on the devices in ``NHWC_INSTANCE_NORM_DEVICES``, torch's kernel otherwise."""
    if (
        x.device.type in NHWC_INSTANCE_NORM_DEVICES
        and x.dim() == 4
        and not x.is_contiguous()
        and x.is_contiguous(memory_format=torch.channels_last)
        and not torch.compiler.is_exporting()
        and not torch.onnx.is_in_onnx_export()
    ):
        return instance_norm_nhwc(x, eps)
    return F.instance_norm(x, eps=eps)


def instance_norm_nhwc(x: torch.Tensor, eps: float) -> torch.Tensor:
    """(x - mean) / sqrt(var + eps) over each sample's and channel's H x W, without affine parameters, in x's layout;
    the statistics in float32 whatever x's dtype."""
    var, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, correction=0)
    return ((x - mean) * torch.rsqrt(var + eps)).to(x.dtype)


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


class FewOutputsConv2d(nn.Conv2d):
    """A k x k convolution (stride 1, no padding) with few output channels, such as the 7x7 conv that ends a decoder.

    On the CPU, oneDNN computes a convolution with 1 or 3 output channels about as slowly as one with 16. There it
    runs as a 1 x k convolution to out * k channels (one per output channel and kernel row), in channels-last
    memory, followed by a sum of the k row-shifted slices: the same function and the same parameters, forward +
    backward 2x (8 x 16 x 48 x 48 to 3 channels) to 5x (16 x 24 x 48 x 48 to 1 channel) faster.
    Other devices run the plain convolution.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or torch.compiler.is_exporting() or torch.onnx.is_in_onnx_export():
            return super().forward(x)  # (an exported graph keeps the plain convolution)
        return few_outputs_conv(x, self.weight, self.bias)


def few_outputs_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, groups: int = 1) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, groups=groups)`` for a k x k kernel with few outputs, computed on the CPU as
    ``FewOutputsConv2d`` describes: x (B, C, H, W), weight (out, C / groups, k, k) -> (B, out, H - k + 1, W - k + 1)."""
    out_nc, in_nc, k, _ = weight.shape
    rows = weight.permute(0, 2, 1, 3).reshape(out_nc * k, in_nc, 1, k)  # channel o * k + dy: row dy of output o
    if not torch.compiler.is_compiling():  # (compiled, inductor chooses the memory layout itself)
        x, rows = x.contiguous(memory_format=torch.channels_last), rows.contiguous(memory_format=torch.channels_last)
    z = F.conv2d(x, rows, groups=groups)
    z = z.unflatten(1, (out_nc, k))  # (B, out_nc, k, H, W_out)
    h = x.shape[2] - k + 1
    out = z[:, :, 0, :h]
    for dy in range(1, k):
        out = out + z[:, :, dy, dy : dy + h]
    return out if bias is None else out + bias.view(1, -1, 1, 1)
