"""`cinelake status` and `cinelake verify`: the owner's view of the lake, and its audit.

Thin shells: the answers come from `lake_status` and `lake_verify`; this module only turns
flags into a date range and reports into a table, lines and an exit code.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from cinelake.cli.common import parse_date, print_json, summary
from cinelake.errors import LakeUnavailable
from cinelake.settings import Settings
from cinelake.store.base import Store

log = logging.getLogger("cinelake.cli")


def register(commands: Any, common: argparse.ArgumentParser) -> None:

    status = commands.add_parser(
        "status",
        parents=[common],
        help="what the lake holds per source and date, read from the run manifests",
        description=(
            "One row per source and partition date: objects, records, bytes, the last run and "
            "how it ended, items not found or failed. Reads manifests only, never data."
        ),
    )
    _add_range(status, parse_date)
    status.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    status.set_defaults(func=run_status)

    verify = commands.add_parser(
        "verify",
        parents=[common],
        help="check every object against its manifest; exit 1 on any finding",
        description=(
            "Check that every object a manifest lists is present with its size and checksum, "
            "and that no data object lies under Raw/ without a manifest naming it."
        ),
    )
    _add_range(verify, parse_date)
    verify.add_argument(
        "--deep",
        action="store_true",
        help="also download each object and re-hash its SHA-256 (slower, reads every byte)",
    )
    verify.add_argument(
        "--json", action="store_true", help="print the report and its findings as JSON"
    )
    verify.set_defaults(func=run_verify)


def _add_range(cmd: argparse.ArgumentParser, parse_date: Callable[[str], date]) -> None:
    group = cmd.add_mutually_exclusive_group()
    group.add_argument(
        "--date", type=parse_date, help="only this partition date YYYY-MM-DD (default: all dates)"
    )
    group.add_argument(
        "--since", type=parse_date, help="partition dates from YYYY-MM-DD on (default: all dates)"
    )


def date_range(args: argparse.Namespace) -> tuple[date | None, date | None]:
    if args.date is not None:
        return args.date, args.date
    return args.since, None


def describe_range(since: date | None, until: date | None) -> str:
    if since is None and until is None:
        return "all dates"
    if since == until:
        return f"{since}"
    return f"{since} onwards"


def open_existing_lake(settings: Settings) -> Store:
    """A read-only command must not create an empty lake folder where none was meant to be."""
    from cinelake.store import open_store

    if not settings.is_s3 and not Path(settings.lake).is_dir():
        raise LakeUnavailable(
            f"--lake {settings.lake}: no such folder; point --lake (or NOME_DO_BUCKET_S3) at a "
            "lake, or land something first with `cinelake ingest-csv`"
        )
    return open_store(settings)


# status -----------------------------------------------------------------------------------
_COLUMNS = (
    ("DATE", "<"),
    ("SOURCE", "<"),
    ("OBJECTS", ">"),
    ("RECORDS", ">"),
    ("BYTES", ">"),
    ("LAST RUN", "<"),
    ("FINISHED", "<"),
    ("STATUS", "<"),
    ("NOT FOUND", ">"),
    ("FAILED", ">"),
)


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    from cinelake.lake.status import lake_status

    since, until = date_range(args)
    store = open_existing_lake(settings)
    try:
        report = lake_status(store, since, until)
    finally:
        store.close()
    for key, reason in report.unreadable:
        log.warning("%s: %s; status ignores it", key, reason, extra={"event": "status.unreadable"})
    if args.json:
        sys.stdout.write(
            json.dumps([r.to_dict() for r in report.rows], ensure_ascii=False, indent=2) + "\n"
        )
    elif report.rows:
        print(
            format_table(
                [
                    (
                        r.date.isoformat(),
                        r.source,
                        str(r.objects),
                        str(r.records),
                        human_bytes(r.bytes),
                        r.last_run_id or "-",
                        r.last_run_finished_at or "-",
                        r.last_run_status or "-",
                        str(r.not_found),
                        str(r.failed),
                    )
                    for r in report.rows
                ]
            )
        )
    where = describe_range(since, until)
    if not report.rows:
        summary(args, f"status: no runs recorded for {where} in {store.url}")
        return 0
    days = len({r.date for r in report.rows})
    summary(
        args,
        f"status: {len(report.rows)} partitions over {days} day(s), {report.objects} objects, "
        f"{human_bytes(report.bytes)}, from {report.manifests} manifests ({where}) in {store.url}",
    )
    return 0


def format_table(rows: list[tuple[str, ...]]) -> str:
    widths = [len(name) for name, _ in _COLUMNS]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: tuple[str, ...]) -> str:
        parts = [
            f"{cell:{align}{width}}"
            for cell, (_, align), width in zip(cells, _COLUMNS, widths, strict=True)
        ]
        return "  ".join(parts).rstrip()

    header = line(tuple(name for name, _ in _COLUMNS))
    return "\n".join([header, *(line(row) for row in rows)])


def human_bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"  # pragma: no cover - the loop always returns


# verify -----------------------------------------------------------------------------------
def run_verify(args: argparse.Namespace, settings: Settings) -> int:
    from cinelake.lake.verify import Finding, verify_lake

    since, until = date_range(args)
    store = open_existing_lake(settings)

    def show(finding: Finding) -> None:
        if args.json:
            return
        run = f" (run {finding.run_id})" if finding.run_id else ""
        print(f"{finding.kind:<19} {finding.key}: {finding.detail}{run}", flush=True)

    try:
        report = verify_lake(store, since, until, args.deep, on_finding=show)
    finally:
        store.close()
    if args.json:
        print_json(report.to_dict())
    how = "size, checksum and a SHA-256 re-hash" if args.deep else "size and server checksum"
    if report.size_and_md5 or report.size_only:
        how = _lesser_checks(report.checked, report.size_and_md5, report.size_only)
    checked = (
        f"{report.checked} objects ({human_bytes(report.checked_bytes)}) checked by {how}, "
        f"{report.scanned} scanned for unlisted, {report.manifests} manifests, "
        f"{describe_range(since, until)}"
    )
    if report.intact:
        summary(args, f"verify: intact: {checked} in {store.url}")
        return 0
    found = ", ".join(f"{n} {kind}" for kind, n in sorted(report.counts.items()))
    total = sum(report.counts.values())
    summary(args, f"verify: {total} finding(s) ({found}): {checked} in {store.url}")
    return report.exit_code


def _lesser_checks(checked: int, size_and_md5: int, size_only: int) -> str:
    """What was compared per object where the store returned no checksum for some."""
    if size_and_md5 == checked:
        return "size and MD5"
    if size_only == checked:
        return "size only: run --deep to re-hash"
    by_checksum = checked - size_and_md5 - size_only
    parts = [f"size and server checksum ({by_checksum})"] if by_checksum > 0 else []
    if size_and_md5:
        parts.append(f"size and MD5 ({size_and_md5})")
    if size_only:
        parts.append(f"size only ({size_only}: run --deep to re-hash)")
    return " or ".join(parts)
