"""Run one SQL query with DuckDB over the catalog's views: a first look at the lake.

DuckDB is an optional extra (`cinelake[query]`), imported only here and only when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cinelake.errors import InputError, RunError, UsageError


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def run_query(views_sql: str, query: str) -> QueryResult:
    """`views_sql` creates the views (and reaches S3 if needed); `query` is the user's."""
    try:
        import duckdb
    except ImportError:
        raise UsageError(
            "`cinelake sql` needs DuckDB: pip install 'cinelake[query]' (or pip install duckdb)"
        ) from None
    connection = duckdb.connect()
    try:
        try:
            connection.execute(views_sql)
        except duckdb.Error as exc:
            raise RunError(f"DuckDB could not open the lake's views: {_first_line(exc)}") from None
        try:
            cursor = connection.execute(query)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchall()
        except duckdb.Error as exc:
            raise InputError(
                f"the query failed: {_first_line(exc)}; the views are listed by "
                "`cinelake catalog --format duckdb`"
            ) from None
    finally:
        connection.close()
    return QueryResult(columns, rows)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
