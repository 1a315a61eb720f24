"""`cinelake ingest-csv`: flags to a `CsvIngestRequest`, the manifest back to the terminal."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from cinelake import env_names
from cinelake.cli.common import parse_date, print_json, summary, today_utc
from cinelake.errors import InputError
from cinelake.settings import Settings

log = logging.getLogger("cinelake.cli")


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    cmd = commands.add_parser(
        "ingest-csv",
        parents=[common],
        help="land local CSV files byte for byte under Raw/Local/CSV/<Dataset>/YYYY/MM/DD/",
        description="Land local CSV files byte for byte, verified, never overwriting.",
    )
    cmd.add_argument(
        "--movies", type=Path, help="movies CSV (default: CAMINHO_DO_ARQUIVO_LOCAL_MOVIES)"
    )
    cmd.add_argument(
        "--series", type=Path, help="series CSV (default: CAMINHO_DO_ARQUIVO_LOCAL_SERIES)"
    )
    cmd.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="DATASET=PATH",
        help="land PATH as DATASET (Movies or Series); repeatable",
    )
    cmd.add_argument(
        "--date", type=parse_date, help="partition date YYYY-MM-DD (default: today, UTC)"
    )
    cmd.add_argument(
        "--dry-run", action="store_true", help="check inputs and report, without writing"
    )
    cmd.add_argument(
        "--strict", action="store_true", help="refuse files with anomalies instead of reporting"
    )
    cmd.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a different landed file, only where previous versions are kept",
    )
    cmd.add_argument("--json", action="store_true", help="print the run manifest as JSON")
    cmd.set_defaults(func=run_ingest_csv)


def run_ingest_csv(args: argparse.Namespace, settings: Settings) -> int:
    from cinelake.cli.progress import terminal_progress
    from cinelake.csv_ingest.run import CsvIngestRequest, CsvSource, ingest_csv
    from cinelake.store import open_store

    sources: list[CsvSource] = []
    for item in args.file:
        dataset, sep, path = item.partition("=")
        if not sep or not path:
            raise InputError(f"--file {item!r}: use DATASET=PATH, e.g. --file Movies=movies.csv")
        sources.append(CsvSource(_dataset_name(dataset), Path(path)))
    explicit = bool(args.movies or args.series or args.file)
    for dataset, given, configured, variable in (
        ("Movies", args.movies, settings.movies_path, env_names.MOVIES_PATH[0]),
        ("Series", args.series, settings.series_path, env_names.SERIES_PATH[0]),
    ):
        if given:
            sources.append(CsvSource(dataset, given))
        elif configured and not explicit:
            sources.append(CsvSource(dataset, configured, origin=variable))
    sources.sort(key=lambda source: source.dataset != "Movies")
    bars = None if args.quiet else terminal_progress()
    manifest = ingest_csv(
        CsvIngestRequest(
            sources=tuple(sources),
            run_date=args.date or today_utc(),
            dry_run=args.dry_run,
            strict=args.strict,
            overwrite=args.overwrite,
        ),
        lambda: open_store(settings),
        progress=bars,
    )
    if args.json:
        print_json(manifest.to_dict())
    counts = ", ".join(f"{n} {state}" for state, n in manifest.counts.items())
    for obj in manifest.objects:
        if obj.error:
            log.error(
                "%s: %s", obj.state, obj.error, extra={"event": f"csv.{obj.state}", "key": obj.key}
            )
        anomalies = obj.details.get("observed", {}).get("anomalies")
        if anomalies and obj.state in {"written", "unchanged"}:
            log.warning(
                "%s: landed as is, with %s",
                obj.key,
                "; ".join(anomalies),
                extra={"event": "csv.anomalies", "key": obj.key, "anomalies": anomalies},
            )
    if args.dry_run:
        counts = counts.replace(" written", " to write")
        summary(args, f"ingest-csv dry run: {counts}; nothing was written to {manifest.lake}")
    else:
        where = f"manifest {manifest.key} in {manifest.lake}"
        summary(args, f"ingest-csv {manifest.status}: {counts}; {where}")
    return 0 if manifest.status == "succeeded" else 1


def _dataset_name(name: str) -> str:
    for known in ("Movies", "Series"):
        if name.strip().lower() == known.lower():
            return known
    raise InputError(f"--file {name}=…: unknown dataset {name!r}; use Movies or Series")
