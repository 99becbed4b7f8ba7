"""Finding a class by name from a flag: ``--model x`` -> ``models/x_model.py`` -> ``XModel``."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path


def available(package_dir: str | Path, suffix: str, exclude: tuple[str, ...] = ()) -> list[str]:
    """Names ``n`` of the modules ``<n>_<suffix>.py`` in a package folder."""
    tail = f"_{suffix}"
    names = (m.name for m in pkgutil.iter_modules([str(package_dir)]))
    return sorted(n[: -len(tail)] for n in names if n.endswith(tail) and n not in exclude)


def find_class(package: str, name: str, suffix: str, base: type, flag: str, choices: list[str]) -> type:
    """The subclass of ``base`` named like ``<Name><Suffix>`` in ``<package>.<name>_<suffix>``.

    An unknown name raises a ValueError that lists the choices.
    """
    if name not in choices:
        raise ValueError(f"unknown {flag} {name!r}: choose one of {', '.join(choices)}")
    module = importlib.import_module(f"{package}.{name}_{suffix}")
    target = (name + suffix).replace("_", "").lower()
    for attr, cls in vars(module).items():
        if attr.lower() == target and isinstance(cls, type) and issubclass(cls, base):
            return cls
    raise ImportError(f"{package}/{name}_{suffix}.py defines no {base.__name__} subclass named like {target}")
