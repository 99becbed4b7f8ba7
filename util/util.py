"""Tensor <-> image conversions and small helpers."""

from __future__ import annotations

import random
from io import BytesIO
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from util.io import atomic_write_bytes


def tensor2im(image: torch.Tensor) -> np.ndarray:
    """The first image of a (B, C, H, W) batch, or a (C, H, W) image, in [-1, 1] -> uint8 (H, W, 3).

    One-channel tensors (masks) become grey images.
    """
    if image.dim() == 4:
        image = image[0]
    array = image.detach().float().cpu().clamp(-1, 1).numpy()
    if array.shape[0] == 1:
        array = np.repeat(array, 3, axis=0)
    return np.round((np.transpose(array[:3], (1, 2, 0)) + 1) / 2.0 * 255.0).astype(np.uint8)


def save_image(array: np.ndarray, path: str | Path, aspect_ratio: float = 1.0) -> None:
    """Write a uint8 (H, W, 3) array as an image, stretched to aspect_ratio (W/H), atomically."""
    img = Image.fromarray(array)
    h, w = array.shape[:2]
    if aspect_ratio > 1.0:
        img = img.resize((w, int(h / aspect_ratio)), Image.BICUBIC)
    elif aspect_ratio < 1.0:
        img = img.resize((int(w * aspect_ratio), h), Image.BICUBIC)
    buffer = BytesIO()
    img.save(buffer, format=Path(path).suffix.lstrip(".").upper().replace("JPG", "JPEG") or "PNG")
    atomic_write_bytes(Path(path), buffer.getvalue())


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
