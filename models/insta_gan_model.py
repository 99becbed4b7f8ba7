"""InstaGAN (Mo, Cho and Shin, ICLR 2019): instance-aware image-to-image translation.

Reads side by side with the paper:
- G_A: A -> B and G_B: B -> A translate an image together with its set of instance masks
  (``networks.ResnetSetGenerator``); D_A judges domain B, D_B judges domain A (``NLayerSetDiscriminator``).
- Losses of one direction (section 3.2): LSGAN, cycle consistency, identity mapping and the
  context-preserving loss, returned by ``generator_losses`` / ``discriminator_loss``.
- Sequential mini-batch translation (section 3.3): the ``--ins_max`` selected instances are processed
  ``--ins_per`` at a time; each step starts from the image translated so far (``sequence``, shared by
  training and testing). In training, every step is followed by one G and one D update, which
  ``models.trainer.Trainer`` carries out: the model computes, the trainer updates.

Batches: every sample keeps its own instance set. A sample with no instance in a step is not
translated in that step and gives no loss there; a sample with no instance at all passes through.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from instagan.models import networks
from instagan.models.base_model import BaseModel
from instagan.models.image_pool import ImagePool
from instagan.util import instance_set


@dataclass
class Direction:
    """One translation direction, src -> tgt, and its state during a sequence of steps.

    Images are (B, 3, H, W) and masks (B, n, H, W), all in [-1, 1].
    """

    src: str
    tgt: str
    G: nn.Module  # src -> tgt
    G_back: nn.Module  # tgt -> src
    real_img: torch.Tensor
    real_segs: torch.Tensor  # (B, ins_max, H, W): the selected instances, in processing order
    D: nn.Module | None = None  # judges domain tgt
    pool: ImagePool | None = None
    lambda_cyc: float = 10.0
    # the sequence so far
    current_img: torch.Tensor | None = None  # translated so far, detached
    fake_segs: list[torch.Tensor] = field(default_factory=list)  # per step (B, n, H, W), detached
    rec_segs: list[torch.Tensor] = field(default_factory=list)
    rec_img: torch.Tensor | None = None  # reconstruction at each sample's first translated step
    paths: list[str] = field(default_factory=list)  # source image files


@dataclass
class Step:
    """The live outputs of one direction in one sequential step, for its active samples only.

    ``active`` (B,) marks the samples with an instance in this step; the other tensors have
    k = active.sum() rows: ``real`` and ``fake`` / ``rec`` are (k, 3 + n, H, W), ``fake_all`` is the
    translated image with all masks translated so far, padded with empty slots: (k, 3 + ins_max, H, W).
    ``idt`` (training only) is G_back applied to ``real``, for the identity loss. All are float32, whatever the
    precision the networks ran in.
    """

    active: torch.Tensor
    real: torch.Tensor
    fake: torch.Tensor
    rec: torch.Tensor
    fake_all: torch.Tensor
    idt: torch.Tensor | None = None

    @property
    def any(self) -> bool:
        return bool(self.active.any())

    @property
    def rows(self) -> torch.Tensor:
        return self.active.nonzero(as_tuple=True)[0]


def split(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3 + N, H, W) -> image (B, 3, H, W), masks (B, N, H, W)."""
    return x[:, :3], x[:, 3:]


