"""A template for a new model: copy this file to ``models/<name>_model.py``, rename the class to ``<Name>Model`` and
fill in the parts marked TODO; ``--model <name>`` then finds it (``models/__init__.py``).

As written it is a working model: CycleGAN's two-domain translation (``TwoDomainModel``) plus one extra loss, an L1
pull of the translation towards its input weighted by ``--lambda_template``, to show where each part goes. The
trainer (``models/trainer.py``) carries out the model's training recipe (``training_recipe``; a ``TwoDomainModel``'s
is one generator update and one discriminator update per sequential step: override it for another), with mixed
precision, compile and DDP for free.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from instagan.models import networks
from instagan.models.two_domain_model import Direction, Step, TwoDomainModel, split
from instagan.util.flags import non_negative


class TemplateModel(TwoDomainModel):
    extra_loss_names = ("template",)  # TODO: the names of your own losses (logged as <name>_A and <name>_B)

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        """Add the model's own flags and change defaults; flags of other models are not there."""
        parser = TwoDomainModel.modify_commandline_options(parser, is_train)
        parser.set_defaults(netG="resnet_6blocks", netD="basic", dataset_mode="unaligned")  # TODO: your defaults
        if is_train:
            parser.add_argument("--lambda_template", default=0.5, help="TODO: the weight of your loss", **non_negative())
        return parser

    def make_generator(self, input_nc: int, output_nc: int) -> nn.Module:
        """TODO: the generator (G_A and G_B are built with this); see models/networks."""
        o = self.opt
        return networks.define_G(input_nc, output_nc, o.ngf, o.netG, o.norm, not o.no_dropout, o.init_type, o.init_gain)

    def extra_generator_losses(self, d: Direction, step: Step) -> dict[str, torch.Tensor]:
        """TODO: your losses of one step for direction d (src -> tgt); the trainer adds them to G's."""
        (real, _), (fake, _) = split(step.input), split(step.fake)
        return {f"template_{d.src}": torch.mean(torch.abs(fake - real)) * self.opt.lambda_template}
