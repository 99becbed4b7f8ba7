"""What every model shares: networks by name, losses and visuals by name, weight files."""

from __future__ import annotations

import argparse
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from instagan.models import networks
from instagan.util import checkpoint
from instagan.util.cli import UserError
from instagan.util.devices import autocast_dtype


class BaseModel:
    """Subclasses fill ``loss_names`` and ``model_names`` and define ``set_input``, ``get_current_visuals`` and
    ``forward``; a trainable model also gives ``generator_networks`` / ``discriminator_networks`` and the
    losses of a training step (see ``InstaGANModel``), which ``models.trainer.Trainer`` optimises.
    Network ``X`` lives in ``self.netX``."""

    def __init__(self, opt: argparse.Namespace, device: torch.device) -> None:
        self.opt = opt
        self.isTrain = opt.isTrain
        self.device = device
        self.save_dir = Path(opt.checkpoints_dir) / opt.name
        self.loss_names: list[str] = []
        self.model_names: list[str] = []
        self.current_losses: dict[str, float] = {}

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        return parser

    def set_input(self, batch: dict) -> None:
        raise NotImplementedError

    def forward(self) -> None:
        raise NotImplementedError

    def networks(self) -> dict[str, nn.Module]:
        return {name: getattr(self, f"net{name}") for name in self.model_names}

    def setup(self) -> None:
        """Load the ``--epoch`` weights for testing; compile the networks with ``--compile`` (after loading);
        print them with ``--verbose``."""
        if not self.isTrain:
            self.load_networks(self.opt.epoch)
        if getattr(self.opt, "compile", False):
            for net in self.networks().values():
                networks.compile_network(net)
        if self.opt.verbose:
            for name, net in self.networks().items():
                print(f"[{name}] {sum(p.numel() for p in net.parameters()) / 1e6:.3f} M parameters\n{net}")

    def eval(self) -> None:
        for net in self.networks().values():
            net.eval()

    def train(self) -> None:
        for net in self.networks().values():
            net.train()

    def test(self) -> None:
        """Translate the current input without gradients, in ``--precision`` (autocast for bf16 and fp16)."""
        dtype = autocast_dtype(getattr(self.opt, "precision", "fp32"))
        with torch.no_grad(), torch.autocast(self.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            self.forward()

    def get_current_losses(self) -> OrderedDict[str, float]:
        """The losses of the last training step (set by the trainer), in ``loss_names`` order; 0 when not computed."""
        return OrderedDict((name, float(self.current_losses.get(name, 0.0))) for name in self.loss_names)

    def get_current_visuals(self) -> OrderedDict[str, torch.Tensor]:
        """The images of the last pass by name, for the training page."""
        raise NotImplementedError

    @staticmethod
    def set_requires_grad(nets: list[nn.Module], requires_grad: bool) -> None:
        for net in nets:
            for param in net.parameters():
                param.requires_grad_(requires_grad)

    # weights -----------------------------------------------------------------------------------
    def network_files(self, tag: str | int) -> dict[str, dict[str, torch.Tensor]]:
        """``<tag>_net_<name>.pth`` -> the network's state dict on the CPU: the weight files of a checkpoint."""
        return {
            f"{tag}_net_{name}.pth": {k: v.detach().cpu() for k, v in net.state_dict().items()}
            for name, net in self.networks().items()
        }

    def load_networks(self, epoch: str | int) -> None:
        """Load ``<epoch>_net_<name>.pth``; files written by the original implementation load as well.

        The files are checked against their checkpoint's manifest; a file that does not fit these networks is
        refused naming the flags it was trained with (from the run's ``train_opt.json``)."""
        names = [f"{epoch}_net_{name}.pth" for name in self.networks()]
        for name in names:
            if not (self.save_dir / name).is_file():
                raise FileNotFoundError(
                    f"{self.save_dir / name} not found: train first, or check --checkpoints_dir, --name and --epoch "
                    f"(found: {', '.join(sorted(p.name for p in self.save_dir.glob('*_net_*.pth'))) or 'nothing'})"
                )
        checkpoint.verify(self.save_dir, epoch, names)
        for (name, net), file in zip(self.networks().items(), names):
            path = self.save_dir / file
            state = checkpoint.load_file(path, self.device)
            try:
                net.load_state_dict(networks.load_original_state_dict(state))
            except (RuntimeError, KeyError, AttributeError) as err:
                flags = checkpoint.differing_flags(self.opt, self.save_dir / "train_opt.json")
                hint = f"it was trained with {flags}" if flags else "check --ngf/--ndf/--n_blocks/--netG/--netD"
                raise UserError(f"{path} does not fit --model {self.opt.model} --net{name[0]} with these sizes: {hint}") from err
            if not all(torch.isfinite(p).all() for p in net.parameters()):
                raise UserError(f"{path} holds weights that are not finite (a run that diverged): use another --epoch")

    # what a model adds to a training checkpoint ----------------------------------------------------
    def extra_state(self) -> dict:
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass
