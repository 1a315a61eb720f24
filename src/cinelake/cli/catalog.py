"""`cinelake catalog` and `cinelake sql`: the raw zone as tables for Athena, Glue and DuckDB.

Thin shells over `cinelake.lake.catalog*` and `cinelake.lake.query`: parse, describe the lake,
render or apply, print.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cinelake.cli.common import print_json
from cinelake.cli.ops import open_existing_lake
from cinelake.errors import NO_AWS_CREDENTIALS, ConfigError, InputError
from cinelake.settings import Settings

if TYPE_CHECKING:
    from cinelake.lake.catalog_athena import AthenaCatalog

DEFAULT_DATABASE = "cinelake_raw"
CELL_WIDTH = 60


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    catalog = commands.add_parser(
        "catalog",
        parents=[common],
        help="describe every raw dataset as a table: Athena DDL, Glue tables or DuckDB views",
        description=(
            "Describe the lake's raw datasets as tables, raw as landed: CSV columns named from "
            "the header, TMDB records whole, the date from the key. Prints Athena DDL (the "
            "default for an S3 lake) or DuckDB SQL (the default for a local lake); --apply "
            "creates or updates the Glue database and tables. Indexes the TMDB files landed "
            "before record indexes existed."
        ),
    )
    catalog.add_argument(
        "--format",
        choices=("athena", "duckdb"),
        help="athena (DDL, needs an S3 lake) or duckdb (views over the folder or over S3)",
    )
    catalog.add_argument(
        "--database",
        default=DEFAULT_DATABASE,
        help=f"the Glue/Athena database (default: {DEFAULT_DATABASE})",
    )
    catalog.add_argument(
        "--apply",
        action="store_true",
        help="create or update the Glue database, tables and views (idempotent)",
    )
    catalog.add_argument(
        "--json", action="store_true", help="print the statements and what --apply did as JSON"
    )
    catalog.set_defaults(func=run_catalog)

    sql = commands.add_parser(
        "sql",
        parents=[common],
        help="run one SQL query over the lake with DuckDB (extra: cinelake[query])",
        description=(
            "Run QUERY with DuckDB over the views `cinelake catalog --format duckdb` creates "
            "(csv_movies, tmdb_find, tmdb_movies_latest, ...). Prints a table on a terminal, "
            "CSV otherwise."
        ),
    )
    sql.add_argument("query", metavar="QUERY", help='for example "SELECT count(*) FROM csv_movies"')
    sql.add_argument(
        "--output",
        choices=("table", "csv", "json"),
        help="table (default on a terminal), csv (default otherwise) or json",
    )
    sql.set_defaults(func=run_sql)


def lake_root(settings: Settings) -> str:
    return settings.lake if settings.is_s3 else str(Path(settings.lake).resolve())


def run_catalog(args: argparse.Namespace, settings: Settings) -> int:
    from cinelake.lake.catalog import describe_lake
    from cinelake.lake.catalog_glue import check_database_name

    fmt = args.format or ("athena" if settings.is_s3 else "duckdb")
    if args.apply and fmt != "athena":
        raise InputError("--apply creates Glue tables for Athena: use it with --format athena")
    if fmt == "athena":
        check_database_name(args.database)
        if not settings.is_s3:
            raise InputError(
                f"--format athena: {settings.lake} is a local folder and Athena reads S3; "
                "use --lake s3://BUCKET, or --format duckdb"
            )
    store = open_existing_lake(settings)
    try:
        catalog = describe_lake(store)
    finally:
        store.close()
    if catalog.indexes_written:
        print(
            f"cinelake: indexed {catalog.indexes_written} TMDB file(s) landed before record "
            "indexes existed",
            file=sys.stderr,
        )
    result: dict[str, Any] = {"format": fmt, "lake": settings.lake}
    if fmt == "duckdb":
        from cinelake.lake.catalog_duckdb import duckdb_sql, s3_preamble

        preamble = s3_preamble(settings.region, settings.endpoint_url) if settings.is_s3 else []
        text = duckdb_sql(catalog, lake_root(settings), preamble)
        names = [t.name for t in catalog.csv] + [t.name for t in catalog.tmdb]
    else:
        from cinelake.lake.catalog_athena import athena_catalog, ddl

        athena = athena_catalog(catalog, args.database, lake_root(settings))
        text = ddl(athena)
        names = [t.name for t in athena.tables] + [v.name for v in athena.views]
        result["database"] = args.database
        if args.apply:
            result["applied"] = _apply(settings, athena)
    result["tables"] = names
    result["sql"] = text
    if args.json:
        print_json(result)
    elif not args.apply:
        sys.stdout.write(text)
    print(f"cinelake: catalog: {len(names)} tables and views ({fmt})", file=sys.stderr)
    return 0


def _apply(settings: Settings, athena: AthenaCatalog) -> dict[str, Any]:
    from botocore.exceptions import NoRegionError

    from cinelake.lake.catalog_glue import apply_catalog
    from cinelake.store import aws_session

    try:
        glue = aws_session(settings).client("glue")
    except NoRegionError:
        raise ConfigError(
            "--apply needs the bucket's region for Glue: set REGIAO_DO_BUCKET (or AWS_REGION)"
        ) from None
    report = apply_catalog(glue, athena)
    print(
        f"cinelake: glue database {report.database} "
        f"({'created' if report.database_created else 'kept'}): "
        f"{report.count('created')} created, {report.count('updated')} updated, "
        f"{report.count('unchanged')} unchanged",
        file=sys.stderr,
    )
    return report.to_dict()


def run_sql(args: argparse.Namespace, settings: Settings) -> int:
    from cinelake.lake.catalog import describe_lake
    from cinelake.lake.catalog_duckdb import duckdb_sql, s3_preamble
    from cinelake.lake.query import run_query

    store = open_existing_lake(settings)
    try:
        catalog = describe_lake(store)
    finally:
        store.close()
    preamble: list[str] = []
    if settings.is_s3:
        preamble = s3_preamble(settings.region, settings.endpoint_url, keys=_s3_keys(settings))
    result = run_query(duckdb_sql(catalog, lake_root(settings), preamble), args.query)
    output = args.output or ("table" if sys.stdout.isatty() else "csv")
    if output == "json":
        sys.stdout.write(
            json.dumps(
                [dict(zip(result.columns, row, strict=True)) for row in result.rows],
                ensure_ascii=False,
                indent=2,
                default=str,
            )
            + "\n"
        )
    elif output == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(["" if v is None else v for v in row] for row in result.rows)
    else:
        print(format_rows(result.columns, result.rows))
        print(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return 0


def format_rows(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    def cell(value: Any) -> str:
        text = "NULL" if value is None else " ".join(str(value).split())
        return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "…"

    cells = [[cell(v) for v in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(f"{c:<{w}}" for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(f"{c:<{w}}" for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def _s3_keys(settings: Settings) -> str:
    """The credentials DuckDB's secret needs; used for the query, never printed."""
    from cinelake.lake.catalog_duckdb import literal
    from cinelake.store import aws_session

    credentials = aws_session(settings).get_credentials()
    if credentials is None:
        raise ConfigError(NO_AWS_CREDENTIALS)
    frozen = credentials.get_frozen_credentials()
    keys = f"KEY_ID {literal(frozen.access_key or '')}, SECRET {literal(frozen.secret_key or '')}"
    if frozen.token:
        keys += f", SESSION_TOKEN {literal(frozen.token)}"
    return keys
