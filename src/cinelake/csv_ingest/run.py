"""Land local CSV files under `Raw/Local/CSV/<Dataset>/YYYY/MM/DD/`, then write the manifest.

Inputs are all checked before the first byte is written, so bad input never leaves a
half-landed run behind.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote

from cinelake import stopping
from cinelake.csv_ingest.profile import CsvProfile, CsvProfiler, profile_path
from cinelake.errors import (
    InputError,
    ObjectConflict,
    RunError,
    SourceChanged,
    StoreError,
    Terminated,
)
from cinelake.lake import layout
from cinelake.lake.landings import recorded_landings
from cinelake.lake.manifest import (
    ManifestObject,
    ObjectState,
    RunManifest,
    new_run_id,
    status_from_states,
)
from cinelake.logs import set_run_id
from cinelake.store.base import (
    META_RUN_ID,
    META_SHA256,
    META_SOURCE,
    Landed,
    ProgressCallback,
    RecordLookup,
    Store,
    Tap,
)

log = logging.getLogger(__name__)

ProgressFactory = Callable[[str, int], ProgressCallback]
"""Given a label and a byte total, returns the callback that advances that file's bar."""


@dataclass(frozen=True)
class CsvSource:
    dataset: str
    path: Path
    origin: str | None = None
    """The variable that named the path, when it came from configuration: errors cite it."""


@dataclass(frozen=True)
class CsvIngestRequest:
    sources: tuple[CsvSource, ...]
    run_date: date
    dry_run: bool = False
    strict: bool = False
    overwrite: bool = False


def check_sources(sources: tuple[CsvSource, ...]) -> None:
    """Refuse the whole run on the first unusable input, before anything is written."""
    if not sources:
        raise InputError(
            "no CSV file to land: pass --movies PATH / --series PATH, or set "
            "CAMINHO_DO_ARQUIVO_LOCAL_MOVIES / CAMINHO_DO_ARQUIVO_LOCAL_SERIES"
        )
    seen: dict[str, Path] = {}
    for source in sources:
        label = f"{source.dataset}={source.path}" + (
            f" (from {source.origin})" if source.origin else ""
        )
        if source.dataset not in layout.CSV_DATASETS:
            raise InputError(
                f"--file {label}: unknown dataset {source.dataset!r}; use one of "
                f"{', '.join(layout.CSV_DATASETS)}"
            )
        path = source.path
        if not path.exists():
            raise InputError(f"{label}: no such file; check the path")
        if path.is_dir():
            raise InputError(f"{label}: is a directory; pass the CSV file itself")
        if not path.is_file():
            # A pipe or device would be drained by the checks below and land truncated.
            raise InputError(
                f"{label}: not a regular file (a pipe or a device); save it to a file first"
            )
        if not os.access(path, os.R_OK):
            raise InputError(f"{label}: not readable; fix its permissions")
        try:
            with path.open("rb") as handle:
                empty = handle.read(1) == b""
        except OSError as exc:
            raise InputError(f"{label}: cannot be read ({exc.strerror})") from None
        if empty:
            raise InputError(f"{label}: the file is empty; nothing to land")
        try:
            layout.check_file_name(path.name)
        except ValueError:
            raise InputError(
                f"{label}: the file name may hold only letters, digits, '.', '_' and '-' (no "
                f"accents or spaces) to be a lake key; rename it, e.g. to "
                f"{layout.safe_file_name(path.name)}"
            ) from None
        slot = f"{source.dataset}/{path.name}"
        if slot in seen:
            raise InputError(f"{label}: lands on the same key as {seen[slot]}; pass each file once")
        seen[slot] = path


def ingest_csv(
    request: CsvIngestRequest,
    lake: Store | Callable[[], Store],
    *,
    run_id: str | None = None,
    progress: ProgressFactory | None = None,
) -> RunManifest:
    """Land every source; `lake` is the store, or the function that opens it.

    Given the opener, the first file, if big, starts being profiled (in a process of its own)
    before the lake is opened, so the profile overlaps with opening S3 (imports, client set-up
    and reachability checks: ~0.4 s of one core otherwise spent alone). Later files are
    profiled in turn, one process at a time.
    """
    check_sources(request.sources)
    first = ProfileProcess.for_big_file(request.sources[0].path)
    try:
        store = lake() if callable(lake) else lake
        return _ingest(request, store, first, run_id or new_run_id(), progress)
    finally:
        if first:
            first.close()


