"""CycleGAN + Seg: the paper's architecture baseline (InstaGAN, section 4.3), CycleGAN with the instance masks as extra
channels.

The generator is CycleGAN's ResNet generator on ``3 + --seg_slots`` channels in and out (the image, then one channel
per instance mask), the discriminator CycleGAN's PatchGAN on the same channels: no set structure, so the masks' order
matters and their number is fixed by the architecture. An image's ``--seg_slots`` largest instances fill the channels,
largest first; a channel without an instance stays empty in the output, and the instances beyond ``--seg_slots`` are
not translated (``Translation.untranslated_masks``). Every image is translated whole in one step, as CycleGAN
translates it, with CycleGAN's losses (adversarial, cycle, identity) on image and masks together: no
context-preserving loss and no sequential steps, which are InstaGAN's. The paper gave this baseline larger networks
than InstaGAN's for a fair comparison: ``--ngf`` and ``--ndf`` choose them.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from instagan.models import networks
from instagan.models.networks.generators import RESNET_BLOCKS, ResnetGenerator
from instagan.models.two_domain_model import TwoDomainModel
from instagan.util import instance_set
from instagan.util.flags import at_least


class ResnetSegGenerator(ResnetGenerator):
    """CycleGAN's ResNet generator on an image and ``slots`` mask channels: (B, input_nc + slots, H, W) ->
    (B, output_nc + slots, H, W), the image and masks translated; a mask channel that is empty in the input is empty
    in the output (state-dict keys are ResnetGenerator's)."""

    def __init__(self, input_nc: int, output_nc: int, slots: int, **kwargs) -> None:
        super().__init__(input_nc + slots, output_nc + slots, **kwargs)
        self.input_nc, self.output_nc = input_nc, output_nc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        segs = x[:, self.input_nc :]
        keep = instance_set.nonempty(segs)[:, :, None, None]
        return torch.cat([y[:, : self.output_nc], torch.where(keep, y[:, self.output_nc :], segs)], dim=1)


class CycleGANSegModel(TwoDomainModel):
    needs_masks = True
    exportable = False  # (export.json describes set generators and plain ones)

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        parser = TwoDomainModel.modify_commandline_options(parser, is_train)
        parser.set_defaults(netG="resnet_9blocks", netD="basic", dataset_mode="unaligned_seg")
        parser.add_argument(
            "--seg_slots",
            default=4,
            help="instance masks as channels of the networks (architecture: fixed by training); an image's largest "
            "instances fill them, the others are not translated",
            **at_least(1),
        )
        if is_train:
            parser.set_defaults(lambda_idt=0.5)
        return parser

    def __init__(self, opt: argparse.Namespace, device: torch.device) -> None:
        if opt.netG not in RESNET_BLOCKS or opt.netD == "set":
            raise ValueError(f"--model cycle_gan_seg is CycleGAN's networks with the masks as channels: use --netG "
                             f"{' or '.join(RESNET_BLOCKS)} and --netD basic or n_layers")  # fmt: skip
        super().__init__(opt, device)

    def make_generator(self, input_nc: int, output_nc: int) -> nn.Module:
        o = self.opt
        net = ResnetSegGenerator(input_nc, output_nc, o.seg_slots, ngf=o.ngf, norm_layer=networks.get_norm_layer(o.norm),
                                 use_dropout=not o.no_dropout, n_blocks=RESNET_BLOCKS[o.netG], upsample=o.upsample,
                                 context_skip=o.context_skip)  # fmt: skip
        networks.init_weights(net, o.init_type, o.init_gain)
        return net

    def make_discriminator(self, input_nc: int) -> nn.Module:
        return super().make_discriminator(input_nc + self.opt.seg_slots)

    def step_plan(self) -> list[slice]:
        """One step over every mask channel."""
        return [slice(0, self.opt.seg_slots)]

    def select_instances(self, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return instance_set.select_and_rest(masks, self.opt.seg_slots, "decreasing")
