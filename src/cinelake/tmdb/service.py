"""`ingest-tmdb` as one function: plan, run the phases, write the manifest.

The CLI and the Lambda handler both call `run_tmdb_ingest`; neither adds behaviour.
A plan's checkpoint lives in the lake under `Raw/_state/tmdb/YYYY/MM/DD/<plan_id>/`, so any
machine (or a Lambda continuation) that runs the same request for the same date resumes it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from cinelake import layout, stopping
from cinelake.errors import (
    CinelakeError,
    InputError,
    ObjectConflict,
    RunError,
    Terminated,
    UsageError,
)
from cinelake.lake_status import manifest_keys, manifest_objects, read_manifest
from cinelake.logs import SecretFilter, set_run_id
from cinelake.manifest import ManifestObject, RunManifest, new_run_id
from cinelake.settings import Settings
from cinelake.store.base import META_RUN_ID, Store
from cinelake.tmdb.client import TmdbAnswer, TmdbClient
from cinelake.tmdb.engine import (
    Deadline,
    PhaseContext,
    PhaseResult,
    PhaseRunner,
    ProgressFactory,
    manifest_object,
    parse_checkpoint,
    phase_started,
)
from cinelake.tmdb.plans import (
    DEFAULT_APPEND,
    IMDB_ID,
    MAX_DISCOVER_PAGE,
    PlanSpec,
    changes_windows,
    check_append,
    check_batch_size,
    parse_ids,
    request_of,
    unique,
)
from cinelake.tmdb.retry import RetryPolicy

log = logging.getLogger(__name__)

PlanName = Literal["from-csv", "ids", "discover", "changes"]
MAX_RETRY_ROUNDS = 5
"""Later runs that ask again for failed items; past this, what still fails is final."""
_CREDENTIAL_PARAMS = frozenset({"api_key", "access_token", "session_id", "guest_session_id"})
MAX_RATE = 10_000.0
"""Far above any TMDB limit; only there to refuse typos and infinities."""
PLANS: tuple[PlanName, ...] = ("from-csv", "ids", "discover", "changes")


@dataclass(frozen=True)
class TmdbIngestRequest:
    """What to fetch; the same fields whether they come from CLI flags or a Lambda event."""

    plan: PlanName
    run_date: date
    ids: tuple[str, ...] = ()
    ids_file: Path | None = None
    movies_path: Path | None = None
    series_path: Path | None = None
    kind: Literal["movie", "tv"] | None = None
    discover_params: tuple[tuple[str, str], ...] = ()
    max_pages: int | None = None
    since: date | None = None
    append: tuple[str, ...] = DEFAULT_APPEND
    batch_size: int = 100
    rate: float = 35.0
    max_seconds: float | None = None
    workers: int = 16

    def checked(self) -> TmdbIngestRequest:
        """Every bad input is refused here, before the first request."""
        check_append(self.append)
        check_batch_size(self.batch_size)
        if not (math.isfinite(self.rate) and 0 < self.rate <= MAX_RATE):
            raise InputError(
                f"--rate {self.rate}: use a number of requests per second above 0 and at most "
                f"{MAX_RATE:g}"
            )
        for key, _ in self.discover_params:
            if key.strip().lower() in _CREDENTIAL_PARAMS:
                raise InputError(
                    f"--param {key}=…: credentials never go in discover parameters (they are "
                    "written to the manifest); set TMDB_API_KEY or TMDB_READ_ACCESS_TOKEN"
                )
        if self.plan in {"discover", "changes"} and self.kind not in {"movie", "tv"}:
            raise InputError(f"--{self.plan} needs movie or tv")
        if self.plan == "changes" and self.since is None:
            raise InputError("--changes needs --since YYYY-MM-DD")
        if self.max_pages is not None and not 1 <= self.max_pages <= MAX_DISCOVER_PAGE:
            raise InputError(f"--max-pages {self.max_pages}: use 1 to {MAX_DISCOVER_PAGE}")
        if self.plan == "ids" and not self.ids and self.ids_file is None:
            raise InputError("--ids or --ids-file: give at least one id")
        if self.ids_file is not None and not self.ids_file.is_file():
            raise InputError(f"--ids-file {self.ids_file}: no such file; pass a file of ids")
        if self.max_seconds is not None and not (
            math.isfinite(self.max_seconds) and self.max_seconds > 0
        ):
            raise InputError(f"--max-seconds {self.max_seconds}: use a positive number")
        for name, path in (("--movies", self.movies_path), ("--series", self.series_path)):
            if path is not None and not path.is_file():
                raise InputError(f"{name} {path}: no such file")
        return self


@dataclass
class _Plan:
    spec: PlanSpec
    stamp: str
    first_items: list[str]
    direct_details: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What was left out when the plan was made, and why: every manifest of the plan says it."""
    prefetched: dict[str, TmdbAnswer] = field(default_factory=dict)

    @classmethod
    def saved(cls, spec: PlanSpec, body: dict[str, Any]) -> _Plan:
        return cls(
            spec,
            body["stamp"],
            body["first_items"],
            body["direct_details"],
            body.get("notes", []),
        )