def _ingest(
    request: CsvIngestRequest,
    store: Store,
    first: ProfileProcess | None,
    run_id: str,
    progress: ProgressFactory | None,
) -> RunManifest:
    set_run_id(run_id)
    manifest = RunManifest(
        run_id=run_id,
        command="ingest-csv",
        partition_date=request.run_date,
        lake=store.url,
        options={
            "dry_run": request.dry_run,
            "strict": request.strict,
            "overwrite": request.overwrite,
        },
    )
    interrupted: BaseException | None = None
    recorded = recorded_landings(store, request.run_date)
    for number, source in enumerate(request.sources):
        entry = _new_entry(source, request)
        try:
            profiling = first if number == 0 else ProfileProcess.for_big_file(source.path)
            with profiling or nullcontext():
                _land_one(
                    entry,
                    source,
                    request,
                    store,
                    run_id,
                    progress=progress,
                    apart=profiling,
                    recorded=recorded,
                )
            with stopping.manifest_write():
                manifest.objects.append(entry)
        except (KeyboardInterrupt, Exception) as stop:
            # What landed before a Ctrl-C or an unforeseen error keeps a manifest, so every
            # object stays traceable; the error is raised again once it is written.
            interrupted = stop
            if entry.state == "failed" and not request.dry_run:
                _adopt_if_published(entry, store, run_id)
            if entry.state in {"written", "unchanged"} and entry not in manifest.objects:
                # Stopped after its object landed (waiting for its profile, say): listed too.
                entry.details["stopped"] = "landed before the stop; its profile was not finished"
                manifest.objects.append(entry)
            manifest.notes.append(_stopped_note(stop, len(manifest.objects), len(request.sources)))
            break
        log.info(
            "%s %s (%s B)",
            entry.state,
            entry.key,
            entry.bytes,
            extra={"event": f"csv.{entry.state}", "key": entry.key, "run_id": run_id},
        )
    with stopping.manifest_write():
        _finish(manifest, request, store, interrupted)
    if interrupted:
        raise interrupted
    return manifest


def _adopt_if_published(entry: ManifestObject, store: Store, run_id: str) -> None:
    """A stop between publishing an object and hearing back: the object is there with this
    run's id, and must be listed like any other it landed."""
    try:
        found = store.head(entry.key)
    except (StoreError, OSError):
        return
    if found is None or found.metadata.get(META_RUN_ID) != run_id:
        return
    entry.state = "written"
    entry.error = None
    entry.bytes = found.size
    entry.sha256 = found.metadata.get(META_SHA256)
    entry.checksum_algorithm = found.checksum_algorithm
    entry.checksum = found.checksum
    entry.details["stopped"] = (
        "published just before the stop, before it was checked: run `cinelake verify --deep`"
    )


def _finish(
    manifest: RunManifest,
    request: CsvIngestRequest,
    store: Store,
    interrupted: BaseException | None,
) -> None:
    states = [o.state for o in manifest.objects]
    manifest.counts = {s: states.count(s) for s in ("written", "unchanged", "conflict", "failed")}
    manifest.finish(status_from_states(states, stopped_early=interrupted is not None))
    if interrupted and (request.dry_run or not manifest.objects):
        return
    if not request.dry_run:
        try:
            manifest.write(store)
        except StoreError as exc:
            # Say why the files failed, and that those which landed stay, unlisted.
            errors = [o.error or o.key for o in manifest.objects if o.state == "failed"]
            landed = [o.key for o in manifest.objects if o.state in {"written", "unchanged"}]
            unlisted = (
                f"the run's manifest could not be written, so {len(landed)} landed file(s) "
                f"stay unlisted ({', '.join(landed)}); re-run the same command to list them"
                if landed
                else "the run's manifest could not be written"
            )
            raise RunError("; ".join([*errors, f"{unlisted}: {exc}"])) from None
        store.report_limitations()
    manifest.log_finished()


def _stopped_note(stop: BaseException, landed: int, total: int) -> str:
    if isinstance(stop, KeyboardInterrupt):
        how = "terminated (SIGTERM)" if isinstance(stop, Terminated) else "interrupted"
        if landed == total:
            return f"{how} as the run was finishing; all {total} files were dealt with"
        return (
            f"{how} after {landed} of {total} files; a file being landed was not (its upload "
            "was aborted): run the same command to finish"
        )
    return (
        f"stopped by an unexpected {type(stop).__name__} after {landed} of {total} files; run "
        "the same command to land or confirm the rest"
    )


