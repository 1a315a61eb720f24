"""Run one phase of a plan: fetch items concurrently, land them batch by batch, exactly once.

Exactly once rests on three facts. Batches are fixed by the plan, so every run agrees on which
items form batch N. A batch's files have deterministic names and are written with conditional
writes, record files first, errors file next, and the batch marker last. Each file carries the
list of its items in its metadata, so a run that finds files without a marker (a `kill -9`, a
deadline) adopts what they hold and fetches only what is missing.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from dataclasses import dataclass
from typing import Any

from cinelake.errors import RunError, StoreError, TmdbAuthError, UsageError
from cinelake.lake import layout
from cinelake.lake.record_index import write_index
from cinelake.store.base import META_RUN_ID
from cinelake.tmdb import by_imdb
from cinelake.tmdb.checkpoints import (
    META_ITEMS,
    META_PLAN,
    META_TITLES,
    decode_items,
    encode_items,
    manifest_object,
    marker_entry,
    parse_checkpoint,
    split_records,
    titles_of_records,
)
from cinelake.tmdb.client import TmdbAnswer
from cinelake.tmdb.outcomes import Outcome, State, classify
from cinelake.tmdb.phase import (
    BatchSummary,
    ItemProgress,
    PhaseContext,
    PhaseResult,
)
from cinelake.tmdb.plans import batches, request_of

log = logging.getLogger(__name__)


@dataclass
class _Attempt:
    """One batch in flight: outcomes already landed (recovered) and futures for the rest."""

    number: int
    items: Sequence[str]
    recovered: dict[str, Outcome]
    errors_landed: set[str]
    files: list[dict[str, Any]]
    next_part: int
    futures: dict[str, Future[Outcome]]


class PhaseRunner:
    def __init__(self, ctx: PhaseContext, phase: str, items: Sequence[str], batch_size: int):
        self.ctx = ctx
        self.phase = phase
        self.items = items
        self.batch_size = batch_size
        self.state_dir = _state_dir(ctx, phase)
        self.prefetched: dict[str, TmdbAnswer] = {}
        self._orphans: dict[int, list[tuple[str, str]]] = {}
        self._advance: ItemProgress | None = None
        self._uncommitted: Counter[str] = Counter()
        """States of items a stopped batch landed without its marker: the next run adopts them."""

    # Public -------------------------------------------------------------------------------
    def run(self) -> PhaseResult:
        markers = self._load_markers()
        self._orphans = self._list_orphans(markers)
        result = PhaseResult()
        pending = [(n, b) for n, b in batches(self.items, self.batch_size) if n not in markers]
        todo = sum(len(b) for _, b in pending)
        self._advance = self.ctx.progress(f"TMDB {self.phase}", todo) if self.ctx.progress else None
        window: deque[_Attempt] = deque()
        finished = markers
        with ThreadPoolExecutor(self.ctx.workers, thread_name_prefix="cinelake-tmdb") as pool:
            try:
                for number, items in pending:
                    if self.ctx.should_stop():
                        break
                    window.append(self._start(pool, number, items))
                    while len(window) > 2:
                        self._finish(window.popleft(), finished)
                while window:
                    self._finish(window.popleft(), finished)
            except BaseException:
                self.ctx.stop_event.set()
                for attempt in window:
                    for future in attempt.futures.values():
                        future.cancel()
                raise
        for number in range(1, -(-len(self.items) // self.batch_size) + 1):
            summary = finished.pop(number, None)
            if summary is None:
                result.complete = False
                continue
            if summary.files:
                result.marker_files.setdefault(summary.run_id, []).extend(summary.files)
            result.compacted += summary.compacted
            result.details_landed += summary.details_landed
            result.titles_landed.extend(summary.titles_landed)
            result.state_counts.update(summary.state_counts)
            result.items += sum(summary.state_counts.values())
            result.children.extend(summary.children)
            result.failed.extend(summary.failed)
            result.find.merge(summary.find)
        result.state_counts.update(self._uncommitted)
        result.items += sum(self._uncommitted.values())
        return result

    # Batches ------------------------------------------------------------------------------
    def _start(self, pool: ThreadPoolExecutor, number: int, items: Sequence[str]) -> _Attempt:
        recovered, errors_landed, files, next_part = self._recover(number)
        futures = {item: pool.submit(self._fetch, item) for item in items if item not in recovered}
        return _Attempt(number, items, recovered, errors_landed, files, next_part, futures)

    def _fetch(self, item: str) -> Outcome:
        if self.ctx.should_stop():
            return Outcome(item, "interrupted")
        answer = self.prefetched.pop(item, None)
        try:
            if answer is None:
                path, params = request_of(item, self.ctx.append, self.ctx.discover_params)
                answer = self.ctx.client.get(path, params)
            if by_imdb.needs_find(item, answer):
                lookup = by_imdb.find_item(item)
                found = self.prefetched.pop(lookup, None)
                if found is None:
                    found = self.ctx.client.get(*request_of(lookup, (), {}))
                outcome = by_imdb.after_find(item, found)
            else:
                outcome = classify(item, answer)
        except TmdbAuthError as refused:
            # Stopping here, not raising, keeps every answer already in hand: the batches
            # land (or wait for the next run) as at a deadline, and the counts stay whole.
            self.ctx.refusal = self.ctx.refusal or refused
            self.ctx.stop_event.set()
            return Outcome(item, "interrupted")
        if self._advance and outcome.state != "interrupted":
            self._advance(1)
        return outcome

    def _finish(self, attempt: _Attempt, finished: dict[int, BatchSummary]) -> None:
        wait_all(attempt.futures.values())
        fresh = {item: future.result() for item, future in attempt.futures.items()}
        self._check_reachable(fresh)
        outcomes = {**attempt.recovered, **fresh}
        done = [outcomes[i] for i in attempt.items if outcomes[i].state != "interrupted"]
        part = attempt.next_part
        new_records = [o for o in done if o.record is not None and o.item not in attempt.recovered]
        by_structure: dict[str, list[Outcome]] = {}
        for outcome in new_records:
            by_structure.setdefault(outcome.structure, []).append(outcome)
        files = list(attempt.files)
        for structure, group in sorted(by_structure.items()):
            for chunk in split_records(group, self.batch_size):
                files.append(self._write(structure, attempt.number, part, chunk))
                part += 1
        new_errors = [
            o for o in done if o.error is not None and o.item not in attempt.errors_landed
        ]
        if new_errors:
            files.append(self._write("Errors", attempt.number, part, new_errors))
            part += 1
        if len(done) < len(attempt.items):
            self._uncommitted.update(o.state for o in done)
            log.info(
                "batch %s of %s stopped early: %s of %s items landed, the rest resume next run",
                attempt.number,
                self.phase,
                len(done),
                len(attempt.items),
                extra={"event": "tmdb.batch_partial", "batch": attempt.number},
            )
            return
        marker = {
            "plan_id": self.ctx.plan_id,
            "phase": self.phase,
            "batch": attempt.number,
            "run_id": self.ctx.run_id,
            "items": {o.item: marker_entry(o) for o in done},
            "files": files,
            "compacted": sum(1 for o in done if o.compacted),
        }
        payload = json.dumps(marker, sort_keys=True).encode()
        self.ctx.store.put_bytes(
            f"{self.state_dir}batches/{attempt.number:06d}.json",
            payload,
            {META_RUN_ID: self.ctx.run_id},
        )
        # Summarised from the stored form (keys sorted), as every later run will read it: the
        # follow-up and failed items then come in one order whoever wrote the marker, so the
        # batches of the phases built from them never shift between runs.
        finished[attempt.number] = BatchSummary.of(json.loads(payload), self.ctx.run_id)
        log.info(
            "%s batch %s landed: %s items",
            self.phase,
            attempt.number,
            len(done),
            extra={
                "event": "tmdb.batch_committed",
                "phase": self.phase,
                "batch": attempt.number,
                "items": len(done),
            },
        )

    def _check_reachable(self, fresh: dict[str, Outcome]) -> None:
        """A whole batch without a single HTTP answer means TMDB is unreachable, not flaky."""
        if len(fresh) >= 5 and all(
            o.state == "failed" and o.error and o.error.get("http_status") is None
            for o in fresh.values()
        ):
            message = (
                f"cannot reach TMDB at {self.ctx.client.base_url}: every request of a batch "
                "failed without an answer; check TMDB_BASE_URL and the network"
            )
            if self.ctx.written:  # files landed already: a run failure, resumable
                raise RunError(f"{message}, then run the same command to resume")
            raise UsageError(message)

    def _name(self, number: int, part: int) -> str:
        return f"{self.ctx.stamp}-{self.ctx.plan_id}-{self.phase}-{number:06d}-{part:02d}"

    def _write(
        self, structure: str, number: int, part: int, outcomes: Sequence[Outcome]
    ) -> dict[str, Any]:
        if structure == "Errors":
            lines = [
                json.dumps(o.error, ensure_ascii=False, separators=(",", ":")).encode()
                for o in outcomes
            ]
        else:
            lines = [o.record or b"" for o in outcomes]
        data = b"\n".join(lines) + b"\n"
        key = layout.tmdb_key(structure, self.ctx.run_date, self._name(number, part))
        metadata = {
            META_RUN_ID: self.ctx.run_id,
            META_PLAN: self.ctx.plan_id,
            META_ITEMS: encode_items([o.item for o in outcomes]),
        }
        kind = {"Movies": "movie", "Series": "tv"}.get(structure)
        titles = titles_of_records(outcomes, kind) if kind else None
        if titles is not None:
            metadata[META_TITLES] = encode_items(titles)
        try:
            landed = self.ctx.store.put_bytes(key, data, metadata)
        except StoreError as exc:
            raise RunError(f"{key}: could not land the batch ({exc}); re-run to resume") from exc
        if structure != "Errors":
            write_index(self.ctx.store, key, lines, [o.item for o in outcomes])
        entry = {
            "key": key,
            "structure": structure,
            "records": len(lines),
            "bytes": landed.size,
            "sha256": landed.sha256,
            "checksum_algorithm": landed.checksum_algorithm,
            "checksum": landed.checksum,
            "verified_by": landed.verified_by,
            "md5": landed.md5,
            "etag": landed.etag,
        }
        self.ctx.written.append(manifest_object(entry, self.ctx.plan_id, recovered=False))
        return entry

    # Recovery -----------------------------------------------------------------------------
    def _load_markers(self) -> dict[int, BatchSummary]:
        """Every committed batch, summarised; read 64 at a time so that the markers of a large
        backfill (thousands) are never all in memory at once, only their summaries."""
        keys = [o.key for o in self.ctx.store.list(f"{self.state_dir}batches/")]
        markers: dict[int, BatchSummary] = {}
        with ThreadPoolExecutor(8) as pool:
            for start in range(0, len(keys), 64):
                chunk = keys[start : start + 64]
                for key, raw in zip(chunk, pool.map(self.ctx.store.get_bytes, chunk), strict=True):
                    marker = parse_checkpoint(key, raw)
                    markers[int(marker["batch"])] = BatchSummary.of(marker, self.ctx.run_id)
        return markers

    def _list_orphans(self, markers: dict[int, BatchSummary]) -> dict[int, list[tuple[str, str]]]:
        """Files of this phase whose batch has no marker: one listing per structure."""
        orphans: dict[int, list[tuple[str, str]]] = {}
        for structure, prefix in _file_prefixes(self.ctx, self.phase):
            for info in self.ctx.store.list(prefix):
                number = int(info.key[len(prefix) :].split("-")[0])
                if number not in markers:
                    orphans.setdefault(number, []).append((structure, info.key))
        return orphans

    def _recover(
        self, number: int
    ) -> tuple[dict[str, Outcome], set[str], list[dict[str, Any]], int]:
        """Adopt files an interrupted attempt at this batch landed without its marker."""
        recovered: dict[str, Outcome] = {}
        errors_landed: set[str] = set()
        files: list[dict[str, Any]] = []
        next_part = 0
        for structure, info_key in self._orphans.get(number, []):
            head = self.ctx.store.head(info_key)
            part = int(info_key.rsplit("-", 1)[1].removesuffix(".json"))
            next_part = max(next_part, part + 1)
            if head is None or META_ITEMS not in head.metadata:
                log.warning(
                    "%s has no item list; its items are fetched again into a new part",
                    info_key,
                    extra={"event": "tmdb.file_not_adoptable", "key": info_key},
                )
                continue
            items = decode_items(head.metadata[META_ITEMS])
            lines = self.ctx.store.get_bytes(info_key).split(b"\n")[: len(items)]
            if structure == "Errors":
                for line in lines:
                    error = json.loads(line)
                    errors_landed.add(error["item"])
                    if error["item"] not in recovered:
                        state: State = "not_found" if error["reason"] == "not found" else "failed"
                        recovered[error["item"]] = Outcome(error["item"], state, error=error)
            else:
                for item, line in zip(items, lines, strict=True):
                    recovered[item] = by_imdb.outcome_of_record(item, structure, line)
            entry = {
                "key": info_key,
                "structure": structure,
                "records": len(items),
                "bytes": head.size,
                "sha256": head.metadata.get("cinelake-sha256"),
                "checksum_algorithm": head.checksum_algorithm,
                "checksum": head.checksum,
                "verified_by": "server-checksum",
            }
            files.append(entry)
            self.ctx.written.append(manifest_object(entry, self.ctx.plan_id, recovered=True))
            log.info(
                "adopted %s landed by an interrupted run",
                info_key,
                extra={"event": "tmdb.file_adopted", "key": info_key},
            )
        return recovered, errors_landed, files, next_part


def phase_started(ctx: PhaseContext, phase: str) -> bool:
    """A phase with a committed batch or a landed file (a run killed before its marker)."""
    listings = [f"{_state_dir(ctx, phase)}batches/", *(p for _, p in _file_prefixes(ctx, phase))]
    return any(next(iter(ctx.store.list(prefix)), None) for prefix in listings)


def _state_dir(ctx: PhaseContext, phase: str) -> str:
    return f"{layout.state_prefix(ctx.run_date, ctx.plan_id)}{phase}/"


def _file_prefixes(ctx: PhaseContext, phase: str) -> Iterator[tuple[str, str]]:
    """Where a phase's files are, per structure: phases are told apart by this name prefix."""
    name_prefix = f"{ctx.stamp}-{ctx.plan_id}-{phase}-"
    for structure in layout.TMDB_STRUCTURES:
        yield structure, layout.tmdb_prefix(structure, ctx.run_date) + name_prefix
