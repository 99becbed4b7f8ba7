"""Models, found by name from ``--model``: ``models/<name>_model.py`` holds ``<Name>Model``."""

from __future__ import annotations

from pathlib import Path

from instagan.models.base_model import BaseModel
from instagan.util import registry


def available_models() -> list[str]:
    return registry.available(Path(__file__).parent, "model", exclude=("base_model", "template_model", "two_domain_model"))


def find_model_using_name(model_name: str) -> type[BaseModel]:
    """The model class for ``--model``; an unknown name raises and lists the known ones."""
    return registry.find_class(__name__, model_name, "model", BaseModel, "--model", available_models())


def get_option_setter(model_name: str):
    return find_model_using_name(model_name).modify_commandline_options


def create_model(opt, device) -> BaseModel:
    return find_model_using_name(opt.model)(opt, device)
