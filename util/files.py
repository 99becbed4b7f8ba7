"""Writing files so that a crash never leaves one half-written: temporary file, then rename.

Files get the usual permissions (0666 less the umask), not the 0600 of a temporary file; a failed write (a full
disk, say) raises an OSError that names the file and leaves the previous version in place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_MODE = 0o666 & ~_umask()


def make_readable(path: Path) -> None:
    os.chmod(path, _MODE)


def fsync_dir(folder: Path) -> None:
    """Make renames in ``folder`` durable (where the platform allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        make_readable(Path(tmp))
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(err.errno, err.strerror, str(path)) from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_torch_save(path: Path, obj: Any) -> None:
    _atomic_write(path, lambda handle: torch.save(obj, handle))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    _atomic_write(path, lambda handle: handle.write(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


class StagedFolder:
    """A folder that appears whole: filled in a hidden sibling of its own (unique to this process), then moved into
    place by ``commit``, replacing what was there. Leaving the context without ``commit`` (an error, Ctrl-C) deletes
    the sibling and leaves the folder as it was. ``partial`` is where to write.
    """

    def __init__(self, final: str | Path) -> None:
        self.final = Path(final)
        self.tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.partial = self.final.parent / f".{self.final.name}.partial-{self.tag}"

    def __enter__(self) -> StagedFolder:
        self.partial.mkdir(parents=True)
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.partial, ignore_errors=True)  # gone already after a commit

    def commit(self) -> Path:
        return self.commit_from(self.partial)

    def commit_from(self, folder: Path) -> Path:
        """Move ``folder`` (this one's ``partial``, or another on the same file system) into place."""
        old = self.final.parent / f".{self.final.name}.old-{self.tag}"
        if self.final.exists():
            self.final.rename(old)
        Path(folder).rename(self.final)
        shutil.rmtree(old, ignore_errors=True)
        fsync_dir(self.final.parent)
        return self.final
