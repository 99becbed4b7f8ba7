"""Saving and resuming whole training runs.

A checkpoint ``<tag>`` (``latest`` or an epoch number) is the generator and discriminator weights as
``<tag>_net_<name>.pth`` (what test.py loads) plus ``<tag>_training_state.pth``: optimizers,
schedulers, image pools, counters, the visualizer's loss history and every RNG state. Every file is
written atomically, so an interrupted save never leaves a broken checkpoint behind.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from models.base_model import BaseModel
from util.io import atomic_torch_save
from util.util import rng_state, set_rng_state


@dataclass
class Counters:
    """Where training stands: ``epoch`` is the next epoch to run; ``total_iters`` counts images seen."""

    epoch: int = 1
    total_iters: int = 0


def state_path(save_dir: Path, tag: str | int) -> Path:
    return Path(save_dir) / f"{tag}_training_state.pth"


def save_checkpoint(model: BaseModel, tag: str | int, counters: Counters, visualizer_state: dict) -> None:
    state = {
        "model": model.training_state(),
        "counters": asdict(counters),
        "visualizer": visualizer_state,
        "rng": rng_state(),
    }
    # The state file alone resumes a run (it holds the networks too); the weight files are for test.py.
    model.save_networks(tag)
    atomic_torch_save(state, state_path(model.save_dir, tag))


def load_checkpoint(model: BaseModel, tag: str | int) -> tuple[Counters, dict]:
    """Restore a run saved with ``save_checkpoint``; returns its counters and the visualizer state."""
    path = state_path(model.save_dir, tag)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: --continue_train needs a checkpoint written by this train.py "
            "(check --name, --checkpoints_dir and --epoch)"
        )
    state = torch.load(path, map_location=model.device, weights_only=False)
    model.load_training_state(state["model"])
    set_rng_state(state["rng"])
    return Counters(**state["counters"]), state.get("visualizer", {})
