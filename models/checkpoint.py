"""What a checkpoint holds, and how it is written and read: the one definition of the format.

A checkpoint ``<tag>`` (``latest`` or an epoch number) of a run folder is

- ``<tag>_net_<name>.pth`` for each network (G_A, G_B, D_A, D_B): its state dict on the CPU; what test.py,
  ``Translator`` and export.py load (``load_weights``), and what the original implementation wrote too; with
  ``--ema_decay`` also ``<tag>_net_G_A_ema.pth`` and ``_G_B_ema.pth``, the moving averages (``test.py --ema``);
- ``<tag>_training_state.pth``: everything to resume (``TrainingState``): the trainer's state (networks,
  optimizers, schedules, gradient scalers, the model's image pools, the moving averages), the ``Counters``, the
  training log's state, the RNG state of every process, and the architecture flags it was trained with;
- ``<tag>_checkpoint.json``, the manifest that makes them one unit (``util.file_set``: written whole or not at all,
  checked before loading).

Every file is read with ``weights_only``: a checkpoint never runs code. The run folder that holds checkpoints, its
recorded options and the architecture they fix are ``models.run``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from instagan.models import networks
from instagan.util import file_set
from instagan.util.cli import UserError


@dataclass
class Counters:
    """Where training stands: ``epoch`` is the epoch to run next (or the one under way, when ``epoch_samples`` > 0
    samples of it are done); ``total_iters`` counts images seen by all processes together; ``updates`` the sequential
    steps trained (each one generator and one discriminator update); ``data_seed`` fixes the order of every epoch's
    samples. ``due(every)`` says whether the last ``advance`` passed a multiple of ``every``."""

    epoch: int = 1
    total_iters: int = 0
    epoch_samples: int = 0
    data_seed: int = 0
    updates: int = 0
    _before: int = field(default=0, repr=False)

    def advance(self, images: int) -> None:
        self._before, self.total_iters = self.total_iters, self.total_iters + images
        self.epoch_samples += images

    def due(self, every: int) -> bool:
        return self.total_iters // every > self._before // every

    def end_epoch(self, epoch: int) -> None:
        self.epoch, self.epoch_samples = epoch + 1, 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "total_iters": self.total_iters, "epoch_samples": self.epoch_samples,
                "data_seed": self.data_seed, "updates": self.updates}  # fmt: skip


def weights_name(tag: str | int, network: str) -> str:
    return f"{tag}_net_{network}.pth"


def state_path(save_dir: Path, tag: str | int) -> Path:
    return Path(save_dir) / f"{tag}_training_state.pth"


@dataclass
class TrainingState:
    """What ``<tag>_training_state.pth`` holds besides the architecture flags."""

    trainer: dict  # Trainer.state_dict(): networks, optimizers, schedulers, scalers, the model's extras
    counters: Counters
    log: dict  # TrainingLog.state_dict()
    rngs: list[dict]  # util.randomness.rng_state() of every process, rank 0 first


def write(save_dir: Path, tag: str | int, nets: dict[str, nn.Module], state: TrainingState, architecture: dict) -> None:
    """Write checkpoint ``tag``: the weight files and the training state (with the ``architecture`` flags it was trained
    with), as one unit. The state file alone resumes a run (it holds the networks too); the weight files are for
    test.py."""
    files: dict[str, Any] = {
        weights_name(tag, name): {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}  # (any layout)
        for name, net in nets.items()
    }
    files[state_path(save_dir, tag).name] = {
        "model": state.trainer,
        "counters": state.counters.state_dict(),
        "visualizer": state.log,
        "rng": state.rngs[0],
        "rng_per_rank": state.rngs,
        "architecture": architecture,
    }
    file_set.write_set(save_dir, tag, files)


def load_training_state(save_dir: Path, tag: str | int, device: torch.device) -> dict:
    """Checkpoint ``tag``'s training state file as saved (``architecture`` holds the flags it was trained with), checked
    against its manifest."""
    path = state_path(save_dir, tag)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: --continue_train needs a checkpoint written by this train.py "
            "(check --name, --checkpoints_dir and --epoch)"
        )
    return file_set.load_set(save_dir, tag, [path.name], device)[path.name]  # weights_only: never runs code


def training_state(saved: dict, path: Path) -> TrainingState:
    """The ``TrainingState`` of a state file loaded by ``load_training_state`` (read from ``path``)."""
    try:
        return TrainingState(saved["model"], Counters(**saved["counters"]), saved.get("visualizer", {}),
                             saved.get("rng_per_rank", [saved["rng"]]))  # fmt: skip
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"{path} is not a training state of this project ({err!r}): use another --epoch") from err


def load_weights(save_dir: Path, epoch: str | int, nets: dict[str, nn.Module], opt, device: torch.device,
                 trained_with: Callable[[], str]) -> None:  # fmt: skip
    """Load ``<epoch>_net_<name>.pth`` into each network; files written by the original implementation load as well.

    The files are checked against their checkpoint's manifest; a file that does not fit these networks is refused
    naming ``trained_with()``, the flags the run was trained with where they differ from ``opt``'s."""
    save_dir = Path(save_dir)
    names = [weights_name(epoch, name) for name in nets]
    for name in names:
        if not (save_dir / name).is_file():
            raise FileNotFoundError(
                f"{save_dir / name} not found: train first, or check --checkpoints_dir, --name and --epoch "
                f"(found: {', '.join(sorted(p.name for p in save_dir.glob('*_net_*.pth'))) or 'nothing'})"
            )
    states = file_set.load_set(save_dir, epoch, names, device)  # all of one save, checked as they are loaded
    for (name, net), file in zip(nets.items(), names):
        path, state = save_dir / file, states[file]
        try:
            net.load_state_dict(networks.load_original_state_dict(state))
        except (RuntimeError, KeyError, AttributeError) as err:
            flags = trained_with()
            hint = f"it was trained with {flags}" if flags else "check --ngf/--ndf/--n_blocks/--netG/--netD"
            raise UserError(f"{path} does not fit --model {opt.model} --net{name[0]} with these sizes: {hint}") from err
        if not all(torch.isfinite(p).all() for p in net.parameters()):
            raise UserError(f"{path} holds weights that are not finite (a run that diverged): use another --epoch")
