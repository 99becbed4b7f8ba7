"""Progress bars with an ETA: redrawn in place on a terminal; in a file or a pipe, one line every few seconds."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tqdm import tqdm

LOG_INTERVAL = 10.0  # seconds between two lines of a bar that does not go to a terminal


class _Lines:
    """A stream for tqdm that turns its in-place redraws ("\\r" + bar) into whole lines."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip("\n")
        if text.strip():
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(iterable: Iterable | None = None, **kwargs) -> tqdm:
    """``tqdm(iterable, **kwargs)`` on stderr; when stderr is not a terminal, a line at most every LOG_INTERVAL seconds
    (and one at the end) instead of one redraw per item."""
    stream = kwargs.pop("file", sys.stderr)
    if not (hasattr(stream, "isatty") and stream.isatty()):
        kwargs.setdefault("mininterval", LOG_INTERVAL)
        kwargs.setdefault("maxinterval", LOG_INTERVAL * 6)
        kwargs.setdefault("ncols", 100)
        stream = _Lines(stream)
    else:
        kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, file=stream, **kwargs)
