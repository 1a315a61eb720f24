"""A stop request (SIGTERM, Ctrl-C) waits while a manifest is being written.

Objects that landed must end up named by a manifest: a stop in the middle of writing one would
leave them unnamed, so the stop waits the few milliseconds the write takes, then goes on.
Signal handlers run in the main thread only, as do manifest writes: plain globals suffice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

_depth = 0
_pending: BaseException | None = None


def stop(request: BaseException) -> None:
    """Raise `request` now, or as soon as the manifest write under way is done."""
    global _pending  # noqa: PLW0603 - one process, one main thread
    if _depth:
        _pending = _pending or request
        return
    raise request


@contextmanager
def manifest_write() -> Iterator[None]:
    global _depth, _pending  # noqa: PLW0603 - one process, one main thread
    _depth += 1
    try:
        yield
    except BaseException:
        _depth -= 1
        if not _depth:
            _pending = None  # the run is ending with this error already
        raise
    _depth -= 1
    if not _depth and _pending is not None:
        pending, _pending = _pending, None
        raise pending
