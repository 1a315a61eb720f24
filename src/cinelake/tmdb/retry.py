"""Bounded retries with full-jitter exponential backoff that honour `Retry-After`."""

from __future__ import annotations

import random
from dataclasses import dataclass

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded twice: by attempts and by the time spent on one item.

    `base_delay=0` is the test switch: no sleeping, same decisions.
    """

    max_attempts: int = 6
    max_seconds: float = 120.0
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempts count from 1)."""
        if retry_after is not None and retry_after > 0:
            return min(retry_after, self.max_delay) if self.base_delay else 0.0
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling) if ceiling else 0.0  # noqa: S311


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header; absent, 0 or an HTTP date fall back to backoff."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds > 0 else None
