"""The `cinelake` command line: parse, call the core, turn errors into one line and an exit code.

No ingestion logic lives here. Exit codes: 0 all landed or unchanged, 1 something failed during
the run, 2 usage, configuration or bad input.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from cinelake import __version__, env_names, stopping
from cinelake.errors import CinelakeError, InputError, Terminated
from cinelake.logs import SecretFilter, configure_logging
from cinelake.settings import Settings, load_settings

log = logging.getLogger("cinelake.cli")

Command = Callable[[argparse.Namespace, Settings], int]


def parse_date(value: str) -> date:
    """Only YYYY-MM-DD: `date.fromisoformat` also takes 20250502 and week dates (2025-W18-5)."""
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date; use YYYY-MM-DD") from None


def today_utc() -> date:
    """Partitions are UTC dates everywhere: a laptop, a container and Lambda agree."""
    return datetime.now(UTC).date()


def common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("common options")
    group.add_argument(
        "--env-file", type=Path, help="read settings from this .env file (default: ./.env)"
    )
    group.add_argument(
        "--lake",
        help="s3://BUCKET[/PREFIX] or a local folder (default: NOME_DO_BUCKET_S3, else ./lake)",
    )
    group.add_argument(
        "-v", "--verbose", action="count", default=0, help="more detail (-vv for debug)"
    )
    group.add_argument("-q", "--quiet", action="store_true", help="only errors and the result")
    group.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="text for people, json (one object per line) for machines; the Lambda default",
    )
    return common


class _OneLineParser(argparse.ArgumentParser):
    """Usage errors are one line like every other error; the usage block is in --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="cinelake",
        description="Land movies & series data in a data lake's raw zone, exactly as received.",
    )
    parser.add_argument("--version", action="version", version=f"cinelake {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = common_options()
    _add_ingest_csv(commands, common)
    for register in _command_groups():
        register(commands, common)
    return parser


def _add_ingest_csv(commands: Any, common: argparse.ArgumentParser) -> None:
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
    from cinelake.csv_ingest.run import CsvIngestRequest, CsvSource, ingest_csv
    from cinelake.progress import terminal_progress
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


def print_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


def summary(args: argparse.Namespace, line: str) -> None:
    """The final human line; on stderr when stdout carries JSON, so pipes stay parseable."""
    stream = sys.stderr if getattr(args, "json", False) else sys.stdout
    print(f"cinelake: {line}", file=stream)


def _command_groups() -> list[Callable[[Any, argparse.ArgumentParser], None]]:
    """Each command group registers itself; imported here, after this module is loaded."""
    from cinelake import lambda_cli, ops_cli, tmdb_cli

    return [tmdb_cli.register, ops_cli.register, lambda_cli.register]


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    env = dict(os.environ if environ is None else environ)
    verbosity = -1 if args.quiet else min(args.verbose, 2)
    json_logs = (args.log_format or env.get("CINELAKE_LOG_FORMAT")) == "json"
    # Configured before settings load, so errors while loading them are formatted too.
    scrubber = configure_logging(verbosity=verbosity, json_format=json_logs)
    try:
        settings = load_settings(
            environ=env,
            env_file=args.env_file,
            overrides={
                "lake": args.lake,
                "log_format": args.log_format,
            },
        )
        if (settings.log_format == "json") != json_logs:  # set in the .env file only
            json_logs = not json_logs
            scrubber = configure_logging(verbosity=verbosity, json_format=json_logs)
        scrubber.set_secrets(settings.secrets())
        func: Command = args.func
        with _sigterm_stops_like_ctrl_c():
            return func(args, settings)
    except CinelakeError as exc:
        return _fail(args, scrubber, str(exc), exc.exit_code, json_logs)
    except KeyboardInterrupt as stop:
        terminated = isinstance(stop, Terminated)
        return _fail(
            args,
            scrubber,
            f"{'terminated (SIGTERM)' if terminated else 'interrupted'}; what landed stays "
            "landed, re-run to resume",
            128 + signal.SIGTERM if terminated else 130,
            json_logs,
        )
    except Exception as exc:  # a bug or an unmapped library error: still one scrubbed line
        return _fail(
            args,
            scrubber,
            f"unexpected {type(exc).__name__}: {exc}; what landed stays landed, re-run to "
            "resume (-v shows the traceback)",
            1,
            json_logs,
        )


@contextmanager
def _sigterm_stops_like_ctrl_c() -> Iterator[None]:
    """Without this, SIGTERM ends the process on the spot: no manifest for what landed.

    Both signals wait while a manifest is being written (see `cinelake.stopping`).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        stopping.stop(Terminated())

    def interrupt(signum: int, frame: FrameType | None) -> None:
        stopping.stop(KeyboardInterrupt())

    handlers = {signal.SIGTERM: terminate, signal.SIGINT: interrupt}
    previous = {
        number: signal.signal(number, handler)
        for number, handler in handlers.items()
        # Ignored when started (`cmd &` in a script ignores SIGINT): stays ignored.
        if signal.getsignal(number) is not signal.SIG_IGN
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _fail(
    args: argparse.Namespace, scrubber: SecretFilter, message: str, code: int, json_logs: bool
) -> int:
    if args.verbose:
        log.info("traceback of the error reported below", exc_info=True)
    if json_logs:
        log.error(message, extra={"event": "command.failed", "exit_code": code})
    else:
        one_line = " ".join(scrubber.scrub(message).split())
        print(f"cinelake: error: {one_line}", file=sys.stderr)
    return code
