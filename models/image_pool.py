"""The history of generated samples that the discriminators see (Shrivastava et al., 2017)."""

from __future__ import annotations

import random

import torch


class ImagePool:
    """Keeps up to pool_size past fakes; each queried fake is, with probability 1/2 once the pool is
    full, swapped for a stored one. Samples are stored on the CPU, detached."""

    def __init__(self, pool_size: int) -> None:
        self.pool_size = pool_size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """images: (B, C, H, W); returns a (B, C, H, W) batch drawn as above, on images' device."""
        if self.pool_size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image.cpu())
                out.append(image)
            elif random.uniform(0, 1) > 0.5:
                i = random.randint(0, self.pool_size - 1)
                out.append(self.images[i].to(images.device))
                self.images[i] = image.cpu()
            else:
                out.append(image)
        return torch.cat(out, dim=0)

    def state_dict(self) -> dict:
        return {"pool_size": self.pool_size, "images": list(self.images)}

    def load_state_dict(self, state: dict) -> None:
        self.images = list(state["images"])
