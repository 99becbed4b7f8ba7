"""A model's training recipe: the updates of one sequential step, in order, each with its networks, its losses and its
optimizer. The model declares it (``training_recipe``); ``models.trainer.Trainer`` carries it out, adding only what
every recipe needs (precision, the non-finite guard, DDP, gradient scaling, checkpoints)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class Update:
    """One optimiser step within a sequential step: Adam (``lr``, ``betas``) over the parameters of ``networks`` on the
    sum of ``losses(live)``, where ``live`` holds the step's directions with something to translate. ``frozen`` networks
    get no gradients during this update (the discriminators while the generators learn). ``name`` ("G", "D", ...)
    names the update in warnings. ``average``: the decay of a moving average of the networks' weights that each of
    its steps moves by 1 - ``average`` (0: none); the averages are saved beside the networks (``<name>_ema``)."""

    name: str
    networks: dict[str, nn.Module]
    losses: Callable[[list], dict[str, torch.Tensor]]
    lr: float
    betas: tuple[float, float] = (0.5, 0.999)
    frozen: list[nn.Module] = field(default_factory=list)
    average: float = 0.0

    def optimizer(self) -> torch.optim.Adam:
        params = [p for net in self.networks.values() for p in net.parameters()]
        return torch.optim.Adam(params, lr=self.lr, betas=self.betas, fused=True)  # fused: one kernel for all parameters
