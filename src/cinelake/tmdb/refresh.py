"""The `refresh` plan: bring the titles the lake holds up to date, and nothing else.

TMDB lists the ids changed in a window of at most 14 days (`/movie/changes`, `/tv/changes`).
A refresh asks every page of every window when it is planned, keeps the pages as they came
(they land under `Changes/` in the plan's first phase, without a second request), and plans
the details of exactly the tracked ids among them. The titles to fetch are saved in the plan,
so a resumed run rebuilds the same batches even if more titles were tracked in between.

Windows run from the run date of the last sealed refresh before this one (that day again:
changes made later on it were not listed yet) to the run date; the first time from `--since`,
or else from the first date with landed details.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

from cinelake.errors import ObjectConflict, RunError
from cinelake.lake import layout
from cinelake.store.base import META_RUN_ID, Store
from cinelake.tmdb.client import TmdbAnswer, TmdbClient
from cinelake.tmdb.plans import changes_windows, request_of
from cinelake.tmdb.request import TmdbIngestRequest
from cinelake.tmdb.tracked import earliest_details_date, tracked_titles

log = logging.getLogger(__name__)

KINDS = ("movie", "tv")


class PlanningStopped(RunError):
    """The run's time ran out while the pages were asked: the next run plans again."""


def window_start(request: TmdbIngestRequest, store: Store) -> date | None:
    """Where this run date's windows begin; None when the lake holds no title at all."""
    if request.since is not None:
        return request.since
    last = last_refreshed_before(store, request.run_date)
    if last is not None:
        return last
    earliest = earliest_details_date(store)
    if earliest is None:
        return None
    return min(earliest, request.run_date)


def last_refreshed_before(store: Store, day: date) -> date | None:
    latest: date | None = None
    for info in store.list(layout.REFRESHED_PREFIX):
        name = info.key.rsplit("/", 1)[-1].removesuffix(".json")
        try:
            refreshed = date.fromisoformat(name)
        except ValueError:
            continue
        if refreshed < day and (latest is None or refreshed > latest):
            latest = refreshed
    return latest


def refresh_identity(request: TmdbIngestRequest, store: Store) -> dict[str, Any]:
    start = window_start(request, store)
    return {"since": start.isoformat() if start else None}


def refresh_items(
    request: TmdbIngestRequest,
    store: Store,
    client: TmdbClient,
    start: date | None,
    prefetched: dict[str, TmdbAnswer],
) -> tuple[list[str], list[str], dict[str, int], list[str]]:
    """The pages, the tracked ids that changed, the plan's counts, and notes for the manifest."""
    tracked = tracked_titles(store)
    facts = {"tracked": len(tracked), "changed": 0}
    if start is None or not tracked:
        return [], [], facts, ["no title is tracked yet (no details landed): nothing to refresh"]
    pages: list[str] = []
    direct: list[str] = []
    for kind in KINDS:
        changed: set[int] = set()
        for first, end in changes_windows(start, request.run_date):
            page, total = 1, 1
            while page <= total:
                item = f"refresh-{kind}:{first}:{end}:{page}"
                answer = client.get(*request_of(item, (), {}))
                if answer.error == "interrupted":
                    raise PlanningStopped(
                        "stopped (deadline or signal) before the refresh was planned; nothing "
                        "was planned, run the same command again"
                    )
                if not answer.ok:
                    raise RunError(
                        f"{answer.endpoint}: failed ({answer.error or answer.status}) while the "
                        "refresh was planned; nothing was planned, run the same command again"
                    )
                body = json.loads(answer.body)
                total = int(body.get("total_pages", 1) or 1)
                changed.update(int(r["id"]) for r in body.get("results", []) if "id" in r)
                prefetched[item] = answer
                pages.append(item)
                page += 1
        facts["changed"] += len(changed)
        direct.extend(f"{kind}:{number}" for number in sorted(changed & tracked.of_kind(kind)))
    windows = len(changes_windows(start, request.run_date))
    notes = [
        f"{facts['changed']} titles changed on TMDB from {start} to {request.run_date} "
        f"({windows} window{'s' if windows > 1 else ''}); {len(direct)} of the "
        f"{facts['tracked']} tracked titles are among them"
    ]
    return pages, direct, facts, notes


def record_refreshed(store: Store, day: date, plan_id: str, run_id: str) -> None:
    """Once the day's refresh is sealed, the next refresh starts from here."""
    complete = f"{layout.state_prefix(day, plan_id)}complete.json"
    key = layout.refreshed_key(day)
    if store.head(complete) is None or store.head(key) is not None:
        return
    body = json.dumps({"plan_id": plan_id, "run_id": run_id, "until": day.isoformat()})
    try:
        store.put_bytes(key, body.encode(), {META_RUN_ID: run_id})
    except ObjectConflict:  # another run of the same day recorded it first
        log.info("refresh of %s already recorded", day, extra={"event": "tmdb.refresh_recorded"})
