"""The titles the lake already holds, read from the lake itself: no second database.

A title is tracked once its details landed under `Movies/` or `Series/` (any date, any plan).
Every details file names its items in its metadata (`movie:550`, `tv:1399`), so one listing
and one HEAD per file (at most 100 titles each) are enough; a file of movies asked by IMDb id
also names the TMDB ids it holds (`cinelake-titles`), and only a file without either (edited
by hand, say) is read, line by line. Memory holds the ids alone, as two sets of integers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from itertools import islice

from cinelake.lake import layout
from cinelake.store.base import ObjectInfo, Store
from cinelake.tmdb.checkpoints import META_ITEMS, META_TITLES, decode_items
from cinelake.tmdb.inputs import stream_lines

DETAILS_STRUCTURES = {"Movies": "movie", "Series": "tv"}
_HEADS_IN_FLIGHT = 16
_CHUNK = 512


@dataclass
class TrackedTitles:
    movie: set[int] = field(default_factory=set)
    tv: set[int] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.movie) + len(self.tv)

    def of_kind(self, kind: str) -> set[int]:
        return self.movie if kind == "movie" else self.tv


def earliest_details_date(store: Store) -> date | None:
    """The first partition date with landed details: where a first refresh starts."""
    earliest: date | None = None
    for structure in DETAILS_STRUCTURES:
        for info in store.list(f"{layout.RAW}/TMDB/JSON/{structure}/"):
            where = layout.partition_of(info.key)
            if where is not None and (earliest is None or where[1] < earliest):
                earliest = where[1]
    return earliest


def tracked_titles(store: Store) -> TrackedTitles:
    """Every movie and series id whose details landed, streamed in chunks of files."""
    tracked = TrackedTitles()
    with ThreadPoolExecutor(_HEADS_IN_FLIGHT, thread_name_prefix="cinelake-tracked") as pool:
        for structure in DETAILS_STRUCTURES:
            listing = _details_files(store, structure)
            while chunk := list(islice(listing, _CHUNK)):
                for titles in pool.map(_FileTitles(store), chunk):
                    for kind, number in titles:
                        tracked.of_kind(kind).add(number)
    return tracked


def _details_files(store: Store, structure: str) -> Iterator[ObjectInfo]:
    for info in store.list(f"{layout.RAW}/TMDB/JSON/{structure}/"):
        if layout.partition_of(info.key) is not None:
            yield info


class _FileTitles:
    """One file's titles: from its metadata when it has them, from its records otherwise."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(self, info: ObjectInfo) -> list[tuple[str, int]]:
        head = self.store.head(info.key)
        if head is None:  # deleted while listed
            return []
        for name in (META_TITLES, META_ITEMS):
            if name in head.metadata:
                parsed = _parsed(decode_items(head.metadata[name]))
                if parsed is not None:
                    return parsed
        return self._from_records(info.key)

    def _from_records(self, key: str) -> list[tuple[str, int]]:
        kind = DETAILS_STRUCTURES[key.split("/")[3]]
        titles = []
        with self.store.open_read(key) as reader:
            for line in stream_lines(reader):
                try:
                    number = json.loads(line).get("id")
                except (ValueError, AttributeError):
                    continue
                if isinstance(number, int):
                    titles.append((kind, number))
        return titles


def _parsed(items: list[str]) -> list[tuple[str, int]] | None:
    """`movie:550` items as (kind, id); None when one is not of that form (an IMDb id)."""
    titles = []
    for item in items:
        kind, _, ref = item.partition(":")
        if kind not in {"movie", "tv"} or not ref.isdigit():
            return None
        titles.append((kind, int(ref)))
    return titles
