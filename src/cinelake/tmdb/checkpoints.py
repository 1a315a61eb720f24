"""What a phase leaves in the lake, and how a later run reads it back.

Record files carry their items in compressed metadata; batch markers and plans are JSON
checkpoints. Both are read by runs that resume a plan, and by `verify`-like tools.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from cinelake.errors import RunError
from cinelake.lake.manifest import ManifestObject
from cinelake.lake.record_index import META_ITEMS, decode_items, encode_items
from cinelake.tmdb.outcomes import Outcome

__all__ = [  # the item list's codec moved to the lake layer, which indexes records with it
    "MAX_FILE_BYTES",
    "META_ITEMS",
    "META_PLAN",
    "META_TITLES",
    "decode_items",
    "encode_items",
    "manifest_object",
    "marker_entry",
    "parse_checkpoint",
    "split_records",
    "titles_of_records",
]

META_PLAN = "cinelake-plan"
META_TITLES = "cinelake-titles"
"""On a details file holding movies asked by IMDb id: the TMDB ids of its records, in order."""
MAX_FILE_BYTES = 10 * 1000 * 1000


def titles_of_records(outcomes: Sequence[Outcome], kind: str) -> list[str] | None:
    """`movie:550` for each record, when some item does not name its TMDB id itself."""
    if all(o.item.partition(":")[0] == kind for o in outcomes):
        return None
    return [o.title for o in outcomes]


def split_records(outcomes: Sequence[Outcome], max_records: int) -> Iterable[list[Outcome]]:
    """At most `max_records` and about 10 MB a file."""
    chunk: list[Outcome] = []
    size = 0
    for outcome in outcomes:
        length = len(outcome.record or b"") + 1
        if chunk and (len(chunk) >= max_records or size + length > MAX_FILE_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(outcome)
        size += length
    if chunk:
        yield chunk


def manifest_object(entry: dict[str, Any], plan_id: str, *, recovered: bool) -> ManifestObject:
    details: dict[str, Any] = {"plan_id": plan_id}
    if recovered:
        details["adopted"] = "landed by an interrupted run of the same plan"
    return ManifestObject(
        key=entry["key"],
        source="TMDB API",
        bytes=entry["bytes"],
        sha256=entry["sha256"],
        records=entry["records"],
        state="written",
        structure=entry["structure"],
        checksum_algorithm=entry["checksum_algorithm"],
        checksum=entry["checksum"],
        verified_by=entry["verified_by"],
        md5=entry.get("md5"),
        etag=entry.get("etag"),
        details=details,
    )


def parse_checkpoint(key: str, raw: bytes) -> dict[str, Any]:
    """A checkpoint someone edited or truncated stops the plan with its name, not a traceback."""
    try:
        loaded = json.loads(raw)
    except ValueError:
        loaded = None
    if not isinstance(loaded, dict):
        raise RunError(
            f"{key}: this checkpoint is not what cinelake wrote (edited or truncated?); restore "
            "it, or move the plan's Raw/_state folder aside to start the plan over"
        )
    return loaded


def marker_entry(outcome: Outcome) -> dict[str, Any]:
    entry: dict[str, Any] = {"state": outcome.state, "children": outcome.children}
    if outcome.find_counts:
        entry["find"] = list(outcome.find_counts)
    landed_details = outcome.state == "landed" and outcome.structure == "Movies"
    if landed_details and outcome.item.startswith("imdb-movie:"):
        # A lookup that landed the details itself: the title, so no other lookup of the plan
        # that reaches it through another IMDb id fetches it again.
        entry["details"] = outcome.title
    if outcome.state == "failed" and not outcome.worth_asking_again:
        entry["retry"] = False
    return entry