def run_tmdb_ingest(
    request: TmdbIngestRequest,
    *,
    settings: Settings,
    store: Store,
    client: TmdbClient | None = None,
    deadline: Deadline | None = None,
    retry_policy: RetryPolicy | None = None,
    progress: ProgressFactory | None = None,
    run_id: str | None = None,
) -> RunManifest:
    request = request.checked()
    run_id = run_id or new_run_id()
    set_run_id(run_id)
    deadline = deadline or Deadline(request.max_seconds)
    own_client = client is None
    if client is None:
        client = TmdbClient(
            settings.tmdb_base_url,
            api_key=settings.tmdb_api_key,
            read_token=settings.tmdb_read_token,
            rate=request.rate,
            policy=retry_policy,
            pool_size=request.workers,
        )
    manifest = RunManifest(
        run_id=run_id,
        command=f"ingest-tmdb --{request.plan}",
        partition_date=request.run_date,
        lake=store.url,
        options=_options(request),
    )
    try:
        ctx = PhaseContext(
            store=store,
            client=client,
            requests_before=client.stats.requests,
            run_date=request.run_date,
            plan_id="",
            stamp="",
            run_id=run_id,
            append=request.append,
            discover_params=dict(request.discover_params),
            deadline=deadline,
            workers=request.workers,
            stop_margin=2.0 if request.max_seconds is None else min(2.0, request.max_seconds / 10),
            progress=progress,
        )
        client.stop = ctx.should_stop
        client.remaining = deadline.remaining
        plan = _load_or_create_plan(request, store, client, run_id)
        ctx.plan_id = plan.spec.plan_id()
        ctx.stamp = plan.stamp
        manifest.options["plan_id"] = ctx.plan_id
        manifest.notes.extend(plan.notes)
        try:
            complete_marker = _run_plan(ctx, plan, request, manifest)
        except (KeyboardInterrupt, Exception) as stop:
            # What this run landed keeps a manifest even if the same command is never run
            # again; the error is raised again once it is written.
            _write_stopped_manifest(ctx, manifest, stop, settings)
            raise
        with stopping.manifest_write():  # before the client closes: a stop then waits for it
            _count_http(manifest, client)
            manifest.write(store)
            if complete_marker is not None:
                # Only after the manifest: a crash in between must not leave files unlisted.
                store.put_bytes(complete_marker[0], complete_marker[1], {META_RUN_ID: run_id})
            manifest.log_finished()
    finally:
        if own_client:
            client.close()
    return manifest


def _count_http(manifest: RunManifest, client: TmdbClient) -> None:
    manifest.counts.update(
        http_requests=client.stats.requests,
        http_retries=client.stats.retries,
        http_429=client.stats.throttled,
    )


