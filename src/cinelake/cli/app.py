"""The `cinelake` command line: parse, call the core, turn errors into one line and an exit code.

No ingestion logic lives here. Exit codes: 0 all landed or unchanged, 1 something failed during
the run, 2 usage, configuration or bad input.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any, NoReturn

from cinelake import __version__, stopping
from cinelake.cli.common import Command, common_options
from cinelake.errors import CinelakeError, Terminated
from cinelake.logs import SecretFilter, configure_logging
from cinelake.settings import load_settings

log = logging.getLogger("cinelake.cli")


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
    for register in _command_groups():
        register(commands, common)
    return parser


def _command_groups() -> list[Callable[[Any, argparse.ArgumentParser], None]]:
    from cinelake.cli import catalog, ingest_csv, ingest_tmdb, lambda_commands, ops

    return [
        ingest_csv.register,
        ingest_tmdb.register,
        ops.register,
        catalog.register,
        lambda_commands.register,
    ]


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
