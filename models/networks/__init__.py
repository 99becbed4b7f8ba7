"""The networks, one kind per module, found by name from ``--netG`` / ``--netD`` (``GENERATORS``,
``DISCRIMINATORS``: a new network is a class and an entry there).

The set-aware networks keep the original implementation's module names and ``nn.Sequential`` indices, so
checkpoints written by the authors' code load directly (``original.load_original_state_dict``).

- ``generators``: InstaGAN's set-aware ResNet generator, CycleGAN's ResNet generator (``define_G``); a step of the set
  generator with fixed shapes, for export and CUDA graphs (``FixedShapeStep``)
- ``discriminators``: the set-aware PatchGAN with spectral norm, CycleGAN's PatchGAN (``define_D``)
- ``twins``: G_A and G_B (D_A and D_B) run as one network, for ``--fuse_twins``
- ``spectral_norm``: spectral normalisation with the original's power iteration
- ``layers``: normalisation layers, initialisation, the CPU's faster few-output convolution
- ``losses``: the GAN loss; ``schedulers``: learning-rate schedules; ``compile``: torch.compile of the stacks
- ``original``: the authors' checkpoint keys
"""

from instagan.models.networks.compile import compile_network
from instagan.models.networks.discriminators import DISCRIMINATORS, NLayerDiscriminator, NLayerSetDiscriminator, define_D
from instagan.models.networks.generators import (
    GENERATORS,
    FixedShapeStep,
    ResnetGenerator,
    ResnetSetGenerator,
    define_G,
)
from instagan.models.networks.layers import FewOutputsConv2d, get_norm_layer, init_weights
from instagan.models.networks.losses import GANLoss
from instagan.models.networks.original import load_original_state_dict
from instagan.models.networks.schedulers import get_scheduler
from instagan.models.networks.spectral_norm import spectral_norm
from instagan.models.networks.twins import TwinSetDiscriminators, TwinSetGenerators

__all__ = [
    "DISCRIMINATORS",
    "GENERATORS",
    "FewOutputsConv2d",
    "FixedShapeStep",
    "GANLoss",
    "NLayerDiscriminator",
    "NLayerSetDiscriminator",
    "ResnetGenerator",
    "ResnetSetGenerator",
    "TwinSetDiscriminators",
    "TwinSetGenerators",
    "compile_network",
    "define_D",
    "define_G",
    "get_norm_layer",
    "get_scheduler",
    "init_weights",
    "load_original_state_dict",
    "spectral_norm",
]
