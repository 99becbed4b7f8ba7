"""Models, found by name from ``--model``: ``models/<name>_model.py`` holds ``<Name>Model``."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from models.base_model import BaseModel


def available_models() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name[: -len("_model")]
        for m in pkgutil.iter_modules([str(here)])
        if m.name.endswith("_model") and m.name != "base_model"
    )


def find_model_using_name(model_name: str) -> type[BaseModel]:
    """The model class for ``--model``; an unknown name raises and lists the known ones."""
    if model_name not in available_models():
        raise ValueError(f"unknown --model {model_name!r}: choose one of {', '.join(available_models())}")
    module = importlib.import_module(f"models.{model_name}_model")
    target = model_name.replace("_", "").lower() + "model"
    for name, cls in vars(module).items():
        if name.lower() == target and isinstance(cls, type) and issubclass(cls, BaseModel):
            return cls
    raise ImportError(f"models/{model_name}_model.py defines no BaseModel subclass named like {target}")


def get_option_setter(model_name: str):
    return find_model_using_name(model_name).modify_commandline_options


def create_model(opt, device) -> BaseModel:
    return find_model_using_name(opt.model)(opt, device)
