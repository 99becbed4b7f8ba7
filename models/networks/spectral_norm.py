"""Spectral normalisation with the power iteration of the original InstaGAN implementation."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import _SpectralNorm


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
