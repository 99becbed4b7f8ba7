"""Writing files so that a crash never leaves one half-written: temporary file, then rename.

Files get the usual permissions (0666 less the umask), not the 0600 of a temporary file; a failed write (a full
disk, say) raises an OSError that names the file and leaves the previous version in place.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

from instagan.util.cli import UserError


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

    def remove_stale(self) -> None:
        """Delete the hidden siblings (``partial`` and ``old``) that writers of this folder left when their process
        ended without finishing; a live process's are kept."""
        for sibling in self.final.parent.glob(f".{self.final.name}.*-*-*"):
            kind, _, rest = sibling.name[len(self.final.name) + 2 :].partition("-")
            pid = rest.split("-", 1)[0]
            if kind in ("partial", "old") and pid.isdigit() and not process_alive(int(pid)):
                shutil.rmtree(sibling, ignore_errors=True)

    def commit_from(self, folder: Path) -> Path:
        """Move ``folder`` (this one's ``partial``, or another on the same file system) into place."""
        old = self.final.parent / f".{self.final.name}.old-{self.tag}"
        replacing = self.final.exists()
        if replacing:
            self.final.rename(old)
        try:
            Path(folder).rename(self.final)
        except BaseException:
            if replacing:  # a commit that fails leaves the previous version where it was
                old.rename(self.final)
            raise
        shutil.rmtree(old, ignore_errors=True)
        fsync_dir(self.final.parent)
        return self.final


class FolderLock:
    """One process at a time: while the context lasts, ``lock_file`` is locked by this process, and another that tries
    refuses with one line naming the holder (process id, command, start) and ``fix``. The operating system releases
    the lock when the process ends, however it ends, so a crashed run never leaves a stale lock. A folder that the lock
    created and that holds nothing else when it is released (a command that refused) is removed with it."""

    def __init__(self, lock_file: str | Path, what: str, fix: str) -> None:
        self.path, self.what, self.fix = Path(lock_file), what, fix
        self.handle: IO[str] | None = None
        self.created_folder = False

    def acquire(self) -> FolderLock:
        self.created_folder = not self.path.parent.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 (held open for as long as the lock)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise UserError(f"{self.what} is in use by {holder}: {self.fix}") from err
        handle.seek(0)
        handle.truncate()
        command = " ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv))[:200]
        handle.write(f"process {os.getpid()} ({command}, since {time.strftime('%Y-%m-%d %H:%M:%S')})\n")
        handle.flush()
        self.handle = handle
        return self

    def release(self) -> None:
        if self.handle is not None:
            folder = self.path.parent
            if self.created_folder and [p.name for p in folder.iterdir()] == [self.path.name]:
                self.path.unlink(missing_ok=True)  # (still locked: no other process holds it meanwhile)
                with contextlib.suppress(OSError):
                    folder.rmdir()
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