def _write_stopped_manifest(
    ctx: PhaseContext, manifest: RunManifest, stop: BaseException, settings: Settings
) -> None:
    """A manifest for a run stopped by Ctrl-C or an error, when it landed files.

    Without it those files would be listed only by the next run of the same command (which
    adopts them), and not at all if nobody runs it. Failing to write it must not hide `stop`.
    """
    try:
        with stopping.manifest_write():
            _stopped_manifest(ctx, manifest, stop, settings)
    except Exception as failure:  # `stop` is what the caller must see, not this
        log.warning(
            "the manifest of this stopped run could not be written (%s); the next run of the "
            "same command lists what this one landed",
            type(failure).__name__,
            extra={"event": "tmdb.stopped_manifest_failed"},
        )


def _stopped_manifest(
    ctx: PhaseContext, manifest: RunManifest, stop: BaseException, settings: Settings
) -> None:
    objects = _not_listed_yet(ctx)
    if not objects:
        return
    if isinstance(stop, Terminated):
        why = "terminated (SIGTERM)"
    elif isinstance(stop, KeyboardInterrupt):
        why = "interrupted (Ctrl-C)"
    elif isinstance(stop, CinelakeError):
        why = f"stopped by an error ({SecretFilter(settings.secrets()).scrub(str(stop))})"
    else:
        why = f"stopped by an unexpected {type(stop).__name__}"
    manifest.objects = objects
    manifest.notes.append(f"{why} before the plan finished; run the same command to resume")
    manifest.options["errors_files"] = [o.key for o in objects if o.structure == "Errors"]
    manifest.counts["stopped_early"] = 1
    _count_http(manifest, ctx.client)
    manifest.finish("partial")
    manifest.write(ctx.store)
    manifest.log_finished()


def _run_plan(
    ctx: PhaseContext, plan: _Plan, request: TmdbIngestRequest, manifest: RunManifest
) -> tuple[str, bytes] | None:
    """Run what is left of the plan; returns the plan's completion marker to write last."""
    state_prefix = layout.state_prefix(request.run_date, ctx.plan_id)
    complete_key = f"{state_prefix}complete.json"
    if ctx.store.head(complete_key) is not None:
        done = parse_checkpoint(complete_key, ctx.store.get_bytes(complete_key))
        manifest.counts.update(done["counts"])
        manifest.notes.append(
            f"this plan was completed by run {done['run_id']}; nothing left to fetch"
        )
        manifest.finish("partial" if done["counts"].get("failed") else "succeeded")
        return None
    phases: list[tuple[str, PhaseResult]] = []
    first_phase = _first_phase_name(request.plan)
    if plan.first_items:
        runner = PhaseRunner(ctx, first_phase, plan.first_items, request.batch_size)
        runner.prefetched = plan.prefetched
        phases.append((first_phase, runner.run()))
    details_items = unique([*plan.direct_details, *(c for _, r in phases for c in r.children)])
    first_complete = all(r.complete for _, r in phases)
    if details_items and first_complete and request.plan != "discover":
        details = PhaseRunner(ctx, "details", details_items, request.batch_size)
        details.prefetched = plan.prefetched
        phases.append(("details", details.run()))
    complete = first_complete and all(r.complete for _, r in phases)
    rounds: list[_Round] = []
    retry_pending = False
    if complete:
        complete, rounds, retry_pending = _retry_rounds(ctx, request, phases, details_items)
    every_phase = [*phases, *((r.name, r.result) for r in rounds)]
    _adopt_unmanifested(ctx, every_phase, manifest)
    manifest.objects.extend(_not_listed_yet(ctx))
    counts = _counts(_families(phases, rounds), plan)
    counts["retry_rounds"] = len({r.number for r in rounds})
    counts["compacted_records"] = sum(r.compacted for _, r in every_phase)
    manifest.counts.update(counts)
    if manifest.counts["compacted_records"]:
        manifest.notes.append(
            "some TMDB bodies contained raw line breaks and were re-serialised compactly "
            "(the only change cinelake ever makes to a body)"
        )
    errors_files = [o.key for o in manifest.objects if o.structure == "Errors"]
    manifest.options["errors_files"] = errors_files
    manifest.counts["stopped_early"] = int(not complete)
    if not complete:
        manifest.notes.append("stopped before the plan finished; run the same command to resume")
        manifest.finish("partial")
        return None
    if retry_pending:
        # Not sealed: the same command asks again for what failed, in a new retry round.
        manifest.notes.append(
            f"{counts['failed']} items failed after their retries (see the errors files); run "
            "the same command later to ask for them again"
        )
        manifest.finish("partial")
        return None
    if counts["failed"]:
        manifest.notes.append(
            f"{counts['failed']} items failed for good (a 4xx answer, or still failing after "
            f"{MAX_RETRY_ROUNDS} retry rounds); see the errors files"
        )
    manifest.finish("partial" if counts["failed"] else "succeeded")
    if ctx.store.head(complete_key) is not None:
        return None
    marker = json.dumps({"run_id": ctx.run_id, "counts": counts}, sort_keys=True).encode()
    return complete_key, marker


