"""Checks that a flag carries where it is declared, and the help formatter of every command line.

    group.add_argument("--ngf", default=64, help="...", **at_least(1))
    group.add_argument("--lr", default=0.0002, help="...", **positive())

A bad value ends the parse at once with one line, ``error: --ngf 0 must be at least 1 (see --help)``.
"""

from __future__ import annotations

import argparse
import math


class Checked(argparse.Action):
    """Stores a converted value after checking it; the subclass says what is allowed."""

    def __init__(self, *args, **kwargs) -> None:
        self.bound = kwargs.pop("bound", None)
        super().__init__(*args, **kwargs)

    def allowed(self, value) -> bool:
        raise NotImplementedError

    def rule(self) -> str:
        raise NotImplementedError

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if not self.allowed(values):
            parser.error(f"--{self.dest} {values} {self.rule()}")
        setattr(namespace, self.dest, values)


class _AtLeast(Checked):
    def allowed(self, value) -> bool:
        return value >= self.bound

    def rule(self) -> str:
        return f"must be at least {self.bound}"


class _Positive(Checked):
    def allowed(self, value) -> bool:
        return value > 0 and not math.isnan(value) and (not math.isinf(value) or self.bound == "inf")

    def rule(self) -> str:
        return "must be a positive number"


class _Count(Checked):
    def allowed(self, value) -> bool:
        return math.isinf(value) and value > 0 or (value >= 1 and float(value).is_integer())

    def rule(self) -> str:
        return "must be a whole number of at least 1 (or inf: all)"


class _NonNegative(Checked):
    def allowed(self, value) -> bool:
        return value >= 0 and math.isfinite(value)

    def rule(self) -> str:
        return "must be zero or a positive number"


class _Below(Checked):
    def allowed(self, value) -> bool:
        return 0 <= value < self.bound

    def rule(self) -> str:
        return f"must be in [0, {self.bound})"


def folder_name(text: str) -> str:
    """An argparse type: one folder name (``--name``), so that a run or its results stay inside their folder."""
    if text in ("", ".", "..") or "/" in text or "\\" in text or "\0" in text:
        raise argparse.ArgumentTypeError(f"{text!r} must be one folder name (no '/', not '..'), so that what it names "
                                         "stays inside its folder")  # fmt: skip
    return text


def checkpoint_tag(text: str) -> str:
    """An argparse type: ``latest`` or an epoch number (``--epoch``), the start of a checkpoint's file names."""
    if text != "latest" and not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} must be latest or an epoch number")
    return text


def at_least(least: int) -> dict:
    """An integer flag of at least ``least``."""
    return {"type": int, "action": _AtLeast, "bound": least}


def positive(infinite: bool = False) -> dict:
    """A positive float flag (``inf`` allowed when ``infinite``)."""
    return {"type": float, "action": _Positive, "bound": "inf" if infinite else None}


def count_or_all() -> dict:
    """A count of at least 1, or ``inf`` for all of them (a float flag, as the original's --max_dataset_size)."""
    return {"type": float, "action": _Count}


def non_negative() -> dict:
    """A float flag of zero or more (a loss weight)."""
    return {"type": float, "action": _NonNegative}


def fraction_below(bound: float) -> dict:
    """A float flag in [0, bound)."""
    return {"type": float, "action": _Below, "bound": bound}


class HelpFormatter(argparse.HelpFormatter):
    """``--help`` as people read it: each flag's default once (not for flags that are off
    by default or have none, nor where the help already says it)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if default is None or default is False or default is argparse.SUPPRESS or default == "" or "default" in text \
                or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse without abbreviations (``--lambda_c 0`` must not silently set ``--lambda_ctx``) and with a one-line
    error instead of the whole usage text."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        self.declared: list[argparse.Action] = []  # every argument added, to the parser or to one of its groups
        super().__init__(allow_abbrev=False, **kwargs)

    def add_argument(self, *args, **kwargs) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        self.declared.append(action)
        return action

    def add_argument_group(self, *args, **kwargs):
        group = super().add_argument_group(*args, **kwargs)
        add = group.add_argument

        def add_argument(*a, **kw) -> argparse.Action:
            action = add(*a, **kw)
            self.declared.append(action)
            return action

        group.add_argument = add_argument
        return group

    def options(self) -> dict[str, argparse.Action]:
        """The declared flags by destination (``ngf`` for ``--ngf``)."""
        return {action.dest: action for action in self.declared if action.option_strings}

    def error(self, message: str):
        self.exit(2, f"error: {message} (see --help)\n")


def add_gpu_ids(container) -> None:
    """``--gpu_ids``, as every command that runs networks declares it (``util.devices.parse_gpu_ids`` reads it)."""
    container.add_argument("--gpu_ids", default="0", help="GPU ids, e.g. 0 or 0,1; -1 for CPU (CPU with a warning if CUDA is "
                           "absent)")  # fmt: skip
