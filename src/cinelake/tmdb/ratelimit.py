"""One token bucket shared by every request of a run, so concurrency never means rudeness."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Paces requests evenly at `rate` per second; a 429 pauses every worker, not just one.

    The burst is kept small on purpose: TMDB counts requests per second, and a full-rate
    burst at start-up is the classic way to earn a 429 on the first second of a run.
    """

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(burst, 1.0)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._updated = clock()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, remaining: Callable[[], float] = lambda: float("inf")) -> bool:
        """Wait for a token; False when the wait would outlast `remaining()` seconds."""
        while True:
            with self._lock:
                now = self._clock()
                if now < self._paused_until:
                    wait = self._paused_until - now
                else:
                    self._tokens = min(
                        self.capacity, self._tokens + (now - self._updated) * self.rate
                    )
                    self._updated = now
                    if self._tokens >= 1.0:
                        self._tokens -= 1.0
                        return True
                    wait = (1.0 - self._tokens) / self.rate
            if wait >= remaining():
                return False
            self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """Hold every worker: a 429's Retry-After applies to the key, not to one thread."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)
            self._tokens = 0.0