@dataclass
class _Round:
    number: int
    name: str
    family: str
    result: PhaseResult
    replaced: int
    """Items of this phase that an earlier round counted as failed: this round decides them."""


def _retry_rounds(
    ctx: PhaseContext,
    request: TmdbIngestRequest,
    phases: list[tuple[str, PhaseResult]],
    details_items: list[str],
) -> tuple[bool, list[_Round], bool]:
    """Ask again for the items whose retries ran out: at most one new round per later run.

    Round N fetches what was still failed after round N-1 into phases of its own
    (`retry1-find`, `retry1-details`...), so the batches of committed phases never change and a
    round resumes like any phase. Follow-up items a round discovers go to its own details
    phase. Rounds finished by earlier runs are replayed from their markers without a request.
    Returns whether every round this run reached is complete, the rounds, and whether a later
    run has a round left to do (after `MAX_RETRY_ROUNDS`, what still fails is final).
    """
    results = dict(phases)
    first_name = _first_phase_name(request.plan)
    failed_first = list(results[first_name].failed) if first_name in results else []
    failed_details = list(results["details"].failed) if "details" in results else []
    attempted = set(details_items)
    rounds: list[_Round] = []
    number = 0
    while failed_first or failed_details:
        if number == MAX_RETRY_ROUNDS:
            return True, rounds, False
        number += 1
        # `retry1-find`, never `find-retry1`: files are found by the `<phase>-` name prefix, so
        # no phase name may start with another's.
        names = (f"retry{number}-{first_name}", f"retry{number}-details")
        # A run that has asked TMDB anything (these items' retries included) leaves a new
        # round to a later run: asking again at once only doubles the attempts.
        asked_already = ctx.client.stats.requests > ctx.requests_before or ctx.should_stop()
        if asked_already and not any(phase_started(ctx, name) for name in names):
            return True, rounds, True
        new_children: list[str] = []
        next_failed_first: list[str] = []
        if failed_first:
            result = PhaseRunner(ctx, names[0], failed_first, request.batch_size).run()
            rounds.append(_Round(number, names[0], first_name, result, len(failed_first)))
            if not result.complete:
                return False, rounds, True
            next_failed_first = result.failed
            if request.plan != "discover":
                new_children = [c for c in unique(result.children) if c not in attempted]
                attempted.update(new_children)
        next_failed_details: list[str] = []
        retry_details = unique([*failed_details, *new_children])
        if retry_details:
            result = PhaseRunner(ctx, names[1], retry_details, request.batch_size).run()
            rounds.append(_Round(number, names[1], "details", result, len(failed_details)))
            if not result.complete:
                return False, rounds, True
            next_failed_details = result.failed
        failed_first, failed_details = next_failed_first, next_failed_details
    return True, rounds, False


@dataclass
class _Tally:
    state_counts: Counter[str]
    items: int


def _families(phases: list[tuple[str, PhaseResult]], rounds: list[_Round]) -> dict[str, _Tally]:
    """Each phase with its retry rounds folded in: a round re-decides what was failed."""
    families = {name: _Tally(Counter(r.state_counts), r.items) for name, r in phases}
    for retry in rounds:
        if not retry.result.complete:
            continue  # folded in once finished: until then the earlier tally stands
        tally = families.setdefault(retry.family, _Tally(Counter(), 0))
        tally.state_counts["failed"] -= retry.replaced
        tally.state_counts.update(retry.result.state_counts)
        tally.items += retry.result.items - retry.replaced
    return families


