"""Progress bars for terminals only: piped output and logs never get carriage returns."""

from __future__ import annotations

import sys
import threading
import time
from typing import Protocol, TextIO

from cinelake.store.base import ProgressCallback


def _human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    return f"{count:.1f} GiB"


class ProgressFactory(Protocol):
    def __call__(self, label: str, total: int, unit: str = "bytes") -> ProgressCallback: ...


class Bar:
    """A thread-safe bar redrawn at most ten times a second."""

    def __init__(self, label: str, total: int, unit: str, stream: TextIO) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.stream: TextIO | None = stream
        self.done = 0
        self.started = time.monotonic()
        self._drawn = 0.0
        self._lock = threading.Lock()

    def advance(self, amount: int = 1) -> None:
        with self._lock:
            self.done += amount
            now = time.monotonic()
            stream = self.stream
            if stream is not None and (now - self._drawn >= 0.1 or self.done >= self.total):
                self._drawn = now
                try:
                    self._draw(now, stream)
                except OSError:  # the terminal went away (EIO, a closed pipe): stop drawing,
                    self.stream = None  # never fail the upload the bar was only showing

    def _fmt(self, value: float) -> str:
        return _human_bytes(value) if self.unit == "bytes" else f"{int(value)}"

    def _draw(self, now: float, stream: TextIO) -> None:
        elapsed = max(now - self.started, 1e-6)
        rate = self.done / elapsed
        fraction = min(self.done / self.total, 1.0) if self.total else 1.0
        eta = (self.total - self.done) / rate if rate > 0 and self.total else 0.0
        filled = int(fraction * 24)
        per_s = f"{self._fmt(rate)}/s" if self.unit == "bytes" else f"{rate:.1f} items/s"
        stream.write(
            f"\r{self.label[-40:]:<40} [{'#' * filled}{'.' * (24 - filled)}] "
            f"{fraction:5.1%} {self._fmt(self.done)}/{self._fmt(self.total)} {per_s} "
            f"ETA {eta:4.0f}s"
        )
        if self.done >= self.total:
            stream.write("\n")
        stream.flush()


def terminal_progress(
    stream: TextIO | None = None, *, enabled: bool = True
) -> ProgressFactory | None:
    """A bar factory when `stream` is a terminal, else None (callers then report nothing)."""
    target = stream or sys.stderr
    if not enabled or not target.isatty():
        return None

    def factory(label: str, total: int, unit: str = "bytes") -> ProgressCallback:
        return Bar(label, total, unit, target).advance

    return factory
