"""`ingest-tmdb` as one function: plan, run the phases, write the manifest.

The CLI and the Lambda handler both call `run_tmdb_ingest`; neither adds behaviour.
A plan's checkpoint lives in the lake under `Raw/_state/tmdb/YYYY/MM/DD/<plan_id>/`, so any
machine (or a Lambda continuation) that runs the same request for the same date resumes it.
"""

from __future__ import annotations

import json
import logging

from cinelake import stopping
from cinelake.errors import (
    CinelakeError,
    Terminated,
    TmdbAuthErrorAfterLanding,
)
from cinelake.lake import layout, lease
from cinelake.lake.manifest import ManifestObject, RunManifest, new_run_id
from cinelake.lake.status import manifest_keys, manifest_objects, read_manifest
from cinelake.logs import SecretFilter, set_run_id
from cinelake.settings import Settings
from cinelake.store.base import META_RUN_ID, Store
from cinelake.tmdb.checkpoints import manifest_object, parse_checkpoint
from cinelake.tmdb.client import TmdbClient
from cinelake.tmdb.engine import PhaseRunner
from cinelake.tmdb.phase import Deadline, PhaseContext, PhaseResult, ProgressFactory
from cinelake.tmdb.planning import Plan, load_or_create_plan
from cinelake.tmdb.plans import (
    unique,
)
from cinelake.tmdb.refresh import record_refreshed
from cinelake.tmdb.request import TmdbIngestRequest, options
from cinelake.tmdb.retry import RetryPolicy
from cinelake.tmdb.rounds import (
    MAX_RETRY_ROUNDS,
    RetryRound,
    first_phase_name,
    fold_find_counts,
    fold_rounds,
    plan_counts,
    retry_rounds,
)

log = logging.getLogger(__name__)


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
    if client is None:  # before the lease: a malformed base URL leaves nothing in the lake
        client = TmdbClient(
            settings.tmdb_base_url,
            api_key=settings.tmdb_api_key,
            read_token=settings.tmdb_read_token,
            rate=request.rate,
            policy=retry_policy,
            pool_size=request.workers,
        )
    try:
        held = lease.acquire(store, "tmdb", run_id)  # LeaseBusy: another run works, no request
    except BaseException:
        if own_client:
            client.close()
        raise
    manifest = RunManifest(
        run_id=run_id,
        command=f"ingest-tmdb --{request.plan}",
        partition_date=request.run_date,
        lake=store.url,
        options=options(request),
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
            stop_margin=request.stop_margin,
            progress=progress,
        )
        held.keep_alive(on_lost=ctx.stop_event.set)
        client.stop = ctx.should_stop
        client.remaining = deadline.remaining
        plan = load_or_create_plan(request, store, client, run_id)
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
        if ctx.refusal is not None and not manifest.objects:
            raise ctx.refusal  # nothing of this run landed: a usage error, nothing written
        if ctx.refusal is not None:
            manifest.notes.append(f"{ctx.refusal}; fix it and run the same command to resume")
        with stopping.manifest_write():  # before the client closes: a stop then waits for it
            _count_http(manifest, client)
            manifest.write(store)
            if complete_marker is not None:
                # Only after the manifest: a crash in between must not leave files unlisted.
                store.put_bytes(complete_marker[0], complete_marker[1], {META_RUN_ID: run_id})
            store.report_limitations()
            if request.plan == "refresh":
                record_refreshed(store, request.run_date, ctx.plan_id, run_id)
            manifest.log_finished()
        if ctx.refusal is not None:
            raise TmdbAuthErrorAfterLanding(
                f"{ctx.refusal}. {len(manifest.objects)} files of this run landed before it, "
                f"listed in the partial manifest {manifest.key}: fix the credential and run "
                "the same command to resume"
            )
    finally:
        held.release()
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
    ctx: PhaseContext, plan: Plan, request: TmdbIngestRequest, manifest: RunManifest
) -> tuple[str, bytes] | None:
    """Run what is left of the plan; returns the plan's completion marker to write last."""
    complete_key = f"{layout.state_prefix(request.run_date, ctx.plan_id)}complete.json"
    if _sealed_already(ctx, complete_key, manifest):
        return None
    phases: list[tuple[str, PhaseResult]] = []
    first_phase = first_phase_name(request.plan)
    if plan.first_items:
        runner = PhaseRunner(ctx, first_phase, plan.first_items, request.batch_size)
        runner.prefetched = plan.prefetched
        phases.append((first_phase, runner.run()))
    landed_by_lookup = {title for _, r in phases for title in r.titles_landed}
    details_items = [
        item
        for item in unique([*plan.direct_details, *(c for _, r in phases for c in r.children)])
        if item not in landed_by_lookup
    ]
    first_complete = all(r.complete for _, r in phases)
    if details_items and first_complete and request.plan != "discover":
        details = PhaseRunner(ctx, "details", details_items, request.batch_size)
        details.prefetched = plan.prefetched
        phases.append(("details", details.run()))
    complete = first_complete and all(r.complete for _, r in phases)
    rounds: list[RetryRound] = []
    retry_pending = False
    if complete:
        asked = [*details_items, *landed_by_lookup]
        complete, rounds, retry_pending = retry_rounds(ctx, request, phases, asked)
    every_phase = [*phases, *((r.name, r.result) for r in rounds)]
    _adopt_unmanifested(ctx, every_phase, manifest)
    manifest.objects.extend(_not_listed_yet(ctx))
    counts = plan_counts(fold_rounds(phases, rounds), plan)
    counts.update(plan.facts)
    counts["retry_rounds"] = len({r.number for r in rounds})
    counts["compacted_records"] = sum(r.compacted for _, r in every_phase)
    if first_phase == "find":
        _count_finds(counts, manifest, phases, rounds)
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


def _count_finds(
    counts: dict[str, int],
    manifest: RunManifest,
    phases: list[tuple[str, PhaseResult]],
    rounds: list[RetryRound],
) -> None:
    """What the `/find` answers showed beyond found or not: counted, with a few examples."""
    find = fold_find_counts(phases, rounds)
    counts.update(find.manifest_counts())
    manifest.notes.extend(find.notes())


def _sealed_already(ctx: PhaseContext, complete_key: str, manifest: RunManifest) -> bool:
    """A plan some run completed: its counts are this run's answer, with no request."""
    if ctx.store.head(complete_key) is None:
        return False
    done = parse_checkpoint(complete_key, ctx.store.get_bytes(complete_key))
    manifest.counts.update(done["counts"])
    manifest.notes.append(f"this plan was completed by run {done['run_id']}; nothing left to fetch")
    manifest.finish("partial" if done["counts"].get("failed") else "succeeded")
    return True


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