def _first_phase_name(plan: PlanName) -> str:
    return {"from-csv": "find", "ids": "find", "discover": "discover", "changes": "changes"}[plan]


def _counts(families: dict[str, _Tally], plan: _Plan) -> dict[str, int]:
    requested = len(plan.first_items) + len(plan.direct_details)
    counts: dict[str, int] = {"requested": requested, "landed": 0, "not_found": 0, "failed": 0}
    final_phase = list(families)[-1] if families else None
    for name, tally in families.items():
        for state in ("landed", "not_found", "failed"):
            number = tally.state_counts[state]
            counts[f"{name}_{state}"] = number
            if state != "landed":
                counts[state] += number
        if name == final_phase:
            counts["landed"] = tally.state_counts["landed"]
        counts[f"{name}_items"] = tally.items
    return counts


def _adopt_unmanifested(
    ctx: PhaseContext, phases: list[tuple[str, PhaseResult]], manifest: RunManifest
) -> None:
    """Batches committed by a run that died before its manifest get listed in this one."""
    seen = {o.key for o in ctx.written}
    for _, result in phases:
        for run_id, files in result.marker_files.items():
            if run_id == ctx.run_id:
                continue
            if ctx.store.head(layout.manifest_key(ctx.run_date, run_id)) is not None:
                continue
            for entry in files:
                if entry["key"] not in seen:
                    seen.add(entry["key"])
                    obj = manifest_object(entry, ctx.plan_id, recovered=True)
                    obj.details["adopted_from_run"] = run_id
                    ctx.written.append(obj)


def _not_listed_yet(ctx: PhaseContext) -> list[ManifestObject]:
    """This run's objects, minus adopted ones an earlier run's manifest already lists.

    A plan may take several runs (kills, `--max-seconds`, retry rounds): files a dead run left
    are adopted by the next run's manifest, and must not be listed again by every run after.
    """
    if not any(o.details.get("adopted") for o in ctx.written):
        return ctx.written
    listed = {  # an unreadable manifest lists nothing: it is `verify`'s finding, not ours
        obj["key"]
        for key in manifest_keys(ctx.store, ctx.run_date, ctx.run_date)
        for obj in manifest_objects(read_manifest(ctx.store, key))
    }
    return [o for o in ctx.written if not (o.details.get("adopted") and o.key in listed)]


def _options(request: TmdbIngestRequest) -> dict[str, Any]:
    return {
        "plan": request.plan,
        "append": list(request.append),
        "batch_size": request.batch_size,
        "rate": request.rate,
        "kind": request.kind,
        "max_pages": request.max_pages,
        "since": request.since.isoformat() if request.since else None,
        "discover_params": dict(request.discover_params),
    }


