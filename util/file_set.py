"""Sets of torch.save files that appear whole or not at all, and loading such a file without running code.

A set ``<tag>`` is files tied together by ``<tag>_checkpoint.json``, which lists each file's size and SHA-256
(what a checkpoint holds is ``models/checkpoint.py``'s business). ``write_set`` writes every file under a temporary
name first, then the manifest (the moment the new set exists), then renames the files into place. ``recover``
finishes the renames of a set whose manifest was written when the process died, and removes the temporary files of
one that was not: after a crash at any point, each tag is either the old set or the new one, never a mix. ``verify``
checks the files against the manifest before they are loaded; sets of earlier versions (no manifest) load unchecked.
``load_file`` reads one file with ``weights_only``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import torch

from instagan.util.cli import UserError
from instagan.util.files import atomic_write_text, fsync_dir, make_readable

MANIFEST_SUFFIX = "_checkpoint.json"


def manifest_path(save_dir: Path, tag: str | int) -> Path:
    return Path(save_dir) / f"{tag}{MANIFEST_SUFFIX}"


class _HashingWriter:
    """A file for torch.save that hashes what it writes and keeps the first write error: torch's zip writer turns it
    into a RuntimeError about positions, or raises one of its own after it (a full disk, a file size limit)."""

    def __init__(self, handle) -> None:
        self.handle, self.sha, self.size = handle, hashlib.sha256(), 0
        self.error: OSError | None = None

    def write(self, data) -> int:
        self.sha.update(data)
        self.size += len(data)
        try:
            return self.handle.write(data)
        except OSError as err:
            self.error = self.error or err
            raise

    def flush(self) -> None:
        self.handle.flush()


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            sha.update(block)
    return sha.hexdigest()


def write_set(folder: Path, tag: str | int, files: dict[str, Any]) -> None:
    """Save each object with torch.save as ``folder/<name>``, all of them as checkpoint ``tag`` (see the module doc).

    A failure (a full disk, say) leaves the previous checkpoint ``tag`` as it was and raises with the file's name; once
    the new set is committed, the files of the previous one that it leaves out are deleted (the manifest lists them as
    ``removed``, so that ``recover`` finishes this after a crash too).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    previous = _own_files(manifest_path(folder, tag), tag)
    generation = uuid.uuid4().hex[:12]
    entries: dict[str, dict] = {}
    try:
        for name, obj in files.items():
            tmp = folder / f".{name}.{generation}.tmp"
            entries[name] = {"tmp": tmp.name}
            writer = None
            try:
                with tmp.open("wb") as handle:
                    writer = _HashingWriter(handle)
                    torch.save(obj, writer)
                    handle.flush()
                    os.fsync(handle.fileno())
            except (OSError, RuntimeError) as err:
                cause = writer.error if writer is not None and writer.error is not None else err
                if not isinstance(cause, OSError):
                    raise
                raise OSError(cause.errno, cause.strerror, str(folder / name)) from err
            make_readable(tmp)
            entries[name].update(sha256=writer.sha.hexdigest(), size=writer.size)
        manifest = {"format": 1, "tag": str(tag), "generation": generation, "files": entries,
                    "removed": sorted(previous - set(entries))}  # fmt: skip
        atomic_write_text(manifest_path(folder, tag), json.dumps(manifest, indent=1) + "\n")  # the commit point
    except BaseException:
        for entry in entries.values():
            (folder / entry["tmp"]).unlink(missing_ok=True)
        raise
    _complete(folder, manifest)


