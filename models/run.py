"""A run folder, ``<checkpoints_dir>/<name>``: the options it was trained with (``train_opt.json``), which of them fix
the networks' shapes, its checkpoints and its lock.

train.py, test.py, translate.py, export.py and ``Translator`` open a run through ``Run``, and every recorded options
file (a run's ``train_opt.json``, a results folder's ``test_opt.json``) is read by ``read_options``; the rule "a
flag that fixes the architecture must match the run" is worded once, by ``ArchitectureMismatch``, which the command
lines print in one line and the Python interface raises (a ``ValueError``). The checkpoint files' format is
``models.checkpoint``'s.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from instagan.models import checkpoint
from instagan.util import file_set
from instagan.util.cli import UserError
from instagan.util.files import FolderLock

# The flags that fix the networks' shapes: a run resumes, and weights load, only with the same values.
ARCHITECTURE_FLAGS = ("model", "netG", "netD", "ngf", "ndf", "n_blocks", "n_layers_D", "norm", "input_nc", "output_nc",
                      "no_dropout", "upsample", "context_skip", "seg_slots")  # fmt: skip
# Files a training run writes into its folder, besides the checkpoints.
RUN_FILES = ("loss_log.txt", "train_opt.txt", "train_opt.json")
# What to do about a flag that differs from the run: where the run's value is taken unless a flag is given (test.py,
# translate.py, export.py, Translator), and where a run is resumed.
DROP_THE_FLAG = "drop the flag, the run's value is used"
RESUME_WITH_THE_RUNS = "resume with the run's flags, or start a new --name"


def architecture(opt: Any) -> dict[str, Any]:
    """The architecture flags of ``opt`` (a namespace of options) by name."""
    return {name: getattr(opt, name) for name in ARCHITECTURE_FLAGS if hasattr(opt, name)}


def as_flags(values: Mapping[str, Any]) -> str:
    """``--ngf 8 --n_blocks 2``: values as the command line gives them (``no_dropout`` as ``--no_dropout`` or
    ``--dropout``)."""
    flags = []
    for name, value in values.items():
        if name == "no_dropout":
            flags.append("--no_dropout" if value else "--dropout")
        elif isinstance(value, bool):
            flags.append(f"--{name}" if value else f"no --{name}")
        else:
            flags.append(f"--{name} {value}")
    return " ".join(flags)


class ArchitectureMismatch(UserError, ValueError):
    """Flags that fix the networks' shapes differ from the ones a run was trained with (recorded in ``source``)."""

    def __init__(self, given: Mapping[str, Any], saved: Mapping[str, Any], source: Path, fix: str = DROP_THE_FLAG) -> None:
        self.given, self.saved, self.source = dict(given), dict(saved), Path(source)
        super().__init__(f"{as_flags(given)} differs from the run's {source} ({as_flags(saved)}): {fix}")