# Planning ---------------------------------------------------------------------------------
def _load_or_create_plan(
    request: TmdbIngestRequest, store: Store, client: TmdbClient, run_id: str
) -> _Plan:
    identities = [_input_identity(request, store)]
    if request.plan == "ids":
        identities.append(_ids_identity_0_1_0(request))
    specs = [
        PlanSpec(
            plan=request.plan,
            run_date=request.run_date,
            append=request.append,
            batch_size=request.batch_size,
            inputs=inputs,
        )
        for inputs in identities
    ]
    for spec in specs:
        plan_key = f"{layout.state_prefix(request.run_date, spec.plan_id())}plan.json"
        if store.head(plan_key) is not None:
            return _Plan.saved(spec, parse_checkpoint(plan_key, store.get_bytes(plan_key)))
    spec = specs[0]
    plan_key = f"{layout.state_prefix(request.run_date, spec.plan_id())}plan.json"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    plan = _Plan(spec, stamp, [], [])
    if request.plan in {"from-csv", "ids"}:
        first, direct, skipped = _id_items(request, store)
        if skipped and not (first or direct):
            raise InputError(
                f"no landed CSV of {request.run_date} has ids to look up: "
                f"{'; '.join(skipped)}; land the right file or pass --movies/--series"
            )
        plan.notes.extend(skipped)
        if request.plan == "from-csv":
            first = _not_looked_up_yet(store, request, first, plan.notes)
        plan.first_items, plan.direct_details = first, direct
        if first or direct:
            _ask_first_item(request, client, (first or direct)[0], plan.prefetched)
    elif request.plan == "discover":
        plan.first_items = _discover_items(request, client, plan.prefetched)
    else:
        plan.first_items = _changes_items(request, client, plan.prefetched)
    body = {
        "plan_id": spec.plan_id(),
        "stamp": stamp,
        "created_by_run": run_id,
        "request": _options(request),
        "inputs": spec.inputs,
        "first_items": plan.first_items,
        "direct_details": plan.direct_details,
        "notes": plan.notes,
    }
    try:
        store.put_bytes(plan_key, json.dumps(body, sort_keys=True).encode(), {META_RUN_ID: run_id})
    except ObjectConflict:
        saved = parse_checkpoint(plan_key, store.get_bytes(plan_key))
        log.warning(
            "another run created this plan first; following its checkpoint",
            extra={"event": "tmdb.plan_race", "plan_id": spec.plan_id()},
        )
        return _Plan.saved(spec, saved)
    return plan


def _not_looked_up_yet(
    store: Store, request: TmdbIngestRequest, finds: list[str], notes: list[str]
) -> list[str]:
    """The lookups no sealed CSV plan of this date has finished already.

    A CSV landed later the same day (series after movies, say) makes a new plan, since the
    plan is named by the landed files; without this it would fetch every earlier title again.
    A lookup counts as finished only in a sealed plan with the same `--append`, as the same
    kind (a series id may still be a movie), found unknown or landed with all its details: a
    plan left unfinished is never resumed once the files changed, and a title that failed gets
    another chance, so those are asked again here rather than lost.
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
            finished.setdefault(item, plan_id)
    left_out = [item for item in finds if item in finished]
    if left_out:
        plans = sorted({finished[item] for item in left_out})
        notes.append(
            f"{len(left_out)} titles were already looked up for this date by plan "
            f"{', '.join(plans)} and were left out of this one"
        )
    return [item for item in finds if item not in finished]


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


def _input_identity(request: TmdbIngestRequest, store: Store) -> dict[str, Any]:
    """What the plan's items are computed from; a change of input means a new plan."""
    if request.plan == "ids":
        # The titles, not their spelling: movie:0550, " movie:550" and a CRLF copy of an ids
        # file name the same plan, so the same titles never land twice in one partition.
        first, direct, _ = _id_items(request, store)
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


def _ids_identity_0_1_0(request: TmdbIngestRequest) -> dict[str, Any]:
    """How cinelake 0.1.0 named ids plans (by their spelling): its plans are resumed, not redone."""
    ids_file = _content_hash(request.ids_file) if request.ids_file is not None else None
    return {"ids": list(request.ids), "ids_file": ids_file}


def _id_items(request: TmdbIngestRequest, store: Store) -> tuple[list[str], list[str], list[str]]:
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
    for dataset, kind in (("Movies", "find-movie"), ("Series", "find-tv")):
        path = request.movies_path if dataset == "Movies" else request.series_path
        if path is not None:
            finds.extend(f"{kind}:{i}" for i in _csv_ids_from_file(path))
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


class _NoIdColumn(InputError):
    pass


def _ids_file_lines(path: Path) -> Iterator[tuple[str, str]]:
    """Ids a line; blank lines and `#` comments (whole-line or trailing) are skipped."""
    raw = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    for number, line_bytes in enumerate(raw.splitlines(), 1):
        try:
            line = line_bytes.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"--ids-file {path} line {number}: not UTF-8 text") from None
        text = line.partition("#")[0]
        if text.strip():
            yield text, f"--ids-file {path} line {number}"


