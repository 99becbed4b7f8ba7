"""Compatibility with the checkpoints of the authors' implementation."""

from __future__ import annotations

import torch

_ORIGINAL_SN_KEYS = {
    "module.weight_bar": "parametrizations.weight.original",
    "module.weight_u": "parametrizations.weight.0._u",
    "module.weight_v": "parametrizations.weight.0._v",
    "module.bias": "bias",
}


def load_original_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Translate a state dict written by the original implementation to this project's key layout.

    Handles its spectral-norm wrapper (``<conv>.module.weight_bar`` / ``weight_u`` / ``weight_v`` /
    ``bias``), the ``module.`` prefix of nn.DataParallel, and the instance-norm running statistics
    that PyTorch < 0.4 stored. A state dict already in this layout comes back unchanged.
    """
    converted: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("module."):
            key = key[len("module.") :]
        if key.endswith(("running_mean", "running_var", "num_batches_tracked")) and value.dim() <= 1:
            parent = key.rsplit(".", 1)[0]
            if f"{parent}.weight" not in state and f"module.{parent}.weight" not in state:
                continue  # stats of an affine-free instance norm: nothing to load them into
        for old, new in _ORIGINAL_SN_KEYS.items():
            if key.endswith("." + old):
                key = key[: -len(old)] + new
                break
        converted[key] = value
    return converted
