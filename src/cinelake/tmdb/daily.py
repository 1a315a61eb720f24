"""The daily job: what a scheduled run does, made only of the plans a person can run by hand.

First `from-csv` for every partition date whose landed CSVs have no sealed plan yet, oldest
first, so a backfill started on one day keeps going on the next ones, hop after hop; then
`refresh` for the run date. A day with nothing new succeeds: the refresh says so in its
manifest. The job never fails because no CSV was landed today.

One call is one hop: it stops at the deadline like any run and says whether work remains;
calling it again (the next Lambda hop, the same command) picks up where it stopped, since
every step it takes is a resumable plan.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import date

from cinelake.errors import InputError
from cinelake.lake import layout
from cinelake.lake.manifest import RunManifest
from cinelake.settings import Settings
from cinelake.store.base import Store
from cinelake.tmdb.client import TmdbClient
from cinelake.tmdb.phase import Deadline, ProgressFactory
from cinelake.tmdb.planning import is_sealed
from cinelake.tmdb.refresh import PlanningStopped
from cinelake.tmdb.request import TmdbIngestRequest
from cinelake.tmdb.retry import RetryPolicy
from cinelake.tmdb.service import run_tmdb_ingest

log = logging.getLogger(__name__)

STATUS_ORDER = ("succeeded", "partial", "failed")


@dataclass
class DailyResult:
    run_date: date
    manifests: list[RunManifest] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    work_remains: bool = False
    """The hop stopped before the job was done: run it again (the next hop) to go on."""

    @property
    def status(self) -> str:
        worst = max((STATUS_ORDER.index(m.status) for m in self.manifests), default=0)
        return "partial" if self.work_remains and worst == 0 else STATUS_ORDER[worst]

    def to_dict(self) -> dict[str, object]:
        return {
            "command": "ingest-tmdb --daily",
            "date": self.run_date.isoformat(),
            "status": self.status,
            "work_remains": self.work_remains,
            "notes": self.notes,
            "runs": [m.to_dict() for m in self.manifests],
        }


def dates_waiting_for_lookup(store: Store, request: TmdbIngestRequest) -> list[date]:
    """Partition dates up to the run date with landed CSVs and no sealed `from-csv` plan."""
    days: set[date] = set()
    for dataset in layout.CSV_DATASETS:
        for info in store.list(f"{layout.RAW}/Local/CSV/{dataset}/"):
            where = layout.partition_of(info.key)
            if where is not None and where[1] <= request.run_date:
                days.add(where[1])
    return [
        day
        for day in sorted(days)
        if not is_sealed(replace(request, plan="from-csv", run_date=day, since=None), store)
    ]


def run_daily(
    request: TmdbIngestRequest,
    *,
    settings: Settings,
    store: Store,
    client: TmdbClient | None = None,
    deadline: Deadline | None = None,
    retry_policy: RetryPolicy | None = None,
    progress: ProgressFactory | None = None,
) -> DailyResult:
    """One hop of the daily job; `request` is the refresh of the run date, with its options."""
    request = replace(request, plan="refresh").checked()
    deadline = deadline or Deadline(request.max_seconds)
    result = DailyResult(request.run_date)
    steps = [
        replace(request, plan="from-csv", run_date=day, since=None)
        for day in dates_waiting_for_lookup(store, request)
    ]
    steps.append(request)
    for step in steps:
        if deadline.remaining() <= request.stop_margin:
            result.work_remains = True
            break
        try:
            manifest = run_tmdb_ingest(
                step,
                settings=settings,
                store=store,
                client=client,
                deadline=deadline,
                retry_policy=retry_policy,
                progress=progress,
            )
        except PlanningStopped:
            result.work_remains = True
            break
        except InputError as exc:
            # A landed file cinelake cannot read ids from stays as landed; the other dates and
            # the refresh must still run. The note repeats every day until the file is fixed.
            result.notes.append(f"from-csv {step.run_date} skipped: {exc}")
            log.warning(
                "from-csv %s skipped: %s",
                step.run_date,
                exc,
                extra={"event": "tmdb.daily_skipped", "date": step.run_date.isoformat()},
            )
            continue
        result.manifests.append(manifest)
        if manifest.counts.get("stopped_early"):
            result.work_remains = True
            break
    if not result.work_remains and len(steps) == 1:
        result.notes.append("no landed CSV was waiting for its TMDB lookups")
    return result
