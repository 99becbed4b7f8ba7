"""Seeding and saving the state of every random number generator a run uses.

A saved state holds only what ``torch.load(weights_only=True)`` reads back (tensors, numbers, strings, tuples), so that
loading a run's checkpoint never runs code from it.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    """The states of Python's, NumPy's and torch's generators (and CUDA's), as plain values and tensors."""
    key, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {
            "key": str(key),
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },  # fmt: skip
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(_tuples(state["python"]))
    numpy = state["numpy"]
    if isinstance(numpy, dict):
        keys = np.asarray(numpy["keys"], dtype=np.int64).astype(np.uint32)
        numpy = (numpy["key"], keys, numpy["pos"], numpy["has_gauss"], numpy["gauss"])
    np.random.set_state(numpy)  # (checkpoints written before states were plain values hold NumPy's own tuple)
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuples(value):
    """Python's state as ``random.setstate`` wants it: tuples all the way down (a round trip may give lists)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def stream_seed(base: int, rank: int) -> int:
    """A seed of its own for process ``rank`` of a run whose generators start from ``base``."""
    return (base * 1_000_003 + 7_919 * (rank + 1)) % 2**63
