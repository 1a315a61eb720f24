"""The raw zone described as tables: what an engine needs to read each dataset as it landed.

One description, rendered three ways (Athena DDL, the Glue Data Catalog, DuckDB SQL), so the
engines agree on names and columns. Nothing is typed or cleaned: CSV columns are strings named
from the landed header, and each TMDB record is kept whole in `record`, with a few top-level
fields extracted by the engine itself. Locations never reach `Raw/_manifests`, `Raw/_state`,
`Raw/_index` (read only through its own table) or a local lake's `.cinelake/` sidecars.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from cinelake.errors import InputError
from cinelake.lake import layout
from cinelake.lake.record_index import index_missing
from cinelake.lake.status import iter_manifests, manifest_objects
from cinelake.store.base import Store

HEADER_READ_LIMIT = 1024 * 1024
"""A header longer than this is not a header: the first MiB names the columns."""
RESERVED_COLUMNS = ("dt", "file")
DT_FORMAT = "yyyy/MM/dd"
"""Athena's projection format: the `YYYY/MM/DD` folders of every raw key."""
PROJECTION_START = "2020/01/01"

_CSV_KEY = re.compile(r"^Raw/Local/CSV/([A-Za-z]+)/(\d{4})/(\d{2})/(\d{2})/[^/]+$")


@dataclass(frozen=True)
class Field:
    """A top-level value an engine extracts from a record: `path` is a JSONPath (`$.id`)."""

    name: str
    path: str


@dataclass(frozen=True)
class CsvFile:
    key: str
    valid_utf8: bool
    """False when its manifest counted invalid UTF-8 lines (DuckDB refuses those as UTF-8)."""


@dataclass(frozen=True)
class CsvTable:
    dataset: str
    columns: tuple[str, ...]
    header_key: str
    """The newest landed file of the dataset: its header names the columns."""
    files: tuple[CsvFile, ...]

    @property
    def name(self) -> str:
        return f"csv_{self.dataset.lower()}"

    @property
    def prefix(self) -> str:
        return f"{layout.RAW}/Local/CSV/{self.dataset}/"


@dataclass(frozen=True)
class TmdbTable:
    structure: str
    fields: tuple[Field, ...]

    @property
    def name(self) -> str:
        return f"tmdb_{self.structure.lower()}"

    @property
    def prefix(self) -> str:
        return f"{layout.RAW}/TMDB/JSON/{self.structure}/"

    @property
    def joins_index(self) -> bool:
        """Bodies that do not say what was asked: the item comes from the record index."""
        return self.structure in {"Find", "Discover", "Changes"}

    @property
    def has_latest(self) -> bool:
        """Title structures: a refresh lands a title again on a later date."""
        return self.structure in {"Movies", "Series"}


@dataclass(frozen=True)
class LakeCatalog:
    csv: tuple[CsvTable, ...]
    tmdb: tuple[TmdbTable, ...]
    has_index: bool = False
    indexes_written: int = 0

    @property
    def needs_index(self) -> bool:
        return any(t.joins_index for t in self.tmdb)


TMDB_FIELDS: dict[str, tuple[Field, ...]] = {
    "Movies": (Field("id", "$.id"), Field("imdb_id", "$.imdb_id")),
    "Series": (Field("id", "$.id"), Field("imdb_id", "$.external_ids.imdb_id")),
    "Find": (),
    "Discover": (Field("page", "$.page"),),
    "Changes": (Field("page", "$.page"),),
    "Errors": (
        Field("item", "$.item"),
        Field("endpoint", "$.endpoint"),
        Field("http_status", "$.http_status"),
        Field("reason", "$.reason"),
    ),
}
INDEX_COLUMNS = ("data_key", "line", "sha256", "occurrence", "request", "item")
INDEX_TABLE = "tmdb_index"


def describe_lake(store: Store, *, build_index: bool = True) -> LakeCatalog:
    """Every dataset landed in the lake; refuses a lake with nothing landed.

    With `build_index`, record files landed before indexes existed are indexed first (from
    their metadata), so the Find view of an older lake works too.
    """
    written = index_missing(store) if build_index else 0
    csv = _csv_tables(store)
    tmdb = tuple(
        TmdbTable(structure, TMDB_FIELDS[structure])
        for structure in layout.TMDB_STRUCTURES
        if _has_data(store, f"{layout.RAW}/TMDB/JSON/{structure}/")
    )
    if not csv and not tmdb:
        raise InputError(
            f"{store.url}: nothing has landed in this lake yet (no Raw/Local/CSV or "
            "Raw/TMDB/JSON data); run `cinelake ingest-csv` first, or point --lake at a lake"
        )
    has_index = next(iter(store.list(f"{layout.INDEX}/TMDB/JSON/")), None) is not None
    return LakeCatalog(csv, tmdb, has_index, written)


def column_names(header: list[str]) -> tuple[str, ...]:
    """Header fields as column names engines accept: unique whatever the case, none empty.

    `dt` and `file` are the columns every table adds, so a header field of that name is
    suffixed rather than hidden.
    """
    names: list[str] = []
    taken: set[str] = set(RESERVED_COLUMNS)
    for number, raw in enumerate(header, start=1):
        name = raw.strip() or f"column_{number}"
        candidate, suffix = name, 2
        while candidate.lower() in taken:
            candidate = f"{name}_{suffix}"
            suffix += 1
        taken.add(candidate.lower())
        names.append(candidate)
    return tuple(names)


def read_header(store: Store, key: str) -> list[str]:
    """The first line, without a BOM or CR, decoded as UTF-8 (a bad byte becomes U+FFFD)."""
    with store.open_read(key) as reader:
        head = reader.read(HEADER_READ_LIMIT)
    line = head.split(b"\n", 1)[0].removesuffix(b"\r").removeprefix(b"\xef\xbb\xbf")
    return line.decode("utf-8", errors="replace").split("|")


def _csv_tables(store: Store) -> tuple[CsvTable, ...]:
    by_dataset: dict[str, list[tuple[date, str]]] = {}
    for info in store.list(f"{layout.RAW}/Local/CSV/"):
        match = _CSV_KEY.match(info.key)
        day = match and layout.day_of(*match.group(2, 3, 4))
        if match and day:
            by_dataset.setdefault(match.group(1), []).append((day, info.key))
    if not by_dataset:
        return ()
    invalid = _files_with_invalid_utf8(store)
    tables = []
    for dataset, files in sorted(by_dataset.items()):
        files.sort()
        header_key = files[-1][1]
        tables.append(
            CsvTable(
                dataset=dataset,
                columns=column_names(read_header(store, header_key)),
                header_key=header_key,
                files=tuple(CsvFile(key, key not in invalid) for _, key in files),
            )
        )
    return tuple(tables)


def _files_with_invalid_utf8(store: Store) -> set[str]:
    """CSV keys whose latest manifest entry observed invalid UTF-8 lines."""
    latest: dict[str, tuple[tuple[str, int, str], bool]] = {}
    for manifest in iter_manifests(store, None, None):
        for obj in manifest_objects(manifest):
            observed = (obj.get("details") or {}).get("observed") or {}
            if not isinstance(observed, dict) or "invalid_utf8_lines" not in observed:
                continue
            order = manifest.run_order
            if obj["key"] not in latest or latest[obj["key"]][0] <= order:
                latest[obj["key"]] = (order, bool(observed["invalid_utf8_lines"]))
    return {key for key, (_, bad) in latest.items() if bad}


def _has_data(store: Store, prefix: str) -> bool:
    return any(layout.partition_of(info.key) is not None for info in store.list(prefix))
