"""How much memory one training pass holds: the peak bytes of the tensors autograd keeps for backward during a
training step (every sequential step's generator and discriminator updates), on a batch of the data set's images with
the most instances (in both domains). With --ins_per instances per pass it stays flat as --ins_max grows; in one pass
it grows with it.

    python scripts/pass_memory.py --dataroot datasets/shapes --ins_max 8 --ins_per 2 [other train.py flags]

Prints the peak in MiB, then what it was measured on. Counted exactly (each storage once, freed when autograd frees
it), the same on every machine; a device's allocator adds its own overhead on top (docs/speed.md has GPU figures).
"""

from __future__ import annotations

import sys
import weakref
from collections import defaultdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from instagan.data import create_dataset  # noqa: E402
from instagan.models import create_model  # noqa: E402
from instagan.models.trainer import Trainer  # noqa: E402
from instagan.options.train_options import TrainOptions  # noqa: E402
from instagan.util import cli  # noqa: E402
from instagan.util.distributed import Context  # noqa: E402


class SavedTensors:
    """Within the context: the live and peak bytes of the tensors autograd saves for backward, each storage counted
    once, for as long as autograd holds it."""

    def __init__(self) -> None:
        self.live = self.peak = 0
        self.holders: dict[int, int] = defaultdict(int)
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        key, size = storage.data_ptr(), storage.nbytes()
        if self.holders[key] == 0:
            self.live += size
            self.peak = max(self.peak, self.live)
        self.holders[key] += 1
        held = tensor.detach()  # what autograd keeps: released when autograd frees it
        weakref.finalize(held, self._release, key, size)
        return held

    def _release(self, key: int, size: int) -> None:
        self.holders[key] -= 1
        if self.holders[key] == 0:
            self.live -= size

    def __enter__(self) -> SavedTensors:
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)


def fullest_batch(dataset, batch_size: int) -> dict:
    """batch_size samples that pair the A images having the most instances with the B images having the most,
    collated (of a data set without masks, as --model cycle_gan reads: the first images of each domain). The same
    batch on every call: the pairing does not draw B at random as training does."""
    if hasattr(dataset, "domain_A"):
        chosen = [fullest(dataset.domain_A, batch_size), fullest(dataset.domain_B, batch_size)]
    else:
        chosen = [[i % len(paths) for i in range(batch_size)] for paths in (dataset.paths_A, dataset.paths_B)]
    return torch.utils.data.default_collate([dataset.pair(a, b) for a, b in zip(*chosen)])


def fullest(domain, count: int) -> list[int]:
    """The indices of the domain's count images with the most instances (repeated if it has fewer images)."""
    ranked = sorted(range(len(domain)), key=lambda i: -len(domain.mask_paths(i)))
    return [ranked[i % len(ranked)] for i in range(count)]


def main(argv: list[str] | None = None) -> float:
    opt = TrainOptions().parse([*(sys.argv[1:] if argv is None else argv), "--gpu_ids", "-1"])
    torch.manual_seed(0)
    dataset = create_dataset(opt)
    model = create_model(opt, torch.device("cpu"))
    trainer = Trainer(model, opt, Context(torch.device("cpu")))
    batch = fullest_batch(dataset, opt.batch_size)
    trainer.train_step(batch)  # the first step allocates the optimizers' state
    with SavedTensors() as saved:
        trainer.train_step(batch)
    mib = saved.peak / 2**20
    if "A_segs" in batch:
        instances = int((batch["A_segs"] > -1).flatten(2).any(2).sum(1).max())
        holding = f"with up to {instances} instances, --ins_max {getattr(opt, 'ins_max', '-')} --ins_per "
        holding += str(getattr(opt, "ins_per", "-"))
    else:
        holding = "without masks"
    print(f"{mib:.1f} MiB held for backward at most, training step of {opt.batch_size} images {holding}")
    return mib


if __name__ == "__main__":
    cli.run(main)
