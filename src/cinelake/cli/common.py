"""What every command group shares: date parsing, common options, and how results are printed.

A leaf of the CLI package: command modules import it, it imports nothing of the CLI.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cinelake.settings import Settings

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


def print_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


def summary(args: argparse.Namespace, line: str) -> None:
    """The final human line; on stderr when stdout carries JSON, so pipes stay parseable."""
    stream = sys.stderr if getattr(args, "json", False) else sys.stdout
    print(f"cinelake: {line}", file=stream)
