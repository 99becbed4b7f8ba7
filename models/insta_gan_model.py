"""InstaGAN (Mo, Cho and Shin, ICLR 2019): instance-aware image-to-image translation.

Reads side by side with the paper:
- G_A: A -> B and G_B: B -> A translate an image together with its set of instance masks
  (``networks.ResnetSetGenerator``); D_A judges domain B, D_B judges domain A (``NLayerSetDiscriminator``).
- Losses of one direction (section 3.2): LSGAN, cycle consistency and identity mapping (``TwoDomainModel``) and the
  context-preserving loss (``extra_generator_losses``).
- Sequential mini-batch translation (section 3.3): the ``--ins_max`` selected instances are processed
  ``--ins_per`` at a time; each step starts from the image translated so far (``TwoDomainModel.translate_steps`` and
  ``advance``, shared by training and testing). In training, every step is followed by one G and one D update, which
  ``models.trainer.Trainer`` carries out: the model computes, the trainer updates.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from instagan.models import networks
from instagan.models.two_domain_model import Direction, Step, TwoDomainModel, split
from instagan.util import instance_set
from instagan.util.cli import UserError
from instagan.util.flags import at_least, non_negative


class InstaGANModel(TwoDomainModel):
    extra_loss_names = ("ctx",)
    needs_masks = True
    sequential = True
    speed_modes = frozenset({"channels_last", "compile", "cuda_graphs", "fuse_twins"})  # fixed-shape steps: set networks

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        parser = TwoDomainModel.modify_commandline_options(parser, is_train)
        parser.add_argument("--set_order", default="decreasing", choices=("decreasing", "random"), help="order of the instances")
        parser.add_argument(
            "--ins_max", default=4 if is_train else 20, help="instances translated per image (largest first)", **at_least(1)
        )
        parser.add_argument("--ins_per", default=2, help="instances per sequential step", **at_least(1))
        parser.add_argument(
            "--sn_update",
            default="per_instance",
            choices=("per_instance", "per_call"),
            help="spectral-norm power iterations of D's instance extractor: per instance (original) or per call",
        )
        if is_train:
            parser.add_argument(
                "--lambda_ctx", default=1.0, help="context-preserving loss weight, times lambda_A/B", **non_negative()
            )
        return parser

    def use_fixed_shapes(self, compiled: bool) -> None:
        """Every network call of a step with fixed shapes (``--cuda_graphs``): in a test pass the generators run as
        ``networks.FixedShapeStep``s, compiled whole; in training every network (``use_static_training``), its layer
        stacks compiled."""
        if self.isTrain:
            self.use_static_training(compiled)
        else:
            self.use_static_steps(compiled)

    def use_static_steps(self, compiled: bool) -> None:
        """Test passes with fixed shapes per step (``networks.FixedShapeStep``), compiled for CUDA graphs or not."""
        for src in "AB":
            if not hasattr(getattr(self, f"netG_{src}"), "forward_static"):
                raise UserError(f"--cuda_graphs needs InstaGAN's set networks; netG_{src} is "
                                f"{type(getattr(self, f'netG_{src}')).__name__}")  # fmt: skip
        self.static_steps = {src: networks.FixedShapeStep(getattr(self, f"netG_{src}"), compiled, keep_empty=False)
                             for src in "AB"}  # fmt: skip

    def use_static_training(self, compiled: bool, flag: str = "--cuda_graphs") -> None:
        """Training with fixed shapes: each network call of a step on the batch size's rows and every slot
        (``TwoDomainModel.run``); ``compiled``: each layer stack compiled for those shapes (CUDA graphs on a GPU).
        ``flag``: the one that asked for it, which a refusal names."""
        for name, net in self.networks().items():
            if not hasattr(net, "forward_static"):
                raise UserError(f"{flag} needs InstaGAN's set networks; net{name} is {type(net).__name__}")
        self.static_training = True
        if compiled:
            for net in self.networks().values():
                networks.compile_network(net, static=True)

    def use_fused_twins(self, compiled: bool = False) -> None:
        """Training with the twins fused (``--fuse_twins``): G_A and G_B run as one network, as do D_A and D_B
        (``networks.TwinSetGenerators``, ``TwinSetDiscriminators``), every call with fixed shapes
        (``use_static_training``). A step with nothing to translate in one direction runs the other's networks alone.
        ``compiled`` (``--cuda_graphs``): each fused layer stack compiled for its shapes, and each network for the
        steps it runs alone (CUDA graphs on a GPU)."""
        if not self.isTrain:
            raise UserError("--fuse_twins fuses the networks of a training step: it is a train.py flag")
        self.use_static_training(compiled, "--fuse_twins")
        run = networks.twins.compiled_run_stack() if compiled else networks.twins.run_stack
        try:
            self.twin_G = networks.TwinSetGenerators(self.netG_A, self.netG_B, run)
            self.twin_D = networks.TwinSetDiscriminators(self.netD_A, self.netD_B, run)
        except (TypeError, ValueError) as err:
            raise UserError(f"--fuse_twins: {err}") from err

    def make_discriminator(self, input_nc: int) -> nn.Module:
        o = self.opt
        return networks.define_D(input_nc, o.ndf, o.netD, o.n_layers_D, o.norm, o.init_type, o.init_gain, o.sn_update)

    def step_plan(self) -> list[slice]:
        """The mask slots of each sequential step: ``--ins_per`` of the ``--ins_max`` instances each."""
        return instance_set.step_slices(self.opt.ins_max, self.opt.ins_per)

    def select_instances(self, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return instance_set.select_and_rest(masks, self.opt.ins_max, self.opt.set_order)

    def active_samples(self, masks: torch.Tensor) -> torch.Tensor:
        """The samples with an instance among the step's masks ``masks`` (B, n, H, W)."""
        return instance_set.nonempty(masks).any(dim=1)

    def extra_generator_losses(self, d: Direction, step: Step) -> dict[str, torch.Tensor]:
        """The context-preserving loss: L1 between input and translated image outside every input and output instance."""
        opt = self.opt
        if opt.lambda_ctx <= 0:
            return {}
        (x_img, x_masks), (fake_img, fake_masks) = split(step.input), split(step.fake)
        weight = instance_set.context_weight(x_masks, fake_masks)
        return {f"ctx_{d.src}": torch.mean(weight * torch.abs(x_img - fake_img)) * d.lambda_cyc * opt.lambda_ctx}
