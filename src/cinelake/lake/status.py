"""What the lake holds, answered from the run manifests alone.

Manifests are the lake's completion markers and lineage (see `cinelake.lake.manifest`), so they are
enough to say what landed, when and how each run ended. Reading them instead of the data keeps
`status` fast and cheap whatever the size of the data: it lists `Raw/_manifests/` for the dates
asked and GETs each (small) manifest, and never HEADs or reads a data object.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from cinelake.lake import layout
from cinelake.lake.manifest import parse_manifest
from cinelake.store.base import Store

LANDED_STATES = frozenset({"written", "unchanged"})
FAILED_STATES = frozenset({"failed", "conflict"})
ERRORS_SOURCE = "TMDB Errors"

_MANIFEST_KEY = re.compile(r"^Raw/_manifests/(\d{4})/(\d{2})/(\d{2})/([^/]+)\.json$")
_PER_DAY_LISTING_MAX_DAYS = 31
"""Up to a month, one listing per day is cheaper than listing every manifest ever written."""


@dataclass(frozen=True)
class Manifest:
    """A manifest as read from the lake, or why it could not be read."""

    key: str
    day: date
    data: dict[str, Any] | None
    error: str | None = None

    @property
    def run_order(self) -> tuple[str, int, str]:
        """Runs compare by finish time, which has one-second resolution.

        Within one second the order cannot be known, so a failing run counts as the later one:
        a tie never hides a failure. The run id then makes the order total.
        """
        data = self.data or {}
        finished = str(data.get("finished_at") or data.get("started_at") or "")
        rank = {"succeeded": 0, "partial": 1}.get(str(data.get("status")), 2)
        return finished, rank, str(data.get("run_id") or "")


def manifest_day(key: str) -> date | None:
    match = _MANIFEST_KEY.match(key)
    return layout.day_of(*match.group(1, 2, 3)) if match else None


def in_range(day: date, since: date | None, until: date | None) -> bool:
    return (since is None or day >= since) and (until is None or day <= until)


def manifest_keys(store: Store, since: date | None, until: date | None) -> Iterator[str]:
    """Manifest keys for the dates asked, in key order (date, then run id = start time)."""
    if since is not None and until is not None and since > until:
        return
    if since is not None and until is not None and (until - since).days < _PER_DAY_LISTING_MAX_DAYS:
        prefixes = [
            layout.manifest_prefix(date.fromordinal(n))
            for n in range(since.toordinal(), until.toordinal() + 1)
        ]
    else:
        prefixes = [layout.manifest_prefix()]
    for prefix in prefixes:
        for info in store.list(prefix):
            day = manifest_day(info.key)
            if day is not None and in_range(day, since, until):
                yield info.key


def read_manifest(store: Store, key: str) -> Manifest:
    day = manifest_day(key)
    if day is None:
        raise ValueError(f"{key} is not a manifest key")
    try:
        data = parse_manifest(store.get_bytes(key))
    except FileNotFoundError:
        return Manifest(key, day, None, "vanished while being read")
    except (ValueError, UnicodeDecodeError) as exc:
        return Manifest(key, day, None, f"unreadable ({exc})")
    if not isinstance(data.get("objects", []), list):
        return Manifest(key, day, None, "unreadable (objects is not a list)")
    return Manifest(key, day, data)


def iter_manifests(store: Store, since: date | None, until: date | None) -> Iterator[Manifest]:
    """Each manifest in range, one at a time, so callers hold one manifest in memory."""
    for key in manifest_keys(store, since, until):
        yield read_manifest(store, key)


def manifest_objects(manifest: Manifest) -> Iterator[dict[str, Any]]:
    for obj in (manifest.data or {}).get("objects") or []:
        if isinstance(obj, dict) and isinstance(obj.get("key"), str) and obj["key"]:
            yield obj


# Status -----------------------------------------------------------------------------------
@dataclass
class StatusRow:
    """One source on one partition date, aggregated over every run that touched it."""

    source: str
    date: date
    objects: int = 0
    records: int = 0
    bytes: int = 0
    runs: int = 0
    last_run_id: str | None = None
    last_run_finished_at: str | None = None
    last_run_status: str | None = None
    not_found: int = 0
    failed: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["date"] = self.date.isoformat()
        return data


@dataclass
class StatusReport:
    rows: list[StatusRow] = field(default_factory=list)
    manifests: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    """(manifest key, reason) for manifests that could not be parsed."""

    @property
    def objects(self) -> int:
        return sum(r.objects for r in self.rows)

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.rows)


@dataclass
class _Landed:
    bytes: int
    records: int


@dataclass
class _RowBuilder:
    """Latest listing per key, so a key landed by one run and `unchanged` in another counts once."""

    landed: dict[str, _Landed] = field(default_factory=dict)
    latest: dict[str, tuple[tuple[str, int, str], bool]] = field(default_factory=dict)
    """Per key: the order of the run that listed it last, and whether that listing failed."""
    runs: set[str] = field(default_factory=set)
    last: Manifest | None = None
    item_counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    """TMDB item counts (not found, failed) of the latest run of each plan."""

    def saw_run(self, manifest: Manifest) -> None:
        self.runs.add(manifest.key)
        if self.last is None or manifest.run_order >= self.last.run_order:
            self.last = manifest

    def saw_object(self, manifest: Manifest, obj: dict[str, Any]) -> None:
        key, state, order = obj["key"], obj.get("state"), manifest.run_order
        if state not in LANDED_STATES and state not in FAILED_STATES:
            return
        known = self.latest.get(key)
        if known is not None and order < known[0]:
            # An older listing: it can still say what landed, if nothing newer landed it.
            if state in LANDED_STATES and key not in self.landed:
                self.landed[key] = _Landed(_int(obj.get("bytes")), _int(obj.get("records")))
            return
        self.latest[key] = (order, state in FAILED_STATES)
        if state in LANDED_STATES:
            self.landed[key] = _Landed(_int(obj.get("bytes")), _int(obj.get("records")))
        # A failed listing leaves an earlier landing counted: those bytes are still there.

    @property
    def failed_keys(self) -> int:
        return sum(1 for _, failed in self.latest.values() if failed)


def lake_status(store: Store, since: date | None = None, until: date | None = None) -> StatusReport:
    """One row per (source, partition date) in range, built from manifests only."""
    report = StatusReport()
    rows: dict[tuple[date, str], _RowBuilder] = {}
    tmdb_latest: dict[tuple[date, str], Manifest] = {}
    for manifest in iter_manifests(store, since, until):
        report.manifests += 1
        if manifest.data is None:
            report.unreadable.append((manifest.key, manifest.error or "unreadable"))
            continue
        for obj in manifest_objects(manifest):
            where = layout.partition_of(obj["key"])
            if where is None or not in_range(where[1], since, until):
                continue
            row = rows.setdefault((where[1], where[0]), _RowBuilder())
            row.saw_run(manifest)
            row.saw_object(manifest, obj)
        if _reports_tmdb_items(manifest.data):
            plan = str((manifest.data.get("options") or {}).get("plan_id") or manifest.key)
            slot = (manifest.day, plan)
            known = tmdb_latest.get(slot)
            if known is None or manifest.run_order >= known.run_order:
                tmdb_latest[slot] = manifest
    _attribute_tmdb_items(rows, tmdb_latest)
    for (day, source), built in sorted(rows.items()):
        last = built.last.data if built.last and built.last.data else {}
        items_not_found = sum(n for n, _ in built.item_counts.values())
        items_failed = sum(f for _, f in built.item_counts.values())
        report.rows.append(
            StatusRow(
                source=source,
                date=day,
                objects=len(built.landed),
                records=sum(o.records for o in built.landed.values()),
                bytes=sum(o.bytes for o in built.landed.values()),
                runs=len(built.runs),
                last_run_id=_str_or_none(last.get("run_id")),
                last_run_finished_at=_str_or_none(last.get("finished_at")),
                last_run_status=_str_or_none(last.get("status")),
                not_found=items_not_found,
                failed=items_failed + built.failed_keys,
            )
        )
    return report


def _attribute_tmdb_items(
    rows: dict[tuple[date, str], _RowBuilder], tmdb_latest: dict[tuple[date, str], Manifest]
) -> None:
    """TMDB counts items per run, not per structure; they go on the `TMDB Errors` row.

    That is where the not-found and failed answers themselves are kept, so the row's records
    and its item counts describe the same things, and summing the column never counts an item
    twice. A resumed run reports the whole plan, so only the latest run of each plan counts.
    """
    for (day, plan), manifest in tmdb_latest.items():
        if manifest.data is None:
            continue
        counts = manifest.data.get("counts") or {}
        not_found, failed = _int(counts.get("not_found")), _int(counts.get("failed"))
        row = rows.setdefault((day, ERRORS_SOURCE), _RowBuilder())
        row.saw_run(manifest)
        row.item_counts[plan] = (not_found, failed)


def _reports_tmdb_items(data: dict[str, Any]) -> bool:
    """A run stopped by Ctrl-C or an error lists its files but counts no items: the plan's
    counts are still those of its last run that reported them (none yet, if the first run of
    a plan was stopped: the next run of the same command counts its errors files)."""
    counts = data.get("counts")
    return (
        str(data.get("command", "")).startswith("ingest-tmdb")
        and isinstance(counts, dict)
        and any(name in counts for name in ("requested", "not_found", "failed"))
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
