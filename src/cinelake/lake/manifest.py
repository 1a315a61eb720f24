"""The run manifest: what a run saw and did, written last, one schema for every command.

A manifest is the completion marker of a run and the lineage of every object it names:
readers (`status`, `verify`, later layers) trust manifests, never bare listings.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from cinelake import __version__
from cinelake.lake import layout
from cinelake.logs import emf_fields
from cinelake.store.base import Store

log = logging.getLogger(__name__)

SCHEMA = "cinelake.run-manifest/1"

ObjectState = Literal["written", "unchanged", "conflict", "failed"]
RunStatus = Literal["succeeded", "partial", "failed"]

METRIC_NAMES = {
    "http_requests": "Requests",
    "http_retries": "Retries",
    "http_429": "Throttled429",
    "landed": "RecordsLanded",
    "not_found": "NotFound",
    "failed": "Failed",
    "written": "FilesWritten",
    "unchanged": "FilesUnchanged",
    "conflict": "Conflicts",
}
"""Manifest count -> CloudWatch metric name; a run emits those its manifest has."""


def new_run_id(now: datetime | None = None) -> str:
    """Sortable by start time, unique without coordination."""
    moment = now or datetime.now(UTC)
    return f"{moment.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class ManifestObject:
    """One object the run touched, with enough to trace and re-check it."""

    key: str
    source: str
    bytes: int | None
    sha256: str | None
    records: int | None
    state: ObjectState
    error: str | None = None
    structure: str | None = None
    checksum_algorithm: str | None = None
    checksum: str | None = None
    verified_by: str | None = None
    md5: str | None = None
    """Only where the store returns no checksum: `verify` compares it with a single-part ETag."""
    etag: str | None = None
    """As landed: a re-run recognises the object by it, an overwrite changes it."""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunManifest:
    run_id: str
    command: str
    partition_date: date
    lake: str
    started_at: str = field(default_factory=utc_now)
    finished_at: str | None = None
    status: RunStatus = "failed"
    objects: list[ManifestObject] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    cinelake_version: str = __version__

    @property
    def key(self) -> str:
        return layout.manifest_key(self.partition_date, self.run_id)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["partition_date"] = self.partition_date.isoformat()
        return {"schema": SCHEMA, **data}

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2).encode("utf-8") + b"\n"

    def finish(self, status: RunStatus) -> None:
        self.status = status
        self.finished_at = utc_now()

    def log_finished(self) -> None:
        """One line per run; as JSON it is also an EMF document carrying the run's counts."""
        log.info(
            "run %s %s",
            self.run_id,
            self.status,
            extra={
                "event": "run.finished",
                "status": self.status,
                "manifest": self.key,
                **emf_fields(self.metric_dimensions(), self.metrics()),
            },
        )

    def metric_dimensions(self) -> dict[str, str]:
        """`ingest-tmdb --daily` is command `ingest-tmdb`, plan `daily`; CSV runs: plan `files`."""
        command = self.command.split()[0]
        return {"command": command, "plan": str(self.options.get("plan") or "files")}

    def metrics(self) -> dict[str, tuple[float, str]]:
        """The manifest's counts under metric names, plus duration, hops and success."""
        found: dict[str, tuple[float, str]] = {
            name: (self.counts[count], "Count")
            for count, name in METRIC_NAMES.items()
            if count in self.counts
        }
        started = datetime.fromisoformat(self.started_at)
        finished = datetime.fromisoformat(self.finished_at or utc_now())
        found["DurationSeconds"] = ((finished - started).total_seconds(), "Seconds")
        found["Hops"] = (1, "Count")
        found["Succeeded"] = (int(self.status == "succeeded"), "Count")
        return found

    def write(self, store: Store) -> None:
        """Written last and never overwritten: the run id makes the key unique."""
        store.put_bytes(self.key, self.to_json(), {"cinelake-run-id": self.run_id})


def status_from_states(states: list[ObjectState], *, stopped_early: bool = False) -> RunStatus:
    bad = sum(1 for s in states if s in {"failed", "conflict"})
    if bad == 0 and not stopped_early:
        return "succeeded"
    if bad == len(states) and not stopped_early:
        return "failed"
    return "partial"


def parse_manifest(raw: bytes) -> dict[str, Any]:
    data = json.loads(raw)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError("not a cinelake run manifest")
    return data
