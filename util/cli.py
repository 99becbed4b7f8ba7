"""Running an entry point so that every expected failure ends in one line that says what to do, not a traceback."""

from __future__ import annotations

import errno
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path


class UserError(Exception):
    """Bad input or a fault outside the program (data, flags, files, disk); the message names it and the fix."""


class Interrupted(Exception):
    """The run was stopped by Ctrl-C or SIGTERM after saving; the message says where."""


# A DataLoader worker re-raises its exception in the main process with the worker's traceback in the message.
_WORKER = re.compile(r"Caught \w+ in DataLoader worker process \d+\.\s*Original Traceback", re.S)


def one_line(err: BaseException) -> str:
    """The message of ``err`` on one line: the original message of an error raised in a data-loader worker,
    the folder and the fix for a full disk."""
    message = str(err)
    if _WORKER.search(message):
        last = [line for line in message.strip().splitlines() if line.strip()][-1]
        message = last.split(": ", 1)[1] if re.match(r"^[\w.]+: ", last) else last
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        where = f" while writing {err.filename}" if err.filename else ""
        message = f"no space left on the device{where}: free some space there and run again (files already saved are intact)"
    elif isinstance(err, NotADirectoryError) and err.filename:
        blocking = next((p for p in Path(err.filename).parents if p.is_file()), None)
        if blocking is not None:
            message = f"{err.filename} cannot be made: {blocking} is a file, not a folder; give another folder"
    elif isinstance(err, OSError) and err.errno == errno.EFBIG:
        where = f" {err.filename}" if err.filename else " a file"
        message = (f"the file size limit (ulimit -f) stopped writing{where}: raise it and run again (files already saved "
                   "are intact)")  # fmt: skip
    return " ".join(message.split())


# What ends a run with a one-line error: the program's own errors about bad input, and the usual faults of files.
EXPECTED = (UserError, FileNotFoundError, NotADirectoryError, PermissionError, OSError, ValueError)


def run(main: Callable[[], object], expected: tuple[type[BaseException], ...] = ()) -> None:
    """Run ``main``; an expected error exits 1 with ``error: <one line>``, Ctrl-C exits 130 with one line."""
    try:
        main()
    except Interrupted as err:
        print(str(err), file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print("interrupted: stopped at once, nothing more was saved", file=sys.stderr)
        sys.exit(130)
    except (*EXPECTED, *expected) as err:
        sys.exit(f"error: {one_line(err)}")


class StopRequests:
    """Turns the first Ctrl-C (SIGINT) or SIGTERM into a request to stop after the current step, which the training
    loop honours by saving and exiting; a second one stops at once (KeyboardInterrupt)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = {}

    def __enter__(self) -> StopRequests:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave the signals alone
                pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(f"\n{signal.Signals(signum).name}: stopping after this step and saving 'latest' (again to quit at once)",
              file=sys.stderr, flush=True)  # fmt: skip
