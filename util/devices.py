"""The compute device and the precision: ``--gpu_ids`` and ``--precision`` are read here and nowhere else."""

from __future__ import annotations

import warnings

import torch

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}  # --precision -> autocast dtype


def parse_gpu_ids(text: str | int) -> list[int]:
    """``--gpu_ids``: "0" or "0,1" -> [0] or [0, 1]; "-1" (or any negative number) -> [] (the CPU)."""
    try:
        return [int(i) for i in str(text).split(",") if i.strip() and int(i) >= 0]
    except ValueError:
        raise ValueError(f"--gpu_ids {text!r}: give GPU numbers separated by commas, e.g. 0 or 0,1, or -1 for the CPU") from None


def autocast_dtype(precision: str) -> torch.dtype | None:
    """``--precision``: the dtype the networks run in under autocast, or None for fp32 (no autocast)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown --precision {precision!r}: use {', '.join(PRECISIONS)}")
    return PRECISIONS[precision]


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
