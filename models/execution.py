"""How a model's networks run, apart from what they compute: eager (the default), channels-last memory
(``--channels_last``), compiled (``--compile``), with fixed shapes replayed as CUDA graphs (``--cuda_graphs``), and in
training with the twin networks fused (``--fuse_twins``: G_A and G_B as one network, D_A and D_B as another).

A model says which of these it runs with (``speed_modes``); ``refusal`` is what the options say about a mode it does
not, at parse time; ``prepare`` applies the chosen ones once the weights are loaded. The fixed shapes are the set
networks' ``forward_static``: the step that the test pass and export.py run (``networks.FixedShapeStep``), and every
network call of a training step (``TwoDomainModel.run``, which pads the samples to the batch size).
"""

from __future__ import annotations

import argparse
from typing import Any

from instagan.models import networks

SPEED_MODES = ("channels_last", "compile", "cuda_graphs", "fuse_twins")


def refusal(opt: argparse.Namespace, model: Any, is_train: bool) -> str | None:
    """Why the speed flags of ``opt`` cannot run with ``model`` (its class), or None."""
    for mode in SPEED_MODES:
        if getattr(opt, mode, False) and mode not in model.speed_modes:
            others = "".join(f" or with --{m}" for m in SPEED_MODES if m in model.speed_modes)
            return f"--{mode} is not available with --model {opt.model}: it runs eager{others}"
    if getattr(opt, "cuda_graphs", False) and opt.norm == "batch" and (is_train or not getattr(opt, "eval", False)):
        return ("--cuda_graphs pads each step with blank samples, which batch norm would count in its statistics: use "
                "--norm instance (InstaGAN's), or --eval for a test pass")  # fmt: skip
    if getattr(opt, "fuse_twins", False) and opt.norm == "batch":
        return ("--fuse_twins pads each step with blank samples, which batch norm would count in its statistics, and "
                "has no fused form of its parameters and running statistics: use --norm instance (InstaGAN's)")  # fmt: skip
    if getattr(opt, "fuse_twins", False) and opt.compile:
        return "--fuse_twins runs with fixed shapes: leave out --compile, or compile them with --cuda_graphs"
    return None


def prepare(model: Any) -> None:
    """Lay the networks out as ``--channels_last`` asks; then ``--fuse_twins``: the twins fused, with fixed shapes
    (``model.use_fused_twins``; with ``--cuda_graphs`` compiled for CUDA graphs); or ``--cuda_graphs``: fixed
    shapes, compiled for CUDA graphs (``model.use_fixed_shapes``); or ``--compile``: each network compiled."""
    opt = model.opt
    for net in model.networks().values():
        net.to(memory_format=model.memory_format)
    if getattr(opt, "fuse_twins", False):
        model.use_fused_twins(compiled=getattr(opt, "cuda_graphs", False))
    elif getattr(opt, "cuda_graphs", False):
        model.use_fixed_shapes(compiled=True)
    elif getattr(opt, "compile", False):
        for net in model.networks().values():
            networks.compile_network(net)
