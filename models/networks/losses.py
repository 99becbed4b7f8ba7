"""The adversarial loss."""

from __future__ import annotations

import torch
from torch import nn


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
