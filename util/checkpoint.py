"""Where a training run stands, and where its checkpoints live.

A checkpoint ``<tag>`` (``latest`` or an epoch number) is the generator and discriminator weights as
``<tag>_net_<name>.pth`` (what test.py loads) plus ``<tag>_training_state.pth``: optimizers, schedulers,
gradient scalers, image pools, counters, the visualizer's loss history and every RNG state
(``models.trainer.Trainer.save`` writes it). Every file is written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Counters:
    """Where training stands: ``epoch`` is the next epoch to run; ``total_iters`` counts images seen (by all
    processes together). ``due(every)`` says whether the last ``advance`` passed a multiple of ``every`` images."""

    epoch: int = 1
    total_iters: int = 0
    _before: int = field(default=0, repr=False)

    def advance(self, images: int) -> None:
        self._before, self.total_iters = self.total_iters, self.total_iters + images

    def due(self, every: int) -> bool:
        return self.total_iters // every > self._before // every

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "total_iters": self.total_iters}


def state_path(save_dir: Path, tag: str | int) -> Path:
    return Path(save_dir) / f"{tag}_training_state.pth"
