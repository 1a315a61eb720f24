"""What an `ingest-tmdb` run is asked to do, and every check made before its first request.

The CLI and the Lambda handler both build a `TmdbIngestRequest`; `checked` refuses bad input
before anything is planned or written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from cinelake.errors import (
    InputError,
)
from cinelake.tmdb.plans import (
    DEFAULT_APPEND,
    MAX_DISCOVER_PAGE,
    check_append,
    check_batch_size,
)

PlanName = Literal["from-csv", "ids", "discover", "changes", "refresh"]
PLANS: tuple[PlanName, ...] = ("from-csv", "ids", "discover", "changes", "refresh")


MAX_RATE = 10_000.0
"""Far above any TMDB limit; only there to refuse typos and infinities."""


_CREDENTIAL_PARAMS = frozenset({"api_key", "access_token", "session_id", "guest_session_id"})


@dataclass(frozen=True)
class TmdbIngestRequest:
    """What to fetch; the same fields whether they come from CLI flags or a Lambda event."""

    plan: PlanName
    run_date: date
    ids: tuple[str, ...] = ()
    ids_file: Path | None = None
    movies_path: Path | None = None
    series_path: Path | None = None
    kind: Literal["movie", "tv"] | None = None
    discover_params: tuple[tuple[str, str], ...] = ()
    max_pages: int | None = None
    since: date | None = None
    append: tuple[str, ...] = DEFAULT_APPEND
    batch_size: int = 100
    rate: float = 35.0
    max_seconds: float | None = None
    workers: int = 16

    @property
    def stop_margin(self) -> float:
        """Seconds before the deadline at which a run stops starting work: 2 s, or a tenth of a
        short `--max-seconds`."""
        return 2.0 if self.max_seconds is None else min(2.0, self.max_seconds / 10)

    def checked(self) -> TmdbIngestRequest:
        """Every bad input is refused here, before the first request."""
        check_append(self.append)
        check_batch_size(self.batch_size)
        if not (math.isfinite(self.rate) and 0 < self.rate <= MAX_RATE):
            raise InputError(
                f"--rate {self.rate}: use a number of requests per second above 0 and at most "
                f"{MAX_RATE:g}"
            )
        for key, _ in self.discover_params:
            if key.strip().lower() in _CREDENTIAL_PARAMS:
                raise InputError(
                    f"--param {key}=…: credentials never go in discover parameters (they are "
                    "written to the manifest); set TMDB_API_KEY or TMDB_READ_ACCESS_TOKEN"
                )
        if self.plan in {"discover", "changes"} and self.kind not in {"movie", "tv"}:
            raise InputError(f"--{self.plan} needs movie or tv")
        if self.plan == "refresh" and self.since is not None and self.since > self.run_date:
            raise InputError(f"--since {self.since} is after the run date {self.run_date}")
        if self.plan == "changes" and self.since is None:
            raise InputError("--changes needs --since YYYY-MM-DD")
        if self.max_pages is not None and not 1 <= self.max_pages <= MAX_DISCOVER_PAGE:
            raise InputError(f"--max-pages {self.max_pages}: use 1 to {MAX_DISCOVER_PAGE}")
        if self.plan == "ids" and not self.ids and self.ids_file is None:
            raise InputError("--ids or --ids-file: give at least one id")
        if self.ids_file is not None and not self.ids_file.is_file():
            raise InputError(f"--ids-file {self.ids_file}: no such file; pass a file of ids")
        if self.max_seconds is not None and not (
            math.isfinite(self.max_seconds) and self.max_seconds > 0
        ):
            raise InputError(f"--max-seconds {self.max_seconds}: use a positive number")
        for name, path in (("--movies", self.movies_path), ("--series", self.series_path)):
            if path is not None and not path.is_file():
                raise InputError(f"{name} {path}: no such file")
        return self


def options(request: TmdbIngestRequest) -> dict[str, Any]:
    return {
        "plan": request.plan,
        "append": list(request.append),
        "batch_size": request.batch_size,
        "rate": request.rate,
        "kind": request.kind,
        "max_pages": request.max_pages,
        "since": request.since.isoformat() if request.since else None,
        "discover_params": dict(request.discover_params),
    }
