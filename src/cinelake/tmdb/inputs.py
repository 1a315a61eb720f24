"""Where a plan's items come from, and what names the plan: ids, ids files and CSV `id` columns.

Ids are read streaming (a CSV repeats a title once per artist) and plans are named by the
content of their inputs, so the same titles never make a second plan for the same date.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cinelake.errors import (
    InputError,
    RunError,
)
from cinelake.lake import layout
from cinelake.store.base import Store
from cinelake.tmdb.checkpoints import parse_checkpoint
from cinelake.tmdb.plans import (
    IMDB_ID,
    parse_ids,
    unique,
)
from cinelake.tmdb.request import TmdbIngestRequest

log = logging.getLogger(__name__)


def input_identity(request: TmdbIngestRequest, store: Store) -> dict[str, Any]:
    """What the plan's items are computed from; a change of input means a new plan."""
    if request.plan == "ids":
        # The titles, not their spelling: movie:0550, " movie:550" and a CRLF copy of an ids
        # file name the same plan, so the same titles never land twice in one partition.
        first, direct, _ = id_items(request, store)
        titles = "\n".join(sorted([*first, *direct])).encode()
        return {"ids_sha256": hashlib.sha256(titles).hexdigest()}
    if request.plan == "from-csv":
        sources: dict[str, Any] = {}
        for dataset, path in (("Movies", request.movies_path), ("Series", request.series_path)):
            if path is not None:
                sources[dataset] = _content_hash(path)
        if not sources:
            for dataset in layout.CSV_DATASETS:
                listed = store.list(layout.csv_prefix(dataset, request.run_date))
                sources[dataset] = [[o.key, o.size] for o in listed]
            if not any(sources.values()):
                raise InputError(
                    f"no movies or series CSV is landed for {request.run_date}: run "
                    "`cinelake ingest-csv` for that --date first, or pass --movies/--series"
                )
        return {"csv": sources}
    if request.plan == "discover":
        return {
            "kind": request.kind,
            "params": sorted(request.discover_params),
            "max_pages": request.max_pages,
        }
    return {"kind": request.kind, "since": str(request.since)}


def ids_identity_0_1_0(request: TmdbIngestRequest) -> dict[str, Any]:
    """How cinelake 0.1.0 named ids plans (by their spelling): its plans are resumed, not redone."""
    ids_file = _content_hash(request.ids_file) if request.ids_file is not None else None
    return {"ids": list(request.ids), "ids_file": ids_file}


def id_items(request: TmdbIngestRequest, store: Store) -> tuple[list[str], list[str], list[str]]:
    """The lookups and the direct details of an ids or CSV plan, and the landed CSVs skipped.

    A landed file without an `id` column (a semicolon file, say) is skipped, not fatal: the raw
    zone keeps it for good, and it must not stop the date's other files from being looked up.
    """
    if request.plan == "ids":
        texts = [(t, "--ids") for t in request.ids]
        if request.ids_file is not None:
            texts.extend(_ids_file_lines(request.ids_file))
        ordered = parse_ids(texts)
        if not ordered:
            raise InputError(
                f"--ids-file {request.ids_file}: no id in it; write one movie:ID, tv:ID or tt… "
                "a line"
            )
        first = [t for t in ordered if t.startswith("find:")]
        direct = [t for t in ordered if not t.startswith("find:")]
        return first, direct, []
    finds: list[str] = []
    skipped: list[str] = []
    # Movies are asked by IMDb id directly (one request, `/find` only on a 404); series need
    # `/find`, since TMDB has no such shortcut for them.
    for dataset, kind in (("Movies", "imdb-movie"), ("Series", "find-tv")):
        path = request.movies_path if dataset == "Movies" else request.series_path
        if path is not None:
            finds.extend(f"{kind}:{i}" for i in csv_ids_from_file(path))
        elif request.movies_path is None and request.series_path is None:
            for info in store.list(layout.csv_prefix(dataset, request.run_date)):
                try:
                    finds.extend(f"{kind}:{i}" for i in _csv_ids_from_lake(store, info.key))
                except _NoIdColumn:
                    skipped.append(
                        f"{info.key} has no `id` column in its header (is it pipe-delimited?): "
                        "its titles were not looked up"
                    )
    # A title listed in both CSVs is looked up once, as the first CSV saw it.
    return unique(finds, key=lambda item: item.partition(":")[2]), [], skipped


