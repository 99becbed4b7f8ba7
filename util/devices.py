"""Resolving the compute device once, from ``--gpu_ids``."""

from __future__ import annotations

import warnings

import torch


def resolve_device(gpu_ids: list[int]) -> torch.device:
    """The first listed GPU, or the CPU for ``--gpu_ids -1``; CPU with a warning when CUDA is absent."""
    if not gpu_ids:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        warnings.warn(
            f"--gpu_ids {','.join(map(str, gpu_ids))} asked for CUDA, which this machine does not have: running on the CPU "
            "(pass --gpu_ids -1 to silence this)",
            stacklevel=2,
        )
        return torch.device("cpu")
    if gpu_ids[0] >= torch.cuda.device_count():
        raise ValueError(f"--gpu_ids {gpu_ids[0]}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    torch.cuda.set_device(gpu_ids[0])
    return torch.device("cuda", gpu_ids[0])
