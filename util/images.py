"""Pixels: the one conversion between uint8 images and the [-1, 1] tensors the networks use, and saving images."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from instagan.util.files import atomic_write_bytes


def from_uint8(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], as ToTensor + Normalize(0.5, 0.5) did."""
    return (x.float() / 255.0 - 0.5) / 0.5


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] (values outside are clipped) -> uint8 [0, 255], rounded."""
    return torch.round((x.detach().float().clamp(-1, 1) + 1) / 2.0 * 255.0).to(torch.uint8)


def tensor2im(image: torch.Tensor) -> np.ndarray:
    """The first image of a (B, C, H, W) batch, or a (C, H, W) image, in [-1, 1] -> uint8 (H, W, 3).

    One-channel tensors (masks) become grey images.
    """
    if image.dim() == 4:
        image = image[0]
    array = to_uint8(image.cpu())
    if array.shape[0] == 1:
        array = array.repeat(3, 1, 1)
    return array[:3].permute(1, 2, 0).numpy()


def save_image(path: str | Path, array: np.ndarray, aspect_ratio: float = 1.0) -> None:
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


def outlines(image: torch.Tensor, masks: list[torch.Tensor], colours: list[tuple[int, int, int]]) -> np.ndarray:
    """An image (3, H, W) in [-1, 1] with the outline of each mask (H, W, > 0 inside) drawn in its colour, as uint8
    (H, W, 3). The outline is the mask's inner border, one pixel wide; later masks are drawn over earlier ones."""
    out = tensor2im(image).copy()
    for mask, colour in zip(masks, colours):
        inside = (mask > 0).float()[None, None]
        eroded = -torch.nn.functional.max_pool2d(-inside, 3, stride=1, padding=1)  # (the image border counts as outside)
        border = (inside - eroded)[0, 0].bool().numpy()
        out[border] = colour
    return out
