"""CycleGAN (Zhu et al., ICCV 2017): the paper's baseline, translating whole images without instances.

``TwoDomainModel`` as it is: one step per image in which every sample is translated, ResNet generators and PatchGAN
discriminators, LSGAN + cycle + identity losses; images only (``--dataset_mode unaligned``).
"""

from __future__ import annotations

import argparse

import torch

from instagan.models.two_domain_model import TwoDomainModel


class CycleGANModel(TwoDomainModel):
    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        parser = TwoDomainModel.modify_commandline_options(parser, is_train)
        parser.set_defaults(netG="resnet_9blocks", netD="basic", dataset_mode="unaligned")
        if is_train:
            parser.set_defaults(lambda_idt=0.5)
        return parser

    def __init__(self, opt: argparse.Namespace, device: torch.device) -> None:
        if opt.netG == "set" or opt.netD == "set":
            raise ValueError("--model cycle_gan translates images only: use --netG resnet_9blocks and --netD basic")
        super().__init__(opt, device)