def _new_entry(source: CsvSource, request: CsvIngestRequest) -> ManifestObject:
    """`failed` until the store says the object landed: whatever stops the run, it lists."""
    return ManifestObject(
        key=layout.csv_key(source.dataset, request.run_date, source.path.name),
        source=str(source.path),
        bytes=None,
        sha256=None,
        records=None,
        state="failed",
        structure=source.dataset,
    )


def _land_one(
    entry: ManifestObject,
    source: CsvSource,
    request: CsvIngestRequest,
    store: Store,
    run_id: str,
    *,
    progress: ProgressFactory | None,
    apart: ProfileProcess | None,
    recorded: RecordLookup,
) -> None:
    """Land `source`, filling its `entry`; a failure is recorded there, never raised."""
    key = entry.key
    checked: CsvProfile | None = None
    try:
        entry.bytes = source.path.stat().st_size
        if request.strict or request.dry_run:
            # A big file's profile is kept and compared with what lands; a small one is
            # profiled again by the upload's own read, so the manifest describes those bytes.
            checked = apart.result() if apart else profile_path(source.path)
    except OSError as exc:  # gone or unreadable since the checks
        entry.error = (
            f"{source.path}: could not be read any more ({exc.strerror or exc}); nothing "
            f"landed at {key}, restore the file and re-run"
        )
        return
    except RunError as exc:
        entry.error = f"{exc}; nothing landed at {key}, re-run"
        return
    if checked is not None:
        entry.records = checked.rows
        entry.details["observed"] = checked.to_dict()
        if request.strict and checked.anomalies():
            entry.error = f"refused by --strict: {'; '.join(checked.anomalies())}"
            return
        if request.dry_run:
            found = store.compare_file(key, source.path)
            predicted: dict[str, tuple[ObjectState, str]] = {
                "absent": ("written", "would write"),
                "same": ("unchanged", "already landed with the same bytes: would skip"),
                "different": ("conflict", "different bytes already landed: would refuse"),
            }
            entry.state, entry.details["dry_run"] = predicted[found]
            return
    metadata = {META_RUN_ID: run_id, META_SOURCE: quote(source.path.name)}
    bar = progress(key, entry.bytes or 0) if progress else None
    _upload(
        entry,
        source.path,
        store,
        metadata,
        overwrite=request.overwrite,
        bar=bar,
        apart=apart,
        recorded=recorded,
    )
    anomalies = entry.details.get("observed", {}).get("anomalies")
    if request.strict and entry.state in {"written", "unchanged"} and anomalies:
        entry.state = "failed"
        entry.error = (
            f"{source.path} changed after the --strict check and landed with "
            f"{'; '.join(anomalies)}; {key} stays (raw data is never deleted): check it"
        )


def _upload(
    entry: ManifestObject,
    path: Path,
    store: Store,
    metadata: dict[str, str],
    *,
    overwrite: bool,
    bar: ProgressCallback | None,
    apart: ProfileProcess | None,
    recorded: RecordLookup,
) -> None:
    """Land one file and fill its manifest entry; a failure is recorded, never raised."""
    key = entry.key
    observation: AbstractContextManager[tuple[Tap | None, Callable[[], CsvProfile]]] = (
        nullcontext((None, apart.result)) if apart else profiled_beside_upload()
    )
    with observation as (tap, observed):
        try:
            landed = store.put_file(
                key,
                path,
                metadata,
                overwrite=overwrite,
                progress=bar,
                tap=tap,
                recorded=recorded,
            )
        except ObjectConflict as exc:
            entry.state = "conflict"
            entry.error = str(exc)
            return
        except (StoreError, SourceChanged) as exc:
            entry.error = str(exc)
            return
        except OSError as exc:  # the source failed mid-read: the upload was aborted
            entry.error = (
                f"{path}: reading failed mid-run ({exc.strerror or exc}); nothing landed "
                "at the key, fix the file and re-run"
            )
            return
        _record_landed(entry, landed)
        try:
            profile = observed()
        except RunError as exc:
            entry.state = "failed"
            entry.error = f"{exc}; {key} landed and stays, re-run to profile it"
            return
    if profile.bytes != landed.size:
        entry.state = "failed"
        entry.error = (
            f"{path} changed while it was being landed ({profile.bytes} B read for the "
            f"profile, {landed.size} B landed); check {key} and land the file again when stable"
        )
        return
    entry.records = profile.rows
    entry.details["observed"] = profile.to_dict()


