"""A stop request (SIGTERM, Ctrl-C) waits while a manifest is being written.

Objects that landed must end up named by a manifest: a stop in the middle of writing one would
leave them unnamed, so the stop waits the few milliseconds the write takes, then goes on; a
second stop request goes through at once.

Signal handlers run in the main thread only, as do manifest writes: plain globals suffice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

_depth = 0
_pending: BaseException | None = None


def stop(request: BaseException) -> None:
    """Raise `request` now, or as soon as the manifest write under way is done.

    A second request does not wait: a write that hangs (an S3 endpoint gone quiet) must not
    leave the user without a way out.
    """
    global _pending  # noqa: PLW0603 - one process, one main thread
    if _depth and _pending is None:
        _pending = request
        return
    raise request


@contextmanager
def manifest_write() -> Iterator[None]:
    """Around a manifest write and what must go with it (the entry it lists, a plan marker)."""
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