def _own_files(manifest: Path, tag: str | int) -> set[str]:
    """The files a manifest of checkpoint ``tag`` lists, where they are plain names of that tag (``<tag>_...``) in its
    folder: nothing else is ever deleted on a manifest's word."""
    try:
        files = json.loads(manifest.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {name for name in files if _own(name, tag)} if isinstance(files, dict) else set()


def _own(name: object, tag: object) -> bool:
    """Whether ``name`` is a plain file name of checkpoint ``tag`` (``<tag>_...``), in the folder itself."""
    return isinstance(name, str) and bool(str(tag)) and Path(name).name == name and name.startswith(f"{tag}_")


def _complete(folder: Path, manifest: dict) -> None:
    for name, entry in manifest["files"].items():
        tmp = folder / entry["tmp"]
        if tmp.exists():
            os.replace(tmp, folder / name)
    for name in manifest.get("removed", []):  # files of the set this one replaced, which it no longer has
        if _own(name, manifest.get("tag", "")) and name not in manifest["files"]:
            (folder / name).unlink(missing_ok=True)
    fsync_dir(folder)


def recover(folder: Path) -> None:
    """Finish checkpoints whose manifest was written before a crash; delete the temporary files of the others."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for manifest in folder.glob(f"*{MANIFEST_SUFFIX}"):
        try:
            _complete(folder, json.loads(manifest.read_text()))
        except (ValueError, KeyError, OSError):
            continue  # a damaged manifest: verify() will name it when that checkpoint is loaded
    for leftover in folder.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)


_FIX = "resume or test from another checkpoint (--epoch N), or retrain"


def _entries(path: Path, text: str) -> dict:
    try:
        return json.loads(text)["files"]
    except (ValueError, KeyError, TypeError) as err:
        raise UserError(f"{path} is damaged ({err}): {_FIX}") from err


def _mismatch(folder: Path, tag: str | int, entries: dict, name: str, data: bytes | None) -> str | None:
    """Why file ``name`` (its bytes ``data``, None when it is missing) does not belong to the set, or None."""
    file = Path(folder) / name
    entry = entries.get(name)
    if entry is None:
        return f"{file} is not part of checkpoint {tag!r} ({manifest_path(folder, tag).name} does not list it): {_FIX}"
    if data is None or len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
        return f"{file} does not match checkpoint {tag!r} (changed or damaged since it was saved): {_FIX}"
    return None


def verify(folder: Path, tag: str | int, names: list[str] | None = None) -> None:
    """Check checkpoint ``tag``'s files (all, or ``names``) against its manifest; raise naming what is wrong."""
    path = manifest_path(folder, tag)
    if not path.is_file():
        return  # written before checkpoints had manifests
    entries = _entries(path, path.read_text())
    for name in names if names is not None else list(entries):
        file, entry = Path(folder) / name, entries.get(name)
        if entry is None or not (file.is_file() and file.stat().st_size == entry["size"] and _sha256(file) == entry["sha256"]):
            raise UserError(_mismatch(folder, tag, entries, name, None) or "")


SAVE_WAIT = 10.0  # seconds a reader waits for a save in progress (its files being renamed into place) to finish


def load_set(folder: Path, tag: str | int, names: list[str], map_location: torch.device | str = "cpu") -> dict[str, dict]:
    """Load files ``names`` of checkpoint ``tag`` (``load_file`` each) from bytes that match its manifest, all of one
    save: each file is read once, checked, and loaded from those bytes, so that a save running meanwhile can neither
    mix two saves nor change a file between its check and its load. Files that do not match a manifest that is
    changing (a save in progress) are read again, for up to ``SAVE_WAIT`` seconds; a set without a manifest (written
    by an earlier version) loads unchecked."""
    folder = Path(folder)
    path = manifest_path(folder, tag)
    deadline, previous = time.monotonic() + SAVE_WAIT, None
    while True:
        text = path.read_text() if path.is_file() else None
        blobs = {name: _read_or_none(folder / name) for name in names}
        if text is None:
            missing = [name for name, data in blobs.items() if data is None]
            if missing:
                raise FileNotFoundError(f"{folder / missing[0]} not found")
            break
        entries = _entries(path, text)
        problems = [p for name, data in blobs.items() if (p := _mismatch(folder, tag, entries, name, data))]
        current = path.read_text() if path.is_file() else None
        if not problems and current == text:
            break
        # the same mismatch twice in a row, the manifest unchanged and no save under way: damage, not a race
        seen = (text, tuple(hashlib.sha256(data or b"").hexdigest() for data in blobs.values()))
        settled = current == text and seen == previous and not _saving(folder)
        if time.monotonic() > deadline or settled:
            raise UserError(problems[0] if problems else f"{path} kept changing while it was read: {_FIX}")
        previous = seen
        time.sleep(0.05)
    return {name: load_file(folder / name, map_location, data) for name, data in blobs.items()}


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _saving(folder: Path) -> bool:
    """Whether a save is under way in ``folder`` (its temporary files exist)."""
    return any(folder.glob(".*.tmp"))


# What training states written before RNG states were plain values hold besides tensors and numbers: NumPy's RNG
# state. Only these exact types are allowed, so that loading still never runs code.
_reconstruct = (getattr(np, "_core", None) or np.core).multiarray._reconstruct  # numpy 2 renamed numpy.core
_LEGACY_TYPES = [(_reconstruct, "numpy.core.multiarray._reconstruct"), (_reconstruct, "numpy._core.multiarray._reconstruct"),
                 np.ndarray, np.dtype, type(np.dtype(np.uint32))]  # fmt: skip


def _reason(err: Exception) -> str:
    return " ".join(str(err).split())[:160] or type(err).__name__


def load_file(path: Path, map_location: torch.device | str = "cpu", data: bytes | None = None) -> dict:
    """``torch.load`` a checkpoint file that must hold a dict, with ``weights_only`` (tensors, numbers, strings and
    containers only: a file can never run code); a damaged or foreign file is an error naming it. ``data``: the
    file's bytes, read before (``load_set``)."""
    try:
        with torch.serialization.safe_globals(_LEGACY_TYPES):
            source = io.BytesIO(data) if data is not None else path
            obj = torch.load(source, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except pickle.UnpicklingError as err:
        message = str(err)
        if "Weights only load failed" not in message or "Unsupported operand" in message:  # not a pickle at all
            raise UserError(
                f"{path} cannot be loaded (not a readable torch.save file): it is damaged or was not written by "
                "torch.save; restore it, or use another --epoch"
            ) from err
        found = re.search(r"GLOBAL ([\w.]+)", message)  # torch names the global it refused in several wordings
        what = f" ({found.group(1)})" if found else ""
        raise UserError(
            f"{path} holds objects other than tensors and numbers{what}, which loading could run as code: it was "
            "not written by this project, so it is refused; use a checkpoint this project wrote"
        ) from err
    except Exception as err:  # torch.load raises many kinds for a truncated or foreign file
        raise UserError(
            f"{path} cannot be loaded ({_reason(err)}): it is damaged or was not written by torch.save; "
            "restore it, or use another --epoch"
        ) from err
    if not isinstance(obj, dict):
        raise UserError(f"{path} holds a {type(obj).__name__}, not a checkpoint's dict: it is not a file of this project")
    return obj
