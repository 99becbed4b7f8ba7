"""Several processes training one model with torch.distributed: who is who, launching, and averaging.

A run is distributed when ``torchrun`` started it (it sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``), or when
``train.py --gpu_ids 0,1,...`` starts one process per listed GPU itself (``spawn``). Each process trains on its
share of every batch (``--batch_size`` per process); gradients are averaged by DistributedDataParallel, and
only rank 0 writes files. CUDA processes talk over NCCL, CPU processes (``--gpu_ids -1``) over gloo.
"""

from __future__ import annotations

import os
import socket
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist

from instagan.util import cli
from instagan.util.devices import resolve_device


@dataclass(frozen=True)
class Context:
    """This process's place in the run: ``rank`` of ``world_size`` processes, and its device."""

    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that prints, writes the HTML page and saves checkpoints."""
        return self.rank == 0


def launched() -> bool:
    """Whether this process is one of several started by torchrun or by ``spawn``."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(gpu_ids: list[int]) -> Context:
    """The context of this process; joins the process group when several processes run.

    Under torchrun each process takes GPU ``gpu_ids[LOCAL_RANK]`` when ``--gpu_ids`` lists one per process,
    else GPU ``LOCAL_RANK``; with ``--gpu_ids -1`` (or without CUDA) every process runs on the CPU.
    """
    if not launched():
        return Context(resolve_device(gpu_ids))
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
    if gpu_ids and torch.cuda.is_available():
        index = gpu_ids[local_rank] if len(gpu_ids) == local_world else local_rank
        if index >= torch.cuda.device_count():
            raise ValueError(f"process {rank} wants CUDA device {index}, but this machine has {torch.cuda.device_count()}")
        torch.cuda.set_device(index)
        device, backend = torch.device("cuda", index), "nccl"
    else:
        if gpu_ids:
            warnings.warn("CUDA is not available: every process runs on the CPU (--gpu_ids -1 silences this)", stacklevel=2)
        device, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=world_size)
    return Context(device, rank, world_size)


def cleanup() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(local_rank: int, main: Callable, argv: list[str], world_size: int, port: int, expected: tuple) -> None:
    os.environ.update(
        RANK=str(local_rank),
        LOCAL_RANK=str(local_rank),
        WORLD_SIZE=str(world_size),
        LOCAL_WORLD_SIZE=str(world_size),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    cli.run(lambda: main(argv), expected)  # each process ends an expected error with its own one-line message


def spawn(main: Callable[[list[str] | None], object], argv: list[str] | None, world_size: int, expected: tuple = ()) -> None:
    """Run ``main(argv)`` in ``world_size`` processes on this machine, as torchrun would start them."""
    import torch.multiprocessing as mp

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        mp.start_processes(_worker, args=(main, argv, world_size, free_port(), expected), nprocs=world_size, start_method="spawn")
    except mp.ProcessExitedException as err:
        if err.exit_code == 130:
            raise cli.Interrupted("interrupted: the training processes stopped (see above)") from err
        raise cli.UserError(f"training process {err.error_index} stopped with exit code {err.exit_code} (see above)") from err


def all_true(flag: bool, device: torch.device) -> bool:
    """``flag`` on every process (a logical AND across the run); just ``flag`` when not distributed."""
    if not dist.is_initialized():
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return bool(value.item() > 0)


def any_true(flag: bool, device: torch.device) -> bool:
    """``flag`` on at least one process (a logical OR across the run)."""
    return not all_true(not flag, device)


def mean_values(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Each value averaged over the processes (for the loss log); unchanged when not distributed."""
    if not dist.is_initialized() or not values:
        return dict(values)
    tensor = torch.tensor(list(values.values()), dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return dict(zip(values, (tensor / dist.get_world_size()).tolist()))


def gather(obj: object) -> list[object]:
    """Every process's ``obj``, in rank order, on every process; ``[obj]`` when not distributed."""
    if not dist.is_initialized():
        return [obj]
    out: list[object] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out