def read_options(path: Path, fix: str) -> dict[str, Any]:
    """The options recorded in ``path`` (a ``<phase>_opt.json``; empty when there is none); a file that is not such a
    record is an error naming it and ``fix``."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{path} cannot be read ({' '.join(str(err).split())}): {fix}") from err
    if not isinstance(saved, dict):
        raise UserError(f"{path} holds a JSON {type(saved).__name__}, not the run's options: {fix}")
    return saved


@dataclass(frozen=True)
class Run:
    """The run folder ``folder``; ``Run.of(opt)`` is the one that ``--checkpoints_dir`` and ``--name`` name."""

    folder: Path

    @classmethod
    def of(cls, opt: Any) -> Run:
        return cls(Path(opt.checkpoints_dir) / opt.name)

    # the options it was trained with --------------------------------------------------------------------------
    @property
    def options_file(self) -> Path:
        return self.folder / "train_opt.json"

    def options(self) -> dict[str, Any]:
        """The options recorded in its ``train_opt.json`` (empty for a run without one, such as the authors' files)."""
        return read_options(self.options_file, "restore it, or delete it and give the run's flags (--ngf, --n_blocks, "
                                               "...) yourself")  # fmt: skip

    def architecture(self) -> dict[str, Any]:
        """The architecture flags it was trained with (empty when it records none)."""
        saved = self.options()
        return {name: saved[name] for name in ARCHITECTURE_FLAGS if name in saved}

    def check(self, given: Mapping[str, Any], saved: Mapping[str, Any] | None = None, source: Path | None = None,
              fix: str = DROP_THE_FLAG) -> None:  # fmt: skip
        """Raise ``ArchitectureMismatch`` where an architecture flag of ``given`` (values by name) differs from the
        run's (``saved``, read from ``source``; by default its train_opt.json)."""
        saved = self.architecture() if saved is None else saved
        differ = [name for name, value in saved.items() if name in ARCHITECTURE_FLAGS and given.get(name, value) != value]
        if differ:
            raise ArchitectureMismatch({k: given[k] for k in differ}, {k: saved[k] for k in differ},
                                       source or self.options_file, fix)  # fmt: skip

    def trained_with(self, opt: Any) -> str:
        """``--ngf 4``: the architecture flags it was trained with where ``opt``'s differ ("" when none or unknown)."""
        try:
            saved = self.architecture()
        except UserError:
            return ""
        return as_flags({k: v for k, v in saved.items() if getattr(opt, k, v) != v})

    # its checkpoints --------------------------------------------------------------------------------------------
    def load_weights(self, epoch: str | int, nets: dict[str, nn.Module], opt: Any, device: torch.device) -> None:
        """Load checkpoint ``epoch``'s weight files into ``nets`` (``checkpoint.load_weights``)."""
        checkpoint.load_weights(self.folder, epoch, nets, opt, device, lambda: self.trained_with(opt))

    def write_checkpoint(self, tag: str | int, nets: dict[str, nn.Module], state: checkpoint.TrainingState, opt: Any) -> None:
        checkpoint.write(self.folder, tag, nets, state, architecture(opt))

    def training_state(self, tag: str | int, opt: Any, device: torch.device) -> checkpoint.TrainingState:
        """Checkpoint ``tag``'s training state, refused where ``opt``'s architecture is not the one it was trained with."""
        saved = checkpoint.load_training_state(self.folder, tag, device)
        path = checkpoint.state_path(self.folder, tag)
        trained = saved.get("architecture") if isinstance(saved, dict) else None
        self.check(architecture(opt), trained or self.architecture(), path if trained else None, RESUME_WITH_THE_RUNS)
        return checkpoint.training_state(saved, path)

    # the folder itself ------------------------------------------------------------------------------------------
    def lock(self) -> FolderLock:
        """Take the folder for one training run at a time (another refuses, naming this one)."""
        return FolderLock(self.folder / ".lock", str(self.folder), "wait for it to finish, or choose another --name").acquire()

    def files(self) -> list[str]:
        """The files of a run in the folder: checkpoints, and the options and log a run writes before its first
        checkpoint (empty when it holds no run)."""
        if not self.folder.is_dir():
            return []
        patterns = ("*_net_*.pth", "*_training_state.pth", f"*{file_set.MANIFEST_SUFFIX}", *RUN_FILES)
        return sorted({p.name for pattern in patterns for p in self.folder.glob(pattern)})

    def prepare(self, resume: bool, overwrite: bool) -> None:
        """Finish or clean up an interrupted save; then, unless ``resume``, refuse to start over a run that the folder
        holds, or with ``overwrite`` delete its files."""
        file_set.recover(self.folder)
        found = [] if resume else self.files()
        if not found:
            return
        if not overwrite:
            raise UserError(
                f"{self.folder} already holds a run ({', '.join(found[:3])}{', ...' if len(found) > 3 else ''}): "
                "pass --continue_train to resume it, choose a new --name, or --overwrite to replace it"
            )
        for name in found + list(RUN_FILES):
            (self.folder / name).unlink(missing_ok=True)
        shutil.rmtree(self.folder / "web", ignore_errors=True)