def not_looked_up_yet(
    store: Store, request: TmdbIngestRequest, finds: list[str], notes: list[str]
) -> list[str]:
    """The lookups no sealed CSV plan of this date has finished already.

    A CSV landed later the same day (series after movies, say) makes a new plan, since the
    plan is named by the landed files; without this it would fetch every earlier title again.
    A lookup counts as finished only in a sealed plan with the same `--append`, found unknown
    or landed with all its details: a plan left unfinished is never resumed once the files
    changed, and a title that failed gets another chance, so those are asked again here rather
    than lost. The IMDb id alone decides, whichever CSV listed it: every hit of a `/find`
    answer is followed in TMDB's kind, so asking again as the other kind would land the same
    titles twice.
    """
    day_prefix = layout.state_day_prefix(request.run_date)
    by_plan: dict[str, list[str]] = {}
    for info in store.list(day_prefix):
        plan_id, _, rest = info.key.removeprefix(day_prefix).partition("/")
        if plan_id.startswith("from-csv-"):
            by_plan.setdefault(plan_id, []).append(rest)
    finished: dict[str, str] = {}
    for plan_id, files in sorted(by_plan.items()):
        if "complete.json" not in files or "plan.json" not in files:
            continue
        plan_key = f"{day_prefix}{plan_id}/plan.json"
        try:
            saved = parse_checkpoint(plan_key, store.get_bytes(plan_key))
            if saved["request"]["append"] != list(request.append):
                continue
            done = _finished_lookups(store, f"{day_prefix}{plan_id}/", sorted(files))
        except (RunError, LookupError, TypeError, ValueError, AttributeError):
            # A damaged checkpoint of a finished plan: its titles are asked again, not lost.
            log.warning(
                "plan %s has a damaged checkpoint; titles it looked up may be looked up again",
                plan_id,
                extra={"event": "tmdb.sealed_plan_unreadable", "plan_id": plan_id},
            )
            continue
        for item in done:
            finished.setdefault(_imdb_id(item), plan_id)
    left_out = [item for item in finds if _imdb_id(item) in finished]
    if left_out:
        plans = sorted({finished[_imdb_id(item)] for item in left_out})
        notes.append(
            f"{len(left_out)} titles were already looked up for this date by plan "
            f"{', '.join(plans)} and were left out of this one"
        )
    return [item for item in finds if _imdb_id(item) not in finished]


def _imdb_id(find_item: str) -> str:
    return find_item.partition(":")[2]


def _finished_lookups(store: Store, plan_prefix: str, files: list[str]) -> list[str]:
    """A sealed plan's lookups found unknown, or landed with every detail they led to.

    `files` are sorted, so `find` comes before `retry1-find`: a later round's answer wins.
    """
    lookups: dict[str, dict[str, Any]] = {}
    details_landed: set[str] = set()
    for name in files:
        phase, _, rest = name.partition("/")
        if not rest.startswith("batches/"):
            continue
        items = parse_checkpoint(plan_prefix + name, store.get_bytes(plan_prefix + name))["items"]
        if phase.split("-")[-1] == "find":
            lookups.update(items)
        else:
            details_landed.update(i for i, entry in items.items() if entry["state"] == "landed")
    return [
        item
        for item, entry in lookups.items()
        if entry["state"] == "not_found"
        or (entry["state"] == "landed" and set(entry.get("children", [])) <= details_landed)
    ]


class _NoIdColumn(InputError):
    pass


def _ids_file_lines(path: Path) -> Iterator[tuple[str, str]]:
    """Ids a line; blank lines and `#` comments (whole-line or trailing) are skipped."""
    try:
        raw = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    except OSError as exc:
        raise InputError(
            f"--ids-file {path}: cannot be read ({exc.strerror}); fix its permissions"
        ) from None
    for number, line_bytes in enumerate(raw.splitlines(), 1):
        try:
            line = line_bytes.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"--ids-file {path} line {number}: not UTF-8 text") from None
        text = line.partition("#")[0]
        if text.strip():
            yield text, f"--ids-file {path} line {number}"


def csv_ids_from_file(path: Path) -> Iterator[str]:
    with path.open("rb") as handle:
        yield from ids_from_lines(handle, str(path))


def _csv_ids_from_lake(store: Store, key: str) -> Iterator[str]:
    with store.open_read(key) as reader:
        yield from ids_from_lines(stream_lines(reader), key)


def stream_lines(reader: Any) -> Iterator[bytes]:
    """Stream lines from a binary reader in constant memory (S3 bodies have no readline)."""
    carry = b""
    while chunk := reader.read(1024 * 1024):
        carry += chunk
        *complete, carry = carry.split(b"\n")
        yield from complete
    if carry:
        yield carry


def ids_from_lines(lines: Iterator[bytes] | Any, origin: str) -> Iterator[str]:
    """The `id` column, unique and in order; rows repeat a title once per artist."""
    column: int | None = None
    last = None
    seen: set[str] = set()
    for raw in lines:
        line = raw.rstrip(b"\r\n").decode("utf-8", errors="replace")
        if column is None:
            header = line.lstrip("\ufeff").split("|")
            if "id" not in header:
                raise _NoIdColumn(f"{origin}: no `id` column in the header; is it a cinelake CSV?")
            column = header.index("id")
            continue
        fields = line.split("|")
        if len(fields) <= column:
            continue
        value = fields[column].strip()
        if value == last or not IMDB_ID.match(value):  # `\N`, a repeated header, garbage
            continue
        last = value
        if value not in seen:
            seen.add(value)
            yield value


def _content_hash(path: Path) -> str:
    """Inputs are named by their bytes: a copied or rewritten file with the same ids must
    resume the same plan, not start a second one that lands everything again."""
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}); check the path") from None
