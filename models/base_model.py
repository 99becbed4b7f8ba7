"""What every model shares: networks by name, losses and visuals by name, weight files."""

from __future__ import annotations

import argparse
from collections import OrderedDict

import torch
from torch import nn

from instagan.models import checkpoint, execution
from instagan.models.run import Run
from instagan.util.cli import UserError
from instagan.util.devices import autocast_dtype


class BaseModel:
    """Subclasses fill ``loss_names`` and ``model_names`` and define ``set_input``, ``get_current_visuals`` and
    ``forward``; a trainable model also gives its training recipe (``training_recipe``: its updates, their networks,
    losses and optimizers; see ``TwoDomainModel``), which ``models.trainer.Trainer`` carries out.
    Network ``X`` lives in ``self.netX``. What the model can do, for the code around it: ``needs_masks``, it translates
    instance masks, so its data must carry them (the options check it against ``--dataset_mode``); ``sequential``, it
    translates them a few at a time (``--ins_max``, ``--ins_per``); ``exportable``, export.py can write its
    generators; ``speed_modes``, the speed flags it runs with (``models.execution``; the options refuse the others by
    name), ``cuda_graphs`` through ``use_fixed_shapes``."""

    needs_masks = False
    sequential = False
    exportable = True
    speed_modes = frozenset({"channels_last", "compile"})

    def __init__(self, opt: argparse.Namespace, device: torch.device) -> None:
        self.opt = opt
        self.isTrain = opt.isTrain
        self.device = device
        self.run_folder = Run.of(opt)  # its options and checkpoints
        self.loss_names: list[str] = []
        self.model_names: list[str] = []
        self.current_losses: dict[str, float] = {}
        # --channels_last: NHWC weights and inputs (the same numbers; convolutions without layout conversions)
        self.memory_format = torch.channels_last if getattr(opt, "channels_last", False) else torch.contiguous_format

    def to_device(self, x: torch.Tensor) -> torch.Tensor:
        """An input tensor (B, C, H, W) on the model's device, in the networks' memory format."""
        return x.to(self.device).contiguous(memory_format=self.memory_format)

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
        """Load the ``--epoch`` weights for testing; run the networks as the speed flags ask (``models.execution``:
        channels-last, compiled, CUDA graphs); print them with ``--verbose``."""
        if not self.isTrain:
            self.load_networks(self.opt.epoch)
        execution.prepare(self)
        if self.opt.verbose:
            for name, net in self.networks().items():
                print(f"[{name}] {sum(p.numel() for p in net.parameters()) / 1e6:.3f} M parameters\n{net}")

    def use_fixed_shapes(self, compiled: bool) -> None:
        """Run every network call with fixed shapes (``--cuda_graphs``), compiled for CUDA graphs if ``compiled``; a
        model whose ``speed_modes`` include ``cuda_graphs`` says how."""
        raise NotImplementedError(f"{type(self).__name__} does not run with fixed shapes")

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
    def load_networks(self, epoch: str | int) -> None:
        """Load the ``--epoch`` weight files of every network (``models.run.Run.load_weights``); with ``--ema`` the
        moving averages of their weights that train.py ``--ema_decay`` kept (``<epoch>_net_<name>_ema.pth``)."""
        nets = self.networks()
        if getattr(self.opt, "ema", False):
            nets = {f"{name}_ema": net for name, net in nets.items()}
            missing = self.run_folder.folder / checkpoint.weights_name(epoch, next(iter(nets)))
            if not missing.is_file():
                raise UserError(f"{missing} not found: --ema translates with the moving averages of the weights that "
                                "train.py keeps with --ema_decay, which this run did not: test without --ema")  # fmt: skip
        self.run_folder.load_weights(epoch, nets, self.opt, self.device)

    # what a model adds to a training checkpoint ----------------------------------------------------
    def extra_state(self) -> dict:
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass
