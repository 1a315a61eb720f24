"""Pure: what one TMDB answer means for the lake (records, errors, follow-up items).

The same function classifies a fresh answer and a body recovered from a file an interrupted
run had landed, so a resumed run reaches exactly the decisions the first one would have.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

from cinelake.tmdb.client import TmdbAnswer
from cinelake.tmdb.find_hits import NO_HIT_MESSAGE, csv_kind_of, find_hits

State = Literal["landed", "not_found", "failed", "interrupted"]

STRUCTURE_OF_KIND = {
    "movie": "Movies",
    "tv": "Series",
    "find": "Find",
    "find-movie": "Find",
    "find-tv": "Find",
    "discover-movie": "Discover",
    "discover-tv": "Discover",
    "changes-movie": "Changes",
    "changes-tv": "Changes",
    "refresh-movie": "Changes",
    "refresh-tv": "Changes",
    "imdb-movie": "Movies",
}


@dataclass
class Outcome:
    item: str
    state: State
    record: bytes | None = None
    compacted: bool = False
    children: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    find_counts: tuple[str, ...] = ()
    """What a `/find` answer showed that the manifest counts (see `find_hits.FIND_COUNTS`)."""
    landed_as: str | None = None
    """Where the record goes when not where its kind says (an IMDb-id movie found by /find)."""

    @property
    def structure(self) -> str:
        return self.landed_as or STRUCTURE_OF_KIND[self.item.partition(":")[0]]

    @cached_property
    def title(self) -> str:
        """`movie:550`: the title a details record holds, read from its `id` once, however
        many places (file metadata, batch marker) need it."""
        kind = "movie" if self.structure == "Movies" else "tv"
        return f"{kind}:{int(json.loads(self.record or b'{}')['id'])}"

    @property
    def worth_asking_again(self) -> bool:
        """A failure a later run may cure: no answer, a cut body, 408, 429 or 5xx.

        Only a 4xx refusal (bad request, unauthorised...) is final: asking again changes nothing.
        """
        if self.state != "failed":
            return False
        status = (self.error or {}).get("http_status")
        return status is None or not 400 <= int(status) < 500 or status in {408, 429}


def as_record(body: bytes) -> tuple[bytes, bool]:
    """A JSON Lines record: the body untouched, unless it holds a raw line break.

    Only then is it re-serialised compactly (and flagged), because one record must be one line.
    """
    if b"\n" not in body and b"\r" not in body:
        return body, False
    parsed = json.loads(body)
    return json.dumps(parsed, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), True


def classify(item: str, answer: TmdbAnswer) -> Outcome:
    if answer.error == "interrupted":
        return Outcome(item, "interrupted")
    if answer.ok:
        record, compacted = as_record(answer.body)
        return from_body(item, record, compacted=compacted, attempts=answer.attempts)
    code, message = answer.tmdb_status()
    state: State = "not_found" if answer.status == 404 else "failed"
    return Outcome(
        item,
        state,
        error=error_record(
            item,
            answer.endpoint,
            answer.status,
            code,
            message or answer.error,
            answer.attempts,
            reason="not found" if state == "not_found" else "retries exhausted or refused",
        ),
    )


def from_body(
    item: str, record: bytes, *, compacted: bool = False, attempts: int | None
) -> Outcome:
    """Derive follow-up items (and not-found errors) from a landed record."""
    kind, _, ref = item.partition(":")
    outcome = Outcome(item, "landed", record=record, compacted=compacted)
    if not kind.startswith(("find", "changes-")):
        return outcome
    parsed = json.loads(record)
    if kind.startswith("changes-"):
        detail_kind = kind.removeprefix("changes-")
        outcome.children = [
            f"{detail_kind}:{int(r['id'])}" for r in parsed.get("results", []) if "id" in r
        ]
        return outcome
    hits = find_hits(parsed, csv_kind_of(item))
    outcome.children = list(hits.titles)
    outcome.find_counts = hits.counts
    if hits.no_hit:
        outcome.state = "not_found"
        outcome.error = error_record(
            item,
            f"/find/{ref}?external_source=imdb_id",
            200,
            None,
            NO_HIT_MESSAGE,
            attempts,
            reason="not found",
        )
    return outcome


def error_record(  # noqa: PLR0917 - the errors file's columns, in their order
    item: str,
    endpoint: str,
    status: int | None,
    code: int | None,
    message: str | None,
    attempts: int | None,
    *,
    reason: str,
) -> dict[str, Any]:
    return {
        "item": item,
        "endpoint": endpoint,
        "http_status": status,
        "status_code": code,
        "status_message": message,
        "reason": reason,
        "attempts": attempts,
        "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
