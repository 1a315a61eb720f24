"""A source file that must not change while it is read: a torn read must never be published.

A file rewritten, truncated or replaced during an upload would otherwise land as a mix of old
and new bytes, hashed as read, and every later check would call it intact.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from cinelake.errors import SourceChanged


def _fingerprint(stat: os.stat_result) -> tuple[int, int, int, int]:
    return stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_dev


class SteadySource:
    """Reads a file once; the read that reaches its end checks the file did not move meanwhile.

    Its size, modification time and inode must be the same before and after, and the bytes read
    must be the size seen at the start; otherwise `SourceChanged` is raised before the caller
    can publish what it read.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = path.open("rb", buffering=0)
        self._before = _fingerprint(os.fstat(self._handle.fileno()))
        self.bytes_read = 0

    @property
    def size(self) -> int:
        """The size seen when the file was opened."""
        return self._before[0]

    def read(self, size: int) -> bytes:
        chunk = self._handle.read(size) or b""
        self.bytes_read += len(chunk)
        if not chunk:
            self.check()
        return chunk

    def read_all(self) -> bytes:
        chunks = []
        while chunk := self.read(max(self.size, 1)):
            chunks.append(chunk)
        return b"".join(chunks)

    def check(self) -> None:
        during = _fingerprint(os.fstat(self._handle.fileno()))
        try:
            now = _fingerprint(self.path.stat())
        except OSError:
            now = None
        if now is None:
            why = "it was removed or renamed"
        elif self.bytes_read != self.size:
            why = f"{self.size} B at the start, {self.bytes_read} B read"
        elif during != self._before or now != self._before:
            why = "it was modified or replaced"
        else:
            return
        raise SourceChanged(
            f"{self.path} changed while it was being landed ({why}); nothing was published, "
            "land it again once the file is stable"
        )

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> SteadySource:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
