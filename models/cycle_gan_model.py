"""CycleGAN (Zhu et al., ICCV 2017): the paper's baseline, as InstaGAN without instances.

The same model code with no masks: one step per image in which every sample is translated, plain ResNet
generators and PatchGAN discriminators, LSGAN + cycle + identity losses, no context loss.
"""

from __future__ import annotations

import argparse

import torch

from instagan.models.insta_gan_model import InstaGANModel


class CycleGANModel(InstaGANModel):
    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        parser = InstaGANModel.modify_commandline_options(parser, is_train)
        parser.set_defaults(netG="resnet_9blocks", netD="basic", dataset_mode="unaligned", ins_max=0)
        if is_train:
            parser.set_defaults(lambda_idt=0.5, lambda_ctx=0.0)
        return parser

    def __init__(self, opt: argparse.Namespace, device: torch.device) -> None:
        if opt.netG == "set" or opt.netD == "set":
            raise ValueError("--model cycle_gan translates images only: use --netG resnet_9blocks and --netD basic")
        if opt.isTrain and opt.lambda_ctx > 0:
            raise ValueError("--model cycle_gan has no instance masks, so no context loss: leave --lambda_ctx at 0")
        if getattr(opt, "paste_background", False):
            raise ValueError("--paste_background needs instance masks: use it with --model insta_gan")
        opt.ins_max = 0
        super().__init__(opt, device)
        self.loss_names = ["D_A", "G_A", "cyc_A", "idt_A", "D_B", "G_B", "cyc_B", "idt_B"]
        self.visual_names = [
            f"{kind}_{d}_img" for s, t in (("A", "B"), ("B", "A")) for kind, d in (("real", s), ("fake", t), ("rec", s))
        ]

    def step_plan(self) -> list[slice]:
        return [slice(0, 0)]  # one step, no mask slots

    def active_samples(self, segs: torch.Tensor) -> torch.Tensor:
        return torch.ones(segs.shape[0], dtype=torch.bool, device=segs.device)
