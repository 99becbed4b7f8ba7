"""Finding instance masks in plain photos with torchvision's COCO-trained Mask R-CNN (datasets/make_masks.py and
translate.py use it)."""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import torch

from instagan.util.cli import UserError
from instagan.util.file_set import load_file


def coco_categories() -> list[str]:
    from torchvision.models.detection import MaskRCNN_ResNet50_FPN_Weights

    return list(MaskRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"])


def category_index(name: str) -> int:
    """The COCO category id of ``name``; an unknown name is an error that suggests close ones."""
    categories = coco_categories()
    if name not in categories:
        known = [c for c in categories if c not in ("__background__", "N/A")]
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
        suggestion = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(known))}"
        raise UserError(f"unknown COCO category {name!r}{suggestion}")
    return categories.index(name)


def build_detector(weights: str, score: float, min_size: int) -> torch.nn.Module:
    """Mask R-CNN (ResNet-50 FPN): ``DEFAULT`` (COCO weights from torchvision's cache), ``none`` (untrained,
    for tests) or a path to a state dict."""
    from torchvision.models.detection import MaskRCNN_ResNet50_FPN_Weights, maskrcnn_resnet50_fpn

    kwargs = {"box_score_thresh": min(score, 0.05), "min_size": min_size, "max_size": max(min_size, 1333 * min_size // 800)}
    if weights == "none":
        return maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91, **kwargs)
    if weights == "DEFAULT":
        chosen = MaskRCNN_ResNet50_FPN_Weights.COCO_V1
        try:
            return maskrcnn_resnet50_fpn(weights=chosen, **kwargs)
        except (OSError, RuntimeError, ValueError) as err:
            cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(chosen.url).name
            raise UserError(
                f"the Mask R-CNN weights are not in {cache} and could not be downloaded ({type(err).__name__}); "
                f"download {chosen.url} on a machine with internet access and put it there, or pass --weights <file>"
            ) from err
    path = Path(weights)
    if not path.is_file():
        raise UserError(f"{path} not found: --weights takes DEFAULT, none or a Mask R-CNN state-dict file")
    model = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91, **kwargs)
    state = load_file(path)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        reason = " ".join(str(err).split())[:120]
        raise UserError(f"{path} does not hold torchvision's Mask R-CNN (ResNet-50 FPN, 91 COCO classes) weights "
                        f"({reason}): pass such a state dict, or --weights DEFAULT") from err  # fmt: skip
    return model


def select_instances(detections: dict, category_id: int, score: float, max_instances: int) -> list[np.ndarray]:
    """Masks (bool (H, W)) of the detections of one category scoring at least ``score``, largest first."""
    keep = (detections["labels"] == category_id) & (detections["scores"] >= score)
    masks = (detections["masks"][keep, 0] >= 0.5).cpu().numpy()
    masks = [m for m in masks if m.any()]
    masks.sort(key=lambda m: -int(m.sum()))
    return masks[:max_instances]


@torch.no_grad()
def detect(detector: torch.nn.Module, image: torch.Tensor, category_id: int, score: float, max_instances: int) -> list:
    """The instance masks of a category in one image, uint8 (3, H, W): bool (H, W) each, largest first."""
    device = next(detector.parameters()).device
    detections = detector([image.float().div(255).to(device)])[0]
    return select_instances(detections, category_id, score, max_instances)