def _csv_ids_from_file(path: Path) -> Iterator[str]:
    with path.open("rb") as handle:
        yield from _ids_from_lines(handle, str(path))


def _csv_ids_from_lake(store: Store, key: str) -> Iterator[str]:
    with store.open_read(key) as reader:
        yield from _ids_from_lines(_lines(reader), key)


def _lines(reader: Any) -> Iterator[bytes]:
    """Stream lines from a binary reader in constant memory (S3 bodies have no readline)."""
    carry = b""
    while chunk := reader.read(1024 * 1024):
        carry += chunk
        *complete, carry = carry.split(b"\n")
        yield from complete
    if carry:
        yield carry


def _ids_from_lines(lines: Iterator[bytes] | Any, origin: str) -> Iterator[str]:
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


def _ask_first_item(
    request: TmdbIngestRequest, client: TmdbClient, item: str, prefetched: dict[str, TmdbAnswer]
) -> None:
    """Ids and CSV plans need no TMDB answer to be planned, so their first item is asked for
    before the plan is written: a refused key (401 raises here) or a TMDB out of reach then
    leaves nothing in the lake, and the answer is not asked for twice.

    Only a connection that never opened means TMDB is out of reach; a reset, a read timeout or
    a 5xx may be this one title's trouble, so it is planned and its failure kept like any other.
    """
    path, params = request_of(item, request.append, {})
    answer = client.get(path, params)
    if answer.never_connected:
        why = "" if answer.error == "interrupted" else f" ({answer.error})"
        raise UsageError(
            f"cannot reach TMDB at {client.base_url}: no connection could be opened{why}; "
            "nothing was planned or written, check TMDB_BASE_URL and the network"
        )
    if item.startswith("find") and answer.status == 404:
        raise UsageError(
            f"TMDB_BASE_URL {client.base_url}: /find answered 404, which TMDB never does at "
            "its API's address (an unknown IMDb id gets empty results); the URL must end in "
            "the API version, e.g. https://api.themoviedb.org/3; nothing was planned or written"
        )
    if answer.error != "interrupted":
        prefetched[item] = answer


def _discover_items(
    request: TmdbIngestRequest, client: TmdbClient, prefetched: dict[str, TmdbAnswer]
) -> list[str]:
    """Page 1 tells how many pages exist; never ask for page 501."""
    kind = request.kind or "movie"
    first = f"discover-{kind}:1"
    path, params = request_of(first, request.append, dict(request.discover_params))
    total = _total_pages(client.get(path, params), first, prefetched)
    last = min(total, request.max_pages or MAX_DISCOVER_PAGE, MAX_DISCOVER_PAGE)
    return [f"discover-{kind}:{page}" for page in range(1, max(last, 1) + 1)]


def _changes_items(
    request: TmdbIngestRequest, client: TmdbClient, prefetched: dict[str, TmdbAnswer]
) -> list[str]:
    kind = request.kind or "movie"
    since = request.since or request.run_date
    items: list[str] = []
    for start, end in changes_windows(since, request.run_date):
        first = f"changes-{kind}:{start}:{end}:1"
        path, params = request_of(first, (), {})
        total = _total_pages(client.get(path, params), first, prefetched)
        items.extend(f"changes-{kind}:{start}:{end}:{page}" for page in range(1, total + 1))
    return items


def _total_pages(answer: TmdbAnswer, item: str, prefetched: dict[str, TmdbAnswer]) -> int:
    """Page 1 fixes a plan's page count, so without it no plan may be written."""
    if not answer.ok:
        raise RunError(
            f"{answer.endpoint}: page 1 failed ({answer.error or answer.status}); nothing was "
            "planned, run the same command again"
        )
    prefetched[item] = answer
    return int(json.loads(answer.body).get("total_pages", 1) or 1)


def _content_hash(path: Path) -> str:
    """Inputs are named by their bytes: a copied or rewritten file with the same ids must
    resume the same plan, not start a second one that lands everything again."""
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}); check the path") from None
