"""The trainer: it carries out a model's training recipe, while the model computes.

``Trainer.train_step`` reads as the paper's training loop (section 3.3): for every sequential step of a batch,
translate it, run the model's updates in order (InstaGAN's and CycleGAN's: the generators with the discriminators
frozen, then the discriminators), advance. The model (any ``SequentialModel``) supplies the steps and its recipe
(``training_recipe``: each update's networks, losses, learning rate and betas, in order); the trainer owns what every
recipe needs:

- an Adam optimizer and a learning-rate schedule per update;
- precision (``--precision fp32|bf16|fp16``): the networks run under autocast, the losses in fp32, and fp16
  scales each optimizer's gradients with its own ``torch.amp.GradScaler``;
- non-finite losses or gradients: such an update is skipped with a warning, and ``--max_nonfinite`` of them in
  a row stop the run (``TrainingDiverged``) before any checkpoint is written;
- DistributedDataParallel when several processes train (``util.distributed``): each update's networks sit behind
  one module whose forward returns that update's losses for a step, so DDP sees one forward and one backward per
  update; only rank 0 writes checkpoints;
- moving averages of the weights of the updates that ask for one (``Update.average``; InstaGAN's and CycleGAN's
  generators with ``--ema_decay``), saved beside the networks as ``<tag>_net_<name>_ema.pth``.

Across processes: the spectral-norm vectors (u, v) of the discriminators are buffers that DDP broadcasts from
rank 0 at every discriminator update, so all processes normalise by the same sigma to within the power
iterations of one update; each process keeps its own image pool (its own history of fakes), and a checkpoint
stores rank 0's pool, which every process starts from when the run resumes.
"""

from __future__ import annotations

import argparse
import copy
import math
import warnings
from collections.abc import Callable
from typing import Protocol

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from instagan.models import checkpoint, networks
from instagan.models.base_model import BaseModel
from instagan.models.checkpoint import Counters, TrainingState
from instagan.models.recipe import Update
from instagan.models.run import Run
from instagan.models.two_domain_model import Direction, Step
from instagan.util import distributed
from instagan.util.cli import UserError
from instagan.util.devices import autocast_dtype
from instagan.util.randomness import rng_state, seed_everything, set_rng_state, stream_seed


class SequentialModel(Protocol):
    """What the trainer needs of a model (``TwoDomainModel`` and its subclasses are such models).

    ``steps`` holds the mask slots of each sequential step; ``translate_steps(index, training=True)`` translates step
    ``index`` of every direction from the images translated so far, with what the losses need, and
    ``advance(index, steps)`` records it, so that the next step starts from there; ``live_directions`` keeps the
    directions with something translated in a step, which the updates of ``training_recipe`` turn into losses.
    ``static_training``: every network call of a step has fixed shapes (``--cuda_graphs``). The rest is for
    checkpoints: the networks by name and extra state (the image pools)."""

    opt: argparse.Namespace
    run_folder: Run
    steps: list[slice]
    current_losses: dict[str, float]
    static_training: bool

    def set_input(self, batch: dict) -> None: ...
    def start_sequence(self) -> None: ...
    def translate_steps(self, index: int, training: bool = False) -> list[Step]: ...
    def advance(self, index: int, steps: list[Step]) -> None: ...
    def live_directions(self, steps: list[Step]) -> list[tuple[Direction, Step]]: ...
    def training_recipe(self) -> list[Update]: ...
    def networks(self) -> dict[str, nn.Module]: ...
    def extra_state(self) -> dict: ...
    def load_extra_state(self, state: dict) -> None: ...


class TrainingDiverged(RuntimeError):
    """Training produced non-finite losses or weights; nothing was saved over the last good checkpoint."""


class Precision:
    """Autocast and gradient scaling for ``--precision``. fp32 is plain PyTorch (and keeps parity with the original)."""

    def __init__(self, name: str, device: torch.device) -> None:
        self.name, self.device, self.dtype = name, device, autocast_dtype(name)

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None)

    def grad_scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.device.type, enabled=self.name == "fp16")


class StepLosses(nn.Module):
    """The networks of one update behind a forward that returns the update's losses for one sequential step: the unit
    DistributedDataParallel wraps, so that every update is one forward and one backward.

    In a distributed run every process must reduce every gradient in every update, also a process that has
    nothing to translate in that step: ``touch_all`` adds 0 * (one element of every parameter) to the total.
    """

    def __init__(self, nets: dict[str, nn.Module], losses: Callable[[list], dict[str, torch.Tensor]], touch_all: bool) -> None:
        super().__init__()
        self.nets = nn.ModuleDict(nets)
        self.losses = losses
        self.touch_all = touch_all

    def forward(self, live: list) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        losses = self.losses(live)
        total = sum(losses.values(), torch.zeros((), device=next(self.parameters()).device))
        if self.touch_all:
            total = total + 0.0 * sum(p.view(-1)[0] for p in self.parameters())
        return total, losses


