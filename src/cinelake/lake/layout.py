"""The raw zone's key layout, in one pure module, so every writer and reader agrees on it.

S3 keys always use `/` and zero-padded dates; never `os.path.join`.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

RAW = "Raw"
MANIFESTS = f"{RAW}/_manifests"
STATE = f"{RAW}/_state"
INDEX = f"{RAW}/_index"
"""Derived files beside the data (the item of each TMDB record): rebuilt from metadata at will."""
CSV_DATASETS = ("Movies", "Series")
TMDB_STRUCTURES = ("Movies", "Series", "Find", "Discover", "Changes", "Errors")

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def date_path(day: date) -> str:
    return f"{day.year:04d}/{day.month:02d}/{day.day:02d}"


def csv_key(dataset: str, day: date, file_name: str) -> str:
    """`Raw/Local/CSV/<Dataset>/YYYY/MM/DD/<file>`."""
    if dataset not in CSV_DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}")
    check_file_name(file_name)
    return f"{RAW}/Local/CSV/{dataset}/{date_path(day)}/{file_name}"


def csv_prefix(dataset: str, day: date) -> str:
    return f"{RAW}/Local/CSV/{dataset}/{date_path(day)}/"


def tmdb_key(structure: str, day: date, name: str) -> str:
    """`Raw/TMDB/JSON/<Structure>/YYYY/MM/DD/<name>.json`."""
    if structure not in TMDB_STRUCTURES:
        raise ValueError(f"unknown TMDB structure {structure!r}")
    check_file_name(name)
    return f"{RAW}/TMDB/JSON/{structure}/{date_path(day)}/{name}.json"


def tmdb_prefix(structure: str, day: date) -> str:
    return f"{RAW}/TMDB/JSON/{structure}/{date_path(day)}/"


def manifest_key(day: date, run_id: str) -> str:
    check_file_name(run_id)
    return f"{MANIFESTS}/{date_path(day)}/{run_id}.json"


def manifest_prefix(day: date | None = None) -> str:
    return f"{MANIFESTS}/{date_path(day)}/" if day else f"{MANIFESTS}/"


def state_day_prefix(day: date) -> str:
    """Where the checkpoints of every TMDB plan of `day` live."""
    return f"{STATE}/tmdb/{date_path(day)}/"


def state_prefix(day: date, plan_id: str) -> str:
    check_file_name(plan_id)
    return f"{state_day_prefix(day)}{plan_id}/"


REFRESHED_PREFIX = f"{STATE}/tmdb-refreshed/"
"""One small record per sealed `refresh` plan, named by its run date: where the next window
starts is read from one short listing instead of every day's checkpoints."""


def refreshed_key(day: date) -> str:
    return f"{REFRESHED_PREFIX}{day.isoformat()}.json"


def is_control_key(key: str) -> bool:
    """Manifests, checkpoints and indexes describe data; they are not data themselves."""
    return key.startswith((f"{MANIFESTS}/", f"{STATE}/", f"{INDEX}/"))


def index_key(data_key: str) -> str:
    """`Raw/_index/TMDB/JSON/<Structure>/YYYY/MM/DD/<name>.json` beside `Raw/TMDB/JSON/...`."""
    return f"{INDEX}/{data_key.removeprefix(f'{RAW}/')}"


def data_key_of_index(key: str) -> str:
    """The record file an index describes: `index_key` read backwards."""
    return f"{RAW}/{key.removeprefix(f'{INDEX}/')}"


def partition_of(key: str) -> tuple[str, date] | None:
    """Trace a data key back to its source and date partition (`("TMDB/Movies", date)`)."""
    match = re.match(r"^Raw/(Local/CSV|TMDB/JSON)/([A-Za-z]+)/(\d{4})/(\d{2})/(\d{2})/[^/]+$", key)
    if not match:
        return None
    origin = "Local CSV" if match.group(1) == "Local/CSV" else "TMDB"
    day = day_of(match.group(3), match.group(4), match.group(5))
    return None if day is None else (f"{origin} {match.group(2)}", day)


def day_of(year: str, month: str, day: str) -> date | None:
    """The date a key's `YYYY/MM/DD` segments name; None for an impossible one (`2025/02/30`)."""
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def check_file_name(name: str) -> None:
    if not _SAFE_NAME.match(name) or name in {".", ".."}:
        raise ValueError(f"{name!r} cannot be used in a lake key")


def safe_file_name(name: str) -> str:
    """A name `check_file_name` accepts, for the error that refuses `name`.

    Accents and spaces are kept out of keys on purpose: `ação` typed on macOS (NFD) and on
    Linux (NFC) are different bytes, so the same file would land under two keys.
    """
    stem, dot, suffix = name.rpartition(".") if "." in name else (name, "", "")

    def ascii_part(text: str) -> str:
        kept = "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        )
        return re.sub(r"[^A-Za-z0-9._-]+", "-", kept).strip("._-")

    suffix = ascii_part(suffix)
    return f"{ascii_part(stem) or 'file'}{dot if suffix else ''}{suffix}"


def is_lake_key(key: object) -> bool:
    """A key a manifest may name: under `Raw/`, no empty, `.` or `..` segment.

    Manifests are read back from the lake, where anyone with write access could edit them; a
    key like `Raw/../../etc/passwd` must be reported, never followed.
    """
    if not isinstance(key, str) or not key.startswith("Raw/"):
        return False
    return all(part not in {"", ".", ".."} for part in key.split("/"))