class InstaGANModel(BaseModel):
    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        parser.add_argument("--set_order", default="decreasing", choices=("decreasing", "random"), help="order of the instances")
        parser.add_argument(
            "--ins_max", type=int, default=4 if is_train else 20, help="instances translated per image (largest first)"
        )
        parser.add_argument("--ins_per", type=int, default=2, help="instances per sequential step")
        parser.add_argument(
            "--sn_update",
            default="per_instance",
            choices=("per_instance", "per_call"),
            help="spectral-norm power iterations of D's instance extractor: per instance (original) or per call",
        )
        if is_train:
            parser.add_argument("--lambda_A", type=float, default=10.0, help="weight of the cycle loss A -> B -> A")
            parser.add_argument("--lambda_B", type=float, default=10.0, help="weight of the cycle loss B -> A -> B")
            parser.add_argument("--lambda_idt", type=float, default=1.0, help="identity loss weight, times lambda_A/B")
            parser.add_argument("--lambda_ctx", type=float, default=1.0, help="context-preserving loss weight, times lambda_A/B")
        return parser

    def __init__(self, opt: argparse.Namespace, device: torch.device) -> None:
        super().__init__(opt, device)
        self.steps = self.step_plan()
        self.loss_names = ["D_A", "G_A", "cyc_A", "idt_A", "ctx_A", "D_B", "G_B", "cyc_B", "idt_B", "ctx_B"]
        self.visual_names = [
            f"{kind}_{d}_{part}"
            for src, tgt in (("A", "B"), ("B", "A"))
            for part in ("img", "seg")
            for kind, d in (("real", src), ("fake", tgt), ("rec", src))
        ]
        self.model_names = ["G_A", "G_B", "D_A", "D_B"] if self.isTrain else ["G_A", "G_B"]

        def generator(input_nc: int, output_nc: int) -> nn.Module:
            return networks.define_G(
                input_nc, output_nc, opt.ngf, opt.netG, opt.norm, not opt.no_dropout, opt.init_type, opt.init_gain, opt.n_blocks
            ).to(device)

        self.netG_A = generator(opt.input_nc, opt.output_nc)
        self.netG_B = generator(opt.output_nc, opt.input_nc)
        if self.isTrain:
            self.netD_A = networks.define_D(
                opt.output_nc, opt.ndf, opt.netD, opt.n_layers_D, opt.norm, opt.init_type, opt.init_gain, opt.sn_update
            ).to(device)
            self.netD_B = networks.define_D(
                opt.input_nc, opt.ndf, opt.netD, opt.n_layers_D, opt.norm, opt.init_type, opt.init_gain, opt.sn_update
            ).to(device)
            self.fake_A_pool = ImagePool(opt.pool_size)
            self.fake_B_pool = ImagePool(opt.pool_size)
            self.criterionGAN = networks.GANLoss(use_lsgan=not opt.no_lsgan).to(device)
            self.criterionCyc = nn.L1Loss()
            self.criterionIdt = nn.L1Loss()

    def step_plan(self) -> list[slice]:
        """The mask slots of each sequential step."""
        return instance_set.step_slices(self.opt.ins_max, self.opt.ins_per)

    # input ---------------------------------------------------------------------------------------
    def set_input(self, batch: dict) -> None:
        """batch: ``A`` (B, 3, H, W), ``A_segs`` (B, N, H, W), ``A_paths``, the same for ``B``.

        ``--direction BtoA`` swaps the two domains, as in CycleGAN. A batch of one domain (single-domain
        testing) is translated by that domain's generator: ``A`` by G_A, ``B`` by G_B.
        """
        swap = self.opt.direction == "BtoA" and "A" in batch and "B" in batch
        self.directions: list[Direction] = []
        self.image_paths = []
        for src, tgt in (("A", "B"), ("B", "A")):
            key = {"A": "B", "B": "A"}[src] if swap else src
            if key not in batch:
                continue
            real_img = batch[key].to(self.device)
            segs = batch.get(f"{key}_segs", torch.empty(real_img.shape[0], 0, *real_img.shape[2:]))
            real_segs = instance_set.select(segs, self.opt.ins_max, self.opt.set_order).to(self.device)
            setattr(self, f"real_{src}_img", real_img)
            setattr(self, f"real_{src}_segs", real_segs)
            setattr(self, f"real_{src}_seg", instance_set.merge(real_segs))
            self.image_paths += list(batch[f"{key}_paths"])
            self.directions.append(self._direction(src, tgt, real_img, real_segs, list(batch[f"{key}_paths"])))

    def _direction(self, src: str, tgt: str, real_img: torch.Tensor, real_segs: torch.Tensor, paths: list[str]) -> Direction:
        d = Direction(src, tgt, getattr(self, f"netG_{src}"), getattr(self, f"netG_{tgt}"), real_img, real_segs, paths=paths)
        if self.isTrain:
            d.D = getattr(self, f"netD_{src}")
            d.pool = getattr(self, f"fake_{tgt}_pool")
            d.lambda_cyc = getattr(self.opt, f"lambda_{src}")
        return d

    # the sequential translation --------------------------------------------------------------------
    def sequence(
        self, identity: bool = False, context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    ) -> Iterator[list[Step]]:
        """Translate every direction step by step, yielding each step's live outputs (one Step per direction).

        The next step starts from the image translated so far, once the caller (the trainer, after its updates)
        asks for it. ``identity`` also computes the identity mapping of each step, for the identity loss;
        the networks run inside ``context()`` (the trainer's mixed precision). Testing just exhausts it.
        """
        for d in self.directions:
            d.current_img, d.fake_segs, d.rec_segs, d.rec_img = d.real_img, [], [], d.real_img.clone()
        for index in range(len(self.steps)):
            with context():
                steps = [self.translate_step(d, index, identity) for d in self.directions]
            yield steps
            for d, step in zip(self.directions, steps):
                self._advance(d, step, index)
        self._collect_visuals()

    def translate_step(self, d: Direction, index: int, identity: bool = False) -> Step:
        """Step ``index`` of direction d: its samples with an instance in this step's chunk go through
        G (src -> tgt) and back (cycle), from the image translated so far.

        With ``identity``, G_back also maps the step's input (the identity loss) in the same call as the cycle:
        every sample is translated on its own (unless ``--norm batch``), so one call on both batches gives what
        two calls would, faster.
        """
        segs = d.real_segs[:, self.steps[index]]
        active = self.active_samples(segs)
        rows = active.nonzero(as_tuple=True)[0]
        all_rows = len(rows) == len(active)
        real = torch.cat([d.current_img if all_rows else d.current_img[rows], segs if all_rows else segs[rows]], dim=1)
        idt = None
        if len(rows):
            fake = d.G(real).float()
            if identity and self.opt.norm != "batch":  # batch norm would mix the two batches' statistics
                rec, idt = d.G_back(torch.cat([fake, real])).float().chunk(2)
            else:
                rec = d.G_back(fake).float()
        else:  # nothing to translate in this step: no network call on an empty batch
            fake = rec = idt = real
        done = [s if all_rows else s[rows] for s in d.fake_segs]
        fake_img, fake_segs = split(fake)
        fake_all = instance_set.pad_slots(torch.cat([fake_img, *done, fake_segs], dim=1), 3 + self.opt.ins_max)
        return Step(active, real, fake, rec, fake_all, idt)

    def active_samples(self, segs: torch.Tensor) -> torch.Tensor:
        """(B,) bool: the samples translated in a step with masks ``segs`` (B, n, H, W): those with an instance."""
        return instance_set.nonempty(segs).any(dim=1)

    def _advance(self, d: Direction, step: Step, index: int) -> None:
        """Record a step's (detached) results: the next step starts from the translated image."""
        segs = d.real_segs[:, self.steps[index]]
        rows = step.rows
        fake_img, fake_segs = split(step.fake.detach())
        rec_img, rec_segs = split(step.rec.detach())
        if index == 0:
            d.rec_img = d.rec_img.index_copy(0, rows, rec_img)
        d.current_img = d.current_img.index_copy(0, rows, fake_img)
        d.fake_segs.append(segs.index_copy(0, rows, fake_segs))
        d.rec_segs.append(segs.index_copy(0, rows, rec_segs))

    def _collect_visuals(self) -> None:
        for d in self.directions:
            fake_segs = torch.cat(d.fake_segs, dim=1)
            fake_img = d.current_img
            if getattr(self.opt, "paste_background", False):
                fake_img = instance_set.paste_background(d.real_img, fake_img, d.real_segs, fake_segs, self.opt.paste_dilation)
            setattr(self, f"fake_{d.tgt}_img", fake_img)
            setattr(self, f"fake_{d.tgt}_segs", fake_segs)
            setattr(self, f"fake_{d.tgt}_seg", instance_set.merge(fake_segs))
            setattr(self, f"rec_{d.src}_img", d.rec_img)
            setattr(self, f"rec_{d.src}_seg", instance_set.merge(torch.cat(d.rec_segs, dim=1)))

    def forward(self) -> None:
        for _ in self.sequence():
            pass

    def result_directions(self) -> list[tuple[str, str, list[str]]]:
        return [(d.src, d.tgt, d.paths) for d in self.directions]

    # losses --------------------------------------------------------------------------------------
    def generator_losses(self, d: Direction, step: Step) -> dict[str, torch.Tensor]:
        """Losses of G for direction src -> tgt in one step, keyed by their original names."""
        opt = self.opt
        losses = {
            f"G_{d.src}": self.criterionGAN(d.D(step.fake_all), True),
            f"cyc_{d.src}": self.criterionCyc(step.rec, step.real) * d.lambda_cyc,
        }
        if opt.lambda_idt > 0:
            idt = d.G_back(step.real).float() if step.idt is None else step.idt
            losses[f"idt_{d.tgt}"] = self.criterionIdt(idt, step.real) * d.lambda_cyc * opt.lambda_idt
        if opt.lambda_ctx > 0:
            (x_img, x_segs), (fake_img, fake_segs) = split(step.real), split(step.fake)
            weight = instance_set.context_weight(x_segs, fake_segs)
            losses[f"ctx_{d.src}"] = torch.mean(weight * torch.abs(x_img - fake_img)) * d.lambda_cyc * opt.lambda_ctx
        return losses

    def discriminator_loss(self, d: Direction, step: Step, real_tgt: torch.Tensor) -> torch.Tensor:
        """LSGAN loss of the discriminator of domain tgt: real images with all their selected masks
        against translated ones drawn through the history pool."""
        fake = d.pool.query(step.fake_all.detach())
        loss_real = self.criterionGAN(d.D(real_tgt), True)
        loss_fake = self.criterionGAN(d.D(fake), False)
        return (loss_real + loss_fake) * 0.5

    # the losses of one step, for the trainer ----------------------------------------------------------
    def generator_networks(self) -> dict[str, nn.Module]:
        return {name: getattr(self, f"net{name}") for name in ("G_A", "G_B")}

    def discriminator_networks(self) -> dict[str, nn.Module]:
        return {name: getattr(self, f"net{name}") for name in ("D_A", "D_B")}

    def step_generator_losses(self, live: list[tuple[Direction, Step]]) -> dict[str, torch.Tensor]:
        """The losses of G for the directions with something to translate in a step (D is frozen meanwhile)."""
        losses: dict[str, torch.Tensor] = {}
        for d, step in live:
            losses.update(self.generator_losses(d, step))
        return losses

    def step_discriminator_losses(self, live: list[tuple[Direction, Step]]) -> dict[str, torch.Tensor]:
        """The losses of D for the directions with something to translate in a step, on the images translated in it."""
        real = {d.src: torch.cat([d.real_img, d.real_segs], dim=1) for d in self.directions}
        return {f"D_{d.src}": self.discriminator_loss(d, step, real[d.tgt]) for d, step in live}

    def live_directions(self, steps: list[Step]) -> list[tuple[Direction, Step]]:
        return [(d, step) for d, step in zip(self.directions, steps) if step.any]

    # checkpoint extras ---------------------------------------------------------------------------
    def extra_state(self) -> dict:
        return {"fake_A_pool": self.fake_A_pool.state_dict(), "fake_B_pool": self.fake_B_pool.state_dict()}

    def load_extra_state(self, state: dict) -> None:
        for name in ("fake_A_pool", "fake_B_pool"):
            if name in state:
                getattr(self, name).load_state_dict(state[name])
