"""FID and KID with the standard Inception features (torchmetrics reads the weights through torch-fidelity)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from instagan.evaluation import metrics
from instagan.util.cli import UserError
from instagan.util.images import to_uint8

WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"  # what torch-fidelity loads for torchmetrics' FID


def weights(path: str | None, required: bool) -> Path | None:
    """The Inception weights for FID: ``path``, else torch hub's cache; None (or an error, if ``required``) when they
    are not on disk or torch-fidelity, which reads them, is not installed."""
    if importlib.util.find_spec("torch_fidelity") is None:
        if required or path:
            raise UserError("FID with Inception features needs torch-fidelity: pip install torch-fidelity (the [fid] extra)")
        return None
    candidate = Path(path) if path else Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS
    if candidate.is_file():
        return candidate
    if required or path:
        raise UserError(
            f"{candidate} not found: FID needs the Inception weights {WEIGHTS} (from "
            "github.com/toshas/torch-fidelity/releases/tag/v0.2.0) there or at --fid_weights"
        )
    return None


def status(found: Path | None, requested: str) -> str:
    """What the report says about FID/KID with Inception: the weights used, or why they were not computed."""
    if found is not None:
        return str(found)
    if requested == "none":
        return "not computed: --fid none"
    if importlib.util.find_spec("torch_fidelity") is None:
        return "not computed: torch-fidelity is not installed (pip install torch-fidelity)"
    return f"not computed: {WEIGHTS} is not in torch hub's checkpoints folder (--fid_weights)"


def distances(real: torch.Tensor, fake: torch.Tensor, weights_path: Path) -> dict[str, dict]:
    """FID and KID of two image sets in [-1, 1], with bootstrap intervals."""
    from torchmetrics.image.fid import NoTrainInceptionV3

    net = NoTrainInceptionV3(
        name="inception-v3-compat", features_list=["2048"], feature_extractor_weights_path=str(weights_path)
    )

    def features(images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([net(to_uint8(x)) for x in images.split(32)])

    out = metrics.feature_distances(features(real), features(fake), resamples=20)
    return {"fid": out["fd"], "kid": out["kd"]}
