"""Learning-rate schedules by epoch."""

from __future__ import annotations

import torch
from torch.optim import lr_scheduler


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
