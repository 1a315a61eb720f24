"""Which item each TMDB record answered, in files engines can read beside the data.

A `/find` body does not contain the IMDb id it answered, and object metadata (where each file
lists its items, `cinelake-items`) is invisible to Athena, Spark and DuckDB. So every record
file gets an index file at `Raw/_index/<same path>`: one JSON line per record, in record order,
with the data file's key, the record's line number, the SHA-256 of its text, the occurrence of
that text in the file, the request cinelake made (`find-movie:tt0068646`) and the item the body
answers (`tt0068646`).

Engines cannot number lines, but every engine can hash a string: identical record texts in one
file are interchangeable, so joining on (key, SHA-256, occurrence) pairs each text with the
right items whatever order an engine reads them in.

An index is derived data: its bytes follow from the record file and its metadata alone, so a
write is idempotent (same key, same bytes), and a missing one is rebuilt by `index_missing`.
Writing one never blocks landing the data it describes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence

from cinelake.errors import StoreError
from cinelake.lake import layout
from cinelake.store.base import Store

log = logging.getLogger(__name__)

META_ITEMS = "cinelake-items"
INDEXED_STRUCTURES = ("Movies", "Series", "Find", "Discover", "Changes")
"""Record structures; errors lines name their item themselves."""


def encode_items(items: Sequence[str]) -> str:
    """Item lists ride in object metadata (2 KB on S3): compressed, they fit 100 items."""
    return base64.b64encode(zlib.compress("\n".join(items).encode(), 9)).decode("ascii")


def decode_items(text: str) -> list[str]:
    return zlib.decompress(base64.b64decode(text)).decode().split("\n")


def answered_item(request: str) -> str:
    """What a body answers: the IMDb id it was asked by (`/find`, or a movie asked by IMDb id,
    whose `/find` fallback lands in Find), else the request's own name (`movie:550`)."""
    kind, _, ref = request.partition(":")
    return ref if kind.startswith("find") or kind == "imdb-movie" else request


def index_bytes(data_key: str, records: Sequence[bytes], requests: Sequence[str]) -> bytes:
    if len(records) != len(requests):
        raise ValueError(f"{data_key}: {len(records)} records but {len(requests)} items")
    seen: Counter[str] = Counter()
    lines = []
    for number, (record, request) in enumerate(zip(records, requests, strict=True), start=1):
        digest = hashlib.sha256(record).hexdigest()
        seen[digest] += 1
        entry = {
            "data_key": data_key,
            "line": number,
            "sha256": digest,
            "occurrence": seen[digest],
            "request": request,
            "item": answered_item(request),
        }
        lines.append(json.dumps(entry, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode()


def write_index(
    store: Store, data_key: str, records: Sequence[bytes], requests: Sequence[str]
) -> bool:
    """Land the index of one record file; a failure is logged, never raised: the data landed."""
    key = layout.index_key(data_key)
    try:
        store.put_bytes(key, index_bytes(data_key, records, requests))
    except (StoreError, OSError, ValueError) as exc:
        log.warning(
            "%s: could not write its index (%s); `cinelake catalog` rebuilds it",
            data_key,
            exc,
            extra={"event": "index.write_failed", "key": key},
        )
        return False
    return True


def record_keys(store: Store, structure: str) -> Iterator[str]:
    prefix = f"{layout.RAW}/TMDB/JSON/{structure}/"
    for info in store.list(prefix):
        if layout.partition_of(info.key) is not None and info.key.endswith(".json"):
            yield info.key


def index_missing(store: Store) -> int:
    """Index the record files landed before indexes existed (or whose index write failed).

    Reads each such file's item list from its metadata; a file without one cannot be indexed
    and is reported. Returns how many indexes were written.
    """
    written = 0
    for structure in INDEXED_STRUCTURES:
        index_prefix = layout.index_key(f"{layout.RAW}/TMDB/JSON/{structure}/")
        indexed = {info.key for info in store.list(index_prefix)}
        for key in record_keys(store, structure):
            if layout.index_key(key) in indexed:
                continue
            head = store.head(key)
            if head is None or META_ITEMS not in head.metadata:
                log.warning(
                    "%s carries no item list; its records cannot be traced to their requests",
                    key,
                    extra={"event": "index.no_items", "key": key},
                )
                continue
            records = store.get_bytes(key).removesuffix(b"\n").split(b"\n")
            if write_index(store, key, records, decode_items(head.metadata[META_ITEMS])):
                written += 1
    return written