class Trainer:
    """Carries out a model's training recipe; see the module docstring."""

    def __init__(self, model: SequentialModel, opt: argparse.Namespace, context: distributed.Context) -> None:
        self.model, self.opt, self.context = model, opt, context
        self.device = context.device
        self.updates = model.training_recipe()
        self.optimizers = [update.optimizer() for update in self.updates]
        self.schedulers = [networks.get_scheduler(optimizer, opt) for optimizer in self.optimizers]
        self.precision = Precision(opt.precision, self.device)
        self.scalers = [self.precision.grad_scaler() for _ in self.optimizers]
        touch = context.distributed
        self.roles = [self._parallel(StepLosses(update.networks, update.losses, touch)) for update in self.updates]
        # moving averages of the weights of the updates that keep one (--ema_decay): name -> a copy of the network
        self.averages = {name: average_of(net) for update in self.updates if update.average
                         for name, net in update.networks.items()}  # fmt: skip
        self.step_losses: list[dict[str, float]] = []
        self.nonfinite_in_a_row = 0
        self.skipped_updates = 0

    def _parallel(self, role: StepLosses) -> nn.Module:
        if not self.context.distributed:
            return role
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(role, device_ids=device_ids, gradient_as_bucket_view=True)  # buffers: synced from rank 0

    # one batch ------------------------------------------------------------------------------------
    def train_step(self, batch: dict) -> dict[str, float]:
        """One batch, as the paper's sequential mini-batch training (section 3.3): for each step of ``--ins_per``
        instances, translate them from the image translated so far, run the recipe's updates (InstaGAN: G, then D),
        and advance to the next.

        Returns (and gives the model, for ``get_current_losses``) each loss's mean over the steps in which it was
        computed; ``step_losses`` keeps the losses of every step.
        """
        model = self.model
        model.set_input(batch)
        model.start_sequence()
        self.step_losses = []
        graphs = model.static_training and self.device.type == "cuda"
        for index in range(len(model.steps)):
            if graphs:  # each step is an iteration of CUDA graphs: the previous step's graph outputs are dead
                torch.compiler.cudagraph_mark_step_begin()
            with self.precision.autocast():
                steps = model.translate_steps(index, training=True)
            live = model.live_directions(steps)
            if distributed.any_true(bool(live), self.device):  # something to translate in this step, in some process
                losses: dict[str, float] = {}
                for index_update, update in enumerate(self.updates):
                    BaseModel.set_requires_grad(update.frozen, False)
                    losses.update(self._update(index_update, live))
                    BaseModel.set_requires_grad(update.frozen, True)
                self.step_losses.append(losses)
            model.advance(index, steps)  # the next step reads the image translated so far
        names = {name for losses in self.step_losses for name in losses}
        model.current_losses = {
            name: sum(values) / len(values)
            for name in names
            if (values := [losses[name] for losses in self.step_losses if name in losses])
        }
        return model.current_losses

    def _update(self, index: int, live: list) -> dict[str, float]:
        """One optimiser step of the recipe's update ``index``; returns its losses."""
        optimizer, scaler, name = self.optimizers[index], self.scalers[index], self.updates[index].name
        with self.precision.autocast():
            total, losses = self.roles[index](live)
        values = {name: float(loss.detach()) for name, loss in losses.items()}
        if not distributed.all_true(math.isfinite(float(total.detach())), self.device):
            self._nonfinite(name, values)
            return values
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(total).backward()
        if scaler.is_enabled():  # fp16: the scaler skips a step whose gradients overflowed, and lowers its scale
            scale = scaler.get_scale()
            scaler.step(optimizer)
            scaler.update()
            stepped = scaler.get_scale() >= scale
            self.skipped_updates += not stepped
        elif _finite_gradients(optimizer):  # gradients are already averaged: every process agrees
            optimizer.step()
            stepped = True
        else:
            self._nonfinite(name, {"gradient": math.inf})
            return values
        self.nonfinite_in_a_row = 0
        update = self.updates[index]
        for net_name, net in update.networks.items() if update.average and stepped else ():
            move_average(self.averages[net_name], net, update.average)
        return values

    def _nonfinite(self, role: str, values: dict[str, float]) -> None:
        self.nonfinite_in_a_row += 1
        self.skipped_updates += 1
        bad = ", ".join(f"{k}={v}" for k, v in values.items() if not math.isfinite(v)) or "the total"
        if self.nonfinite_in_a_row >= self.opt.max_nonfinite:
            raise TrainingDiverged(
                f"training diverged: {self.nonfinite_in_a_row} updates in a row had non-finite losses or gradients "
                f"(last: {role} update, {bad}); no checkpoint was written since. Lower --lr, or use --precision fp32"
            )
        warnings.warn(f"non-finite {role} loss or gradient ({bad}): update skipped", stacklevel=3)

    def update_learning_rate(self) -> float:
        """Advance the schedules by one epoch; returns the learning rate of the recipe's first update now (InstaGAN's:
        the generators')."""
        for scheduler in self.schedulers:
            scheduler.step()
        return self.learning_rate()

    def learning_rate(self) -> float:
        return self.optimizers[0].param_groups[0]["lr"]

    # checkpoints ----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Networks, optimizers, schedulers, gradient scalers and the model's extras (its image pools)."""
        return {
            "networks": {name: net.state_dict() for name, net in self.model.networks().items()},
            "updates": [update.name for update in self.updates],
            "optimizers": [o.state_dict() for o in self.optimizers],
            "schedulers": [s.state_dict() for s in self.schedulers],
            "scalers": [s.state_dict() for s in self.scalers],
            "extra": self.model.extra_state(),
            "averages": {name: net.state_dict() for name, net in self.averages.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        names = [update.name for update in self.updates]
        saved_names = state.get("updates", names[: len(state["optimizers"])])  # (a state written before names were kept)
        if saved_names != names or len(state["optimizers"]) != len(names):
            raise ValueError(f"it holds the optimizers of the updates {saved_names}, this model's recipe has {names}")
        for name, net in self.model.networks().items():
            net.load_state_dict(state["networks"][name])
        for optimizer, saved in zip(self.optimizers, state["optimizers"]):
            optimizer.load_state_dict(saved)
        for scheduler, saved in zip(self.schedulers, state["schedulers"]):
            scheduler.load_state_dict(saved)
        for scaler, saved in zip(self.scalers, state.get("scalers", [])):
            if saved:
                scaler.load_state_dict(saved)
        self.model.load_extra_state(state.get("extra", {}))
        for name, net in self.averages.items():  # a run that kept none yet starts its averages from its weights now
            net.load_state_dict(state.get("averages", {}).get(name) or state["networks"][name])

    def save(self, tag: str | int, counters: Counters, visualizer_state: dict) -> None:
        """Write checkpoint ``tag`` (the weight files for test.py and the whole training state) as one unit, from
        rank 0. Every process takes part (each one's RNG state is stored); weights that are not finite are refused."""
        rngs = distributed.gather(rng_state())
        if not self.context.is_main:
            return
        nets = {**self.model.networks(), **{f"{name}_ema": net for name, net in self.averages.items()}}
        for name, net in nets.items():
            if not all(torch.isfinite(p).all() for p in net.parameters()):
                raise TrainingDiverged(
                    f"the weights of {name} are not finite: checkpoint {tag!r} was not written, the saved ones are "
                    "untouched. Lower --lr, or use --precision fp32"
                )
        state = TrainingState(self.state_dict(), counters, visualizer_state, rngs)
        self.model.run_folder.write_checkpoint(tag, nets, state, self.opt)

    def resume(self, tag: str | int) -> tuple[Counters, dict]:
        """Restore checkpoint ``tag``; returns its counters and the visualizer's state."""
        saved = self.model.run_folder.training_state(tag, self.opt, self.device)
        try:
            self.load_state_dict(saved.trainer)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            path = checkpoint.state_path(self.model.run_folder.folder, tag)
            raise UserError(f"{path} is not a training state of this project ({err!r}): use another --epoch") from err
        counters = saved.counters
        # The saved optimizers hold the learning rate of the old schedule; the run continues at the rate that this
        # run's schedule (its recipe's rates, from --lr; --niter, --niter_decay, --lr_policy) gives for this epoch.
        for scheduler, update in zip(self.schedulers, self.updates):
            scheduler.base_lrs = [update.lr for _ in scheduler.base_lrs]
            for group in scheduler.optimizer.param_groups:
                group["initial_lr"] = update.lr
            closed_form = getattr(scheduler, "_get_closed_form_lr", scheduler.get_lr)
            for group, lr in zip(scheduler.optimizer.param_groups, closed_form()):
                group["lr"] = lr
        if self.context.rank < len(saved.rngs):
            set_rng_state(saved.rngs[self.context.rank])
        else:  # more processes than the run had: a new one gets a stream of its own, not a copy of another's
            seed_everything(stream_seed(counters.data_seed + counters.total_iters, self.context.rank))
        return counters, saved.log


def _finite_gradients(optimizer: torch.optim.Optimizer) -> bool:
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    if not grads:
        return True
    return bool(torch.isfinite(torch.stack([torch.linalg.vector_norm(g) for g in grads]).sum()))


def average_of(net: nn.Module) -> nn.Module:
    """A copy of ``net`` to keep a moving average of its weights in (no gradients; the same layout and device). Only
    its parameters and buffers are used: a compiled network's copy would still call the original's compiled layers."""
    average = copy.deepcopy(net)
    average.requires_grad_(False)
    return average


@torch.no_grad()
def move_average(average: nn.Module, net: nn.Module, decay: float) -> None:
    """``average`` <- ``decay`` * ``average`` + (1 - ``decay``) * ``net``, for every parameter; buffers are copied."""
    torch._foreach_lerp_(list(average.parameters()), list(net.parameters()), 1.0 - decay)
    for mine, theirs in zip(average.buffers(), net.buffers()):
        mine.copy_(theirs)
