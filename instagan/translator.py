"""Trained generators, ready to translate: the Python interface to a run (test.py and translate.py use it too).

    from instagan.translator import Translator
    translator = Translator.from_checkpoint("checkpoints/shp2gir_coco_instagan", epoch=200, device="cuda")
    result = translator.translate(Image.open("sheep.png"), [Image.open("sheep_0.png"), Image.open("sheep_1.png")])
    result.translated       # (1, 3, H, W) in [-1, 1]; result.translated_masks (1, 2, H, W); see Translation

``from_checkpoint`` reads the architecture from the run's ``train_opt.json`` (files of the authors' code have none:
pass ``ngf=...`` and the like, or rely on the paper's defaults).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from instagan.data.base_dataset import build_transform, transform_image_and_masks
from instagan.data.image_folder import pil_to_mask, pil_to_uint8, upright
from instagan.models import create_model, find_model_using_name
from instagan.models.run import Run
from instagan.models.two_domain_model import Translation, TwoDomainModel
from instagan.util import instance_set
from instagan.util.cli import UserError

ImageLike = Image.Image | np.ndarray | torch.Tensor


def _uint8(image: ImageLike, channels: int, what: str) -> torch.Tensor:
    """A PIL image, an (H, W[, C]) array or an ([C,] H, W) tensor -> uint8 (C, H, W). Pixels are uint8 (0-255), bool,
    or float in [0, 1] (what torchvision's ToTensor gives); anything else is refused, naming ``what``."""
    if isinstance(image, Image.Image):  # read as the data sets read files: upright, every mode and bit depth
        image = upright(image)
        image = pil_to_uint8(image) if channels == 3 else pil_to_mask(image)
    if isinstance(image, np.ndarray):
        image = torch.from_numpy(np.array(image))
        image = image.permute(2, 0, 1) if image.dim() == 3 else image
    if image.dim() == 2:
        image = image[None]
    if image.dtype == torch.bool:
        image = image.to(torch.uint8) * 255
    elif image.is_floating_point():
        low, high = (float(image.min()), float(image.max())) if image.numel() else (0.0, 0.0)
        if low < 0 or high > 1:
            raise ValueError(f"{what}: float values from {low:.3g} to {high:.3g}; floats must lie in [0, 1] (as ToTensor "
                             "gives them); for [-1, 1], as this package returns images and masks, pass (x + 1) / 2")  # fmt: skip
        image = (image * 255).round().to(torch.uint8)
    elif image.dtype != torch.uint8:
        raise ValueError(f"{what}: {image.dtype} pixels; give uint8 (0-255), bool or float in [0, 1]")
    return image[:channels] if image.shape[0] >= channels else image.expand(channels, *image.shape[1:])


def size_fits(size: Sequence[int]) -> bool:
    """Whether (H, W) is a size the generators take: each side a multiple of 4 (they halve it twice), at least 4."""
    return len(size) == 2 and all(v >= 4 and v % 4 == 0 for v in size)


class Translator:
    """A model's generators in test mode; ``translate`` one image with its masks, or ``translate_batch`` a loader's."""

    def __init__(self, model: TwoDomainModel, opt: argparse.Namespace) -> None:
        self.model, self.opt = model, opt
        self.paste_dilation = opt.paste_dilation if getattr(opt, "paste_background", False) else None
        if self.paste_dilation is not None and model.slots == 0:
            raise UserError(f"--paste_background needs instance masks, which --model {opt.model} does not translate: use "
                            "it with --model insta_gan")  # fmt: skip

    @classmethod
    def from_options(cls, opt: argparse.Namespace) -> Translator:
        """The generators of ``--checkpoints_dir/--name`` at ``--epoch``, as test.py's options describe them."""
        from instagan.util.devices import resolve_device

        model = create_model(opt, resolve_device(opt.gpu_ids))
        model.setup()
        if getattr(opt, "eval", False):
            model.eval()
        return cls(model, opt)

    @classmethod
    def from_checkpoint(
        cls,
        run_dir: str | Path,
        epoch: str | int = "latest",
        *,
        device: str | torch.device | None = None,
        precision: str = "fp32",
        ins_max: int = 20,
        ins_per: int = 2,
        paste_background: bool = False,
        **flags,
    ) -> Translator:
        """The generators saved in ``run_dir`` (``<epoch>_net_G_A.pth`` and ``_G_B``), with the architecture of the run's
        train_opt.json; ``flags`` (``ngf=64``, ``model="cycle_gan"``, ...) give what a run without one needs (the
        authors' files), or other test options. A flag that contradicts the run's train_opt.json is an
        ``ArchitectureMismatch`` (a ValueError)."""
        from instagan.options.test_options import TestOptions

        run_dir = Path(run_dir)
        run = Run(run_dir)
        saved = run.architecture()
        run.check(flags, saved)
        options = {k: v for k, v in flags.items() if k not in saved}  # the run's own values come from its train_opt.json
        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        values = {"dataroot": "unused", "checkpoints_dir": str(run_dir.parent), "name": run_dir.name, "epoch": str(epoch),
                  "gpu_ids": str(device.index or 0) if device.type == "cuda" else "-1", "precision": precision}  # fmt: skip
        if find_model_using_name({**saved, **flags}.get("model", "insta_gan")).sequential:
            values.update(ins_max=ins_max, ins_per=ins_per)
        return cls.from_options(TestOptions().parse([], {**values, "paste_background": paste_background, **options}))

    def translate_batch(self, batch: dict) -> list[Translation]:
        """A data loader's batch (``A``, ``A_segs``, ``A_paths``, and/or the same for ``B``) -> one Translation per
        direction; with ``--paste_background`` the input's pixels are kept outside the instances."""
        self.model.set_input(batch)
        translations = self.model.translate()
        if self.paste_dilation is not None:
            for t in translations:
                t.translated = instance_set.paste_background(
                    t.source, t.translated, t.source_masks, t.translated_masks, self.paste_dilation
                )
        return translations

    def translate(
        self,
        image: ImageLike,
        masks: Sequence[ImageLike] = (),
        direction: str = "AtoB",
        instances: Sequence[int] | None = None,
        size: tuple[int, int] | None = None,
        path: str = "image",
    ) -> Translation:
        """Translate one image with its instance masks (each a PIL image, an (H, W) array or tensor).

        The image and masks are uint8 (0-255), bool, or float in [0, 1] (torchvision's ToTensor); a mask is inside
        where it is above half (above 127, or 0.5 for floats); anything else raises ValueError.

        ``direction`` AtoB uses G_A, BtoA G_B. ``instances`` picks the masks to translate (by index); the others keep
        their pixels: the generator sees them as background, and they are pasted back from the input where no
        translated instance covers them. ``size`` (H, W), multiples of 4, resizes first; without it the image keeps its
        own size, the sides rounded to multiples of 4.
        The result's masks are the chosen instances, largest first, (1, chosen, H, W) in [-1, 1] (at most the model's
        ``--ins_max``, or ``--seg_slots`` for cycle_gan_seg; the rest, and the instances not chosen, are its
        ``untranslated_masks``). Images are (1, 3, H, W) in [-1, 1]: ``instagan.util.images.tensor2im`` turns one into a
        uint8 (H, W, 3) array for PIL.
        """
        if direction not in ("AtoB", "BtoA"):
            raise ValueError(f"direction {direction!r}: use AtoB or BtoA")
        if size is not None and not size_fits(size):
            raise ValueError(f"size {tuple(size)}: give (H, W), each a multiple of 4 (the generators halve it twice)")
        picked = list(range(len(masks))) if instances is None else list(instances)
        if any(not 0 <= k < len(masks) for k in picked):
            raise ValueError(f"instances {picked}: there are {len(masks)} masks, numbered from 0")
        pixels = _uint8(image, 3, "the image")
        order = picked + [k for k in range(len(masks)) if k not in picked]  # the chosen ones, then the others
        binary = [(_uint8(masks[k], 1, f"mask {k}")[0] > 127).to(torch.uint8) * 255 for k in order]
        for k, mask in zip(order, binary):
            if mask.shape != pixels.shape[1:]:
                raise ValueError(f"mask {k} is {tuple(mask.shape)} but the image is {tuple(pixels.shape[1:])} (H, W)")
        stacked = torch.stack(binary) if binary else torch.zeros(0, *pixels.shape[1:], dtype=torch.uint8)
        h, w = size or pixels.shape[1:]
        mode = "none" if size is None else "resize_and_crop"  # none: sides rounded to multiples of 4
        sizes = {"loadSizeH": h, "loadSizeW": w, "fineSizeH": h, "fineSizeW": w}
        transform = build_transform(argparse.Namespace(resize_or_crop=mode, no_flip=True, **sizes), train=False)
        img, segs = transform_image_and_masks(pixels, stacked, transform, max(1, len(order)))  # one transform for all
        n = len(picked)
        chosen, others = segs[: max(1, n)] if n else segs[:1].clone().fill_(instance_set.EMPTY), segs[n : len(order)]
        key = direction[0]
        result = self.translate_batch({key: img[None], f"{key}_segs": chosen[None], f"{key}_paths": [path]})[0]
        # the chosen instances, largest first; the remaining slots are empty
        result.source_masks, result.translated_masks = result.source_masks[:, :n], result.translated_masks[:, :n]
        result.reconstructed_masks = result.reconstructed_masks[:, :n]
        result.slot_steps = result.slot_steps[:n]
        if len(others):
            keep = (instance_set.merge(others[None]) > 0) & (instance_set.merge(result.translated_masks) <= 0)
            result.translated = torch.where(keep, result.source, result.translated)
            left = result.untranslated_masks if result.untranslated_masks is not None else others[None, :0]
            result.untranslated_masks = torch.cat([left, others[None].to(left)], dim=1)
        return result