def _record_landed(entry: ManifestObject, landed: Landed) -> None:
    entry.state = landed.state
    entry.bytes = landed.size
    entry.sha256 = landed.sha256
    entry.checksum_algorithm = landed.checksum_algorithm
    entry.checksum = landed.checksum
    entry.verified_by = landed.verified_by
    entry.md5 = landed.md5
    entry.etag = landed.etag
    if landed.version_id:
        entry.details["version_id"] = landed.version_id


PROCESS_PROFILE_BYTES = 64 * 1024 * 1024
"""From this size on, the profile is computed in a separate process (see `ProfileProcess`)."""


@contextmanager
def profiled_beside_upload() -> Iterator[tuple[Tap, Callable[[], CsvProfile]]]:
    """A tap for the upload's single read, feeding a profiler on a thread of its own."""
    profiler = CsvProfiler()
    tap = BackgroundTap(profiler.feed)

    def finished() -> CsvProfile:
        tap.close()
        return profiler.finish()

    try:
        yield tap, finished
    finally:
        tap.close()


class ProfileProcess:
    """A big file profiled by a process of its own, from its start until `close`.

    Profiling holds the GIL for about 0.9 s per GiB, which in-process would slow the upload by
    as much, while a second read of cached pages costs about 0.1 s of another core. The size
    check after landing catches a file that changed in between.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        # The child reads its stdin until EOF, which comes when this end is closed: by `close`,
        # or by the kernel when this process dies. It then stops, rather than read a file of
        # many GiB for nobody.
        lifeline, self._lifeline = os.pipe()
        try:
            self._process = subprocess.Popen(
                # -P and the parent's own path: the child imports the very modules this process
                # did, whatever the working directory holds. A plain subprocess rather than
                # multiprocessing, whose spawn would re-import the caller's __main__.
                [sys.executable, "-P", "-m", "cinelake.csv_ingest.profile", str(path)],
                stdin=lifeline,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={
                    **os.environ,
                    "PYTHONPATH": os.pathsep.join(p or str(Path.cwd()) for p in sys.path),
                },
            )
        except BaseException:
            os.close(self._lifeline)
            raise
        finally:
            os.close(lifeline)
        self._profile: CsvProfile | None = None

    @classmethod
    def for_big_file(cls, path: Path) -> ProfileProcess | None:
        """Started for a file of `PROCESS_PROFILE_BYTES` or more; None for a smaller one, or
        when no process can be started (the upload's own read then feeds the profile)."""
        try:
            big = path.stat().st_size >= PROCESS_PROFILE_BYTES
        except OSError:
            return None  # reported when the file's turn comes
        if not big:
            return None
        try:
            return cls(path)
        except OSError as exc:
            log.warning(
                "%s: no process could be started to profile it (%s); profiling beside the upload",
                path,
                exc.strerror or exc,
                extra={"event": "csv.profile_process_unavailable"},
            )
            return None

    def result(self) -> CsvProfile:
        """Wait for the profile (once; later calls return the same)."""
        if self._profile is None:
            out, err = self._process.communicate()
            if self._process.returncode != 0:
                last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
                raise RunError(f"{self.path}: the profiling process failed ({last[0]})")
            try:
                self._profile = CsvProfile(**json.loads(out))
            except (ValueError, TypeError) as exc:
                raise RunError(
                    f"{self.path}: the profiling process answered something unreadable ({exc})"
                ) from None
        return self._profile

    def close(self) -> None:
        """Stop a profile nobody will read (a conflict, a failure, an interrupted run)."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.communicate()
        if self._lifeline >= 0:
            os.close(self._lifeline)
            self._lifeline = -1

    def __enter__(self) -> ProfileProcess:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class BackgroundTap:
    """Feeds the profiler from its own thread.

    Profiling holds the GIL while hashing and TLS sends release it; on the reading thread it
    would sit on the upload's critical path. Two chunks of slack keep memory bounded.
    """

    def __init__(self, feed: Callable[[bytes], None]) -> None:
        self._feed = feed
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="cinelake-profile", daemon=True)
        self._thread.start()

    def __call__(self, chunk: bytes) -> None:
        self._chunks.put(chunk)

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            if self._error is None:
                try:
                    self._feed(chunk)
                except BaseException as exc:  # re-raised by close()
                    self._error = exc

    def close(self) -> None:
        if self._thread.is_alive():
            self._chunks.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error
