"""torch.compile for the networks' layer stacks."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils import parametrize


def allow_recompiles(versions: int) -> None:
    """Let dynamo keep at least ``versions`` compiled versions of one code object (its default is 8)."""
    config = torch._dynamo.config
    limit = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    setattr(config, limit, max(getattr(config, limit), versions))


def compile_network(net: nn.Module, static: bool = False) -> nn.Module:
    """``torch.compile`` the layer stacks of a network in place (its ``nn.Sequential`` children: the encoders and
    decoders of a generator, the feature extractors and classifier of a discriminator); state-dict keys stay.

    The set logic between them (which slots hold an instance, the sum into the set feature) stays eager: its
    shapes depend on the data. Each stack's batch dimension (images, or instances: their number changes from step
    to step) is marked dynamic, so a new count does not recompile; batches of one are compiled once more.
    Spectral norm's power iteration updates u and v in place, which a compiled graph must not capture: each call
    computes the normalised weights eagerly first (one power iteration, as without compiling) and the compiled
    stack reads them from ``parametrize.cached()``.

    ``static`` (``--cuda_graphs``: the model calls every network with fixed shapes): no dynamic dimension, and
    ``mode="reduce-overhead"``, which on CUDA replays each stack as a CUDA graph.
    """
    # Every stack is an nn.Sequential, so all share one code object and one dynamo cache: the default limit of 8
    # compiled versions per code object is too few for the 14 stacks of InstaGAN's four networks.
    allow_recompiles(64)
    for child in net.children():
        if isinstance(child, nn.Sequential):
            compiled = torch.compile(child.forward, dynamic=False, mode="reduce-overhead" if static else None)
            normalised = [m for m in child.modules() if parametrize.is_parametrized(m, "weight")]

            def forward(x: torch.Tensor, compiled: Callable = compiled, normalised: list = normalised) -> torch.Tensor:
                if x.shape[0] > 1 and not static:
                    torch._dynamo.mark_dynamic(x, 0)
                with parametrize.cached():
                    for module in normalised:
                        module.weight  # noqa: B018 (computes and caches the weight)
                    return compiled(x)

            child.forward = forward
    return net
