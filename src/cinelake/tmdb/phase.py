"""What a phase is given and what it gives back: the run's context, deadline and results.

Kept apart from the engine that runs a phase, so the service, the retry rounds and the daily
job can hold and combine phase results without the machinery that produced them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cinelake.errors import TmdbAuthError
from cinelake.lake.manifest import ManifestObject
from cinelake.store.base import Store
from cinelake.tmdb.client import TmdbClient
from cinelake.tmdb.find_hits import FindTally

ItemProgress = Callable[[int], None]
ProgressFactory = Callable[[str, int], ItemProgress]
"""Given a phase label and its item count, returns the callback that advances its bar."""


class Deadline:
    """Wall-clock budget of a run; `None` means no limit."""

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = None if seconds is None else clock() + seconds

    def remaining(self) -> float:
        return float("inf") if self._end is None else self._end - self._clock()


@dataclass
class PhaseContext:
    store: Store
    client: TmdbClient
    run_date: date
    plan_id: str
    stamp: str
    run_id: str
    append: tuple[str, ...]
    discover_params: dict[str, str]
    deadline: Deadline
    workers: int = 16
    stop_margin: float = 2.0
    progress: ProgressFactory | None = None
    requests_before: int = 0
    """The client's request count when this run began: what the run itself asked is the rest."""
    written: list[ManifestObject] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)
    refusal: TmdbAuthError | None = None
    """TMDB refused the credential: the run stops like at a deadline, what landed is kept."""

    def should_stop(self) -> bool:
        if not self.stop_event.is_set() and self.deadline.remaining() <= self.stop_margin:
            self.stop_event.set()
        return self.stop_event.is_set()


@dataclass
class PhaseResult:
    """Item counts by state and the follow-up items, in plan order, across all runs."""

    state_counts: Counter[str] = field(default_factory=Counter)
    items: int = 0
    children: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    """Failed items a later run may cure: what the plan's next retry round asks for again."""
    marker_files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    complete: bool = True
    compacted: int = 0
    find: FindTally = field(default_factory=FindTally)
    details_landed: int = 0
    """Lookups that landed a title's details themselves (a movie asked by IMDb id)."""
    titles_landed: list[str] = field(default_factory=list)
    """The titles those lookups landed (`movie:550`): no details phase fetches them again."""


@dataclass
class BatchSummary:
    """What a committed batch contributes to the phase, without its per-item dicts.

    A 100,000-title backfill keeps one of these per batch, so memory stays flat in the number
    of titles apart from the follow-up items themselves.
    """

    run_id: str
    files: list[dict[str, Any]]
    state_counts: Counter[str]
    children: list[str]
    failed: list[str]
    compacted: int
    find: FindTally
    details_landed: int
    titles_landed: list[str]

    @classmethod
    def of(cls, marker: dict[str, Any], current_run: str) -> BatchSummary:
        entries = marker["items"].values()  # sorted by item, as stored
        run_id = str(marker["run_id"])
        find = FindTally()
        for item, entry in marker["items"].items():
            find.add(item, entry.get("find", ()), entry.get("children", []))
        return cls(
            run_id=run_id,
            files=[] if run_id == current_run else marker["files"],
            state_counts=Counter(entry["state"] for entry in entries),
            children=[child for entry in entries for child in entry.get("children", [])],
            failed=[
                item
                for item, entry in marker["items"].items()
                if entry["state"] == "failed" and entry.get("retry", True)
            ],
            compacted=int(marker.get("compacted", 0)),
            find=find,
            details_landed=sum(1 for entry in entries if entry.get("details")),
            titles_landed=[e["details"] for e in entries if isinstance(e.get("details"), str)],
        )
