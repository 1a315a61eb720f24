"""What a store cannot do, said once per run instead of once per object.

A TMDB run writes thousands of objects: a limitation of the endpoint repeated for each of them
buries every other line, so each is warned about the first time it shows, and the objects it
affected are counted and reported once, when the run ends.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

log = logging.getLogger("cinelake.store")

LESSER_CHECKS = {
    "size-and-md5": "verified by size and MD5 only",
    "size-only": "verified by size only",
}
"""The `verified_by` values that mean the store returned no checksum to compare with."""


class Limitations:
    """The warnings already given and the objects checked less than fully, for one store."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self._counts: Counter[str] = Counter()

    def warn_once(self, limitation: str, message: str, *args: object) -> None:
        with self._lock:
            if limitation in self._warned:
                return
            self._warned.add(limitation)
        log.warning(message, *args, extra={"event": f"store.{limitation}"})

    def checked(self, verified_by: str) -> None:
        if verified_by in LESSER_CHECKS:
            with self._lock:
                self._counts[verified_by] += 1

    def report(self) -> None:
        """One line per kind of lesser check, with its count; the counts then start over."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        for verified_by, how in LESSER_CHECKS.items():
            if counts[verified_by]:
                log.warning(
                    "%d object%s %s: %s returned no checksum for them (`cinelake verify --deep` "
                    "re-hashes the bytes)",
                    counts[verified_by],
                    "" if counts[verified_by] == 1 else "s",
                    how,
                    self.url,
                    extra={"event": "store.lesser_checks", "verified_by": verified_by},
                )
