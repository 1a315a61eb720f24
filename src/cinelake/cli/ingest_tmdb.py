"""`cinelake ingest-tmdb`: flags to a `TmdbIngestRequest`, the manifest back to the terminal."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cinelake.cli.common import parse_date, print_json, summary, today_utc
from cinelake.errors import InputError, LeaseBusy
from cinelake.settings import Settings


def register(commands: Any, common: argparse.ArgumentParser) -> None:

    cmd = commands.add_parser(
        "ingest-tmdb",
        parents=[common],
        help="fetch TMDB JSON for the landed titles and land it under Raw/TMDB/JSON/",
        description="Fetch TMDB data and land each response body as received, exactly once.",
    )
    plans = cmd.add_mutually_exclusive_group()
    plans.add_argument(
        "--from-csv",
        action="store_true",
        help="IMDb ids of the movies/series CSVs landed for --date (the default plan)",
    )
    plans.add_argument("--ids", help="comma-separated movie:ID, tv:ID or tt… ids")
    plans.add_argument(
        "--ids-file", type=Path, help="a file with one movie:ID / tv:ID / tt… a line"
    )
    plans.add_argument(
        "--discover", choices=("movie", "tv"), help="land /discover pages themselves"
    )
    plans.add_argument(
        "--changes", choices=("movie", "tv"), help="ids changed since --since, then their details"
    )
    plans.add_argument(
        "--refresh",
        action="store_true",
        help="details of the titles the lake holds that changed on TMDB since the last refresh",
    )
    plans.add_argument(
        "--daily",
        action="store_true",
        help="from-csv for every date still waiting, then --refresh (what a schedule runs)",
    )
    cmd.add_argument("--movies", type=Path, help="read movie ids from this local CSV instead")
    cmd.add_argument("--series", type=Path, help="read series ids from this local CSV instead")
    cmd.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a /discover query parameter; repeatable",
    )
    cmd.add_argument(
        "--max-pages", type=int, help="at most this many /discover pages (1-500; default all)"
    )
    cmd.add_argument(
        "--since",
        type=parse_date,
        help="--changes start date; for --refresh/--daily, where a first refresh starts",
    )
    cmd.add_argument(
        "--date", type=parse_date, help="partition date YYYY-MM-DD (default: today, UTC)"
    )
    cmd.add_argument(
        "--append",
        default="credits,external_ids,keywords",
        help="append_to_response list for details (at most 20 items)",
    )
    cmd.add_argument(
        "--batch-size", type=int, default=100, help="records per file, 1-100 (default 100)"
    )
    cmd.add_argument(
        "--rate", type=float, default=35.0, help="requests per second for the run (default 35)"
    )
    cmd.add_argument(
        "--workers", type=int, default=16, help="concurrent requests in flight (default 16)"
    )
    cmd.add_argument(
        "--max-seconds", type=float, help="stop cleanly before this many seconds; resume later"
    )
    cmd.add_argument("--tmdb-base-url", help="TMDB API base URL (default: TMDB_BASE_URL)")
    cmd.add_argument("--json", action="store_true", help="print the run manifest as JSON")
    cmd.set_defaults(func=run_ingest_tmdb)


def build_request(args: argparse.Namespace, today: Any) -> Any:
    from cinelake.tmdb.request import PlanName, TmdbIngestRequest

    params = []
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(
                f"--param {item!r}: use KEY=VALUE, e.g. --param sort_by=popularity.desc"
            )
        params.append((key, value))
    plan: PlanName = "from-csv"
    if args.ids is not None or args.ids_file is not None:
        plan = "ids"
    elif args.discover:
        plan = "discover"
    elif args.changes:
        plan = "changes"
    elif args.refresh or args.daily:
        plan = "refresh"
    misplaced = [
        flag
        for flag, given, plans in (
            ("--since", args.since is not None, {"changes", "refresh"}),
            ("--param", bool(args.param), {"discover"}),
            ("--max-pages", args.max_pages is not None, {"discover"}),
            ("--movies", args.movies is not None, {"from-csv"}),
            ("--series", args.series is not None, {"from-csv"}),
        )
        if given and plan not in plans
    ]
    if misplaced:
        raise InputError(
            f"{misplaced[0]} does not apply to the {plan} plan; drop it or choose the plan it "
            "belongs to (--since: --changes, --refresh, --daily; --param/--max-pages: --discover; "
            "--movies/--series: --from-csv)"
        )
    if args.workers < 1:
        raise InputError(f"--workers {args.workers}: use at least 1")
    return TmdbIngestRequest(
        plan=plan,
        run_date=args.date or today,
        ids=tuple(t for t in (args.ids or "").split(",") if t.strip()),
        ids_file=args.ids_file,
        movies_path=args.movies,
        series_path=args.series,
        kind=args.discover or args.changes,
        discover_params=tuple(params),
        max_pages=args.max_pages,
        since=args.since,
        append=tuple(a for a in args.append.split(",") if a.strip()),
        batch_size=args.batch_size,
        rate=args.rate,
        max_seconds=args.max_seconds,
        workers=args.workers,
    )


def run_ingest_tmdb(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from cinelake.cli.progress import terminal_progress
    from cinelake.store import open_store
    from cinelake.tmdb.service import run_tmdb_ingest

    request = build_request(args, today_utc()).checked()
    if args.tmdb_base_url:
        settings = replace(settings, tmdb_base_url=args.tmdb_base_url.rstrip("/"))
    store = open_store(settings)
    bars = None if args.quiet else terminal_progress()
    item_bars: Callable[[str, int], Callable[[int], None]] | None = None
    if bars is not None:
        factory = bars

        def item_bars(label: str, total: int) -> Callable[[int], None]:
            return factory(label, total, "items")

    try:
        if args.daily:
            return _run_daily(args, request, settings, store, item_bars)
        manifest = run_tmdb_ingest(request, settings=settings, store=store, progress=item_bars)
    except LeaseBusy as busy:
        if args.json:
            print_json(
                {
                    "status": "busy",
                    "holder": busy.holder,
                    "started_at": busy.started_at,
                    "lease": busy.key,
                }
            )
        print(f"cinelake: {busy}", file=sys.stderr)
        return busy.exit_code
    if args.json:
        print_json(manifest.to_dict())
    _summarise(args, manifest, store.url)
    return 0 if manifest.status == "succeeded" else 1


def _run_daily(
    args: argparse.Namespace,
    request: Any,
    settings: Settings,
    store: Any,
    item_bars: Callable[[str, int], Callable[[int], None]] | None,
) -> int:
    from cinelake.tmdb.daily import run_daily

    result = run_daily(request, settings=settings, store=store, progress=item_bars)
    if args.json:
        print_json(result.to_dict())
    for manifest in result.manifests:
        _summarise(args, manifest, store.url)
    for note in result.notes:
        summary(args, f"ingest-tmdb --daily: {note}")
    summary(
        args,
        f"ingest-tmdb --daily {result.status}: {len(result.manifests)} runs"
        + ("; work remains: run the same command to go on" if result.work_remains else ""),
    )
    return 0 if result.status == "succeeded" else 1


def _summarise(args: argparse.Namespace, manifest: Any, lake_url: str) -> None:
    counts = manifest.counts
    errors = manifest.options.get("errors_files") or []
    summary(
        args,
        f"ingest-tmdb {manifest.status}: {counts.get('requested', 0)} requested, "
        f"{counts.get('landed', 0)} landed, {counts.get('not_found', 0)} not found, "
        f"{counts.get('failed', 0)} failed, {len(manifest.objects)} files"
        + (f" ({len(errors)} errors files)" if errors else "")
        + f"; {counts.get('http_requests', 0)} requests; manifest {manifest.key} in {lake_url}"
        + (
            "; stopped early: run the same command to resume" if counts.get("stopped_early") else ""
        ),
    )
