"""DuckDB reads every table of a landed lake as it landed: proven by DuckDB itself.

One lake for the module, landed by the real `ingest-csv` (nasty bytes included) and
`ingest-tmdb` (through the emulator); `cinelake catalog --format duckdb` prints the views, and
DuckDB runs them. Counts are compared with the manifests, texts with the landed bytes.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import sqlglot
from catalog_rig import (
    REFRESH_DAY,
    REFRESHED,
    TMDB_DAY,
    Target,
    land_raw_zone,
    manifest_records,
    record_items,
    record_lines,
)
from tmdb_fixtures import MOVIES_CSV, SERIES_CSV, csv_ids

from cinelake.lake import layout
from cinelake.lake.catalog import column_names, describe_lake, read_header
from cinelake.lake.catalog_athena import AthenaCatalog, athena_catalog
from cinelake.lake.record_index import answered_item, index_bytes
from cinelake.store import LocalDirStore
from cinelake.testing.tmdb_emulator import EmulatorConfig, TmdbEmulator

CSV_VIEWS = {"csv_movies": "Movies", "csv_series": "Series"}
TMDB_VIEWS = {
    "tmdb_movies": "Movies",
    "tmdb_series": "Series",
    "tmdb_find": "Find",
    "tmdb_errors": "Errors",
}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    scratch = tmp_path_factory.mktemp("catalog-duckdb")
    target = Target.make(str(scratch / "lake"), scratch)
    with TmdbEmulator(EmulatorConfig()) as emulator:
        land_raw_zone(target, scratch, emulator)
    yield target


@pytest.fixture(scope="module")
def store(lake: Target) -> LocalDirStore:
    return LocalDirStore(Path(lake.lake))


@pytest.fixture(scope="module")
def db(lake: Target) -> duckdb.DuckDBPyConnection:
    printed = lake.run("catalog", "--format", "duckdb")
    assert printed.code == 0, printed.err
    connection = duckdb.connect()
    connection.execute(printed.out)
    return connection


def rows(db: duckdb.DuckDBPyConnection, query: str) -> list[tuple[object, ...]]:
    return db.execute(query).fetchall()


# Counts -------------------------------------------------------------------------------------
@pytest.mark.parametrize("view", [*CSV_VIEWS, *TMDB_VIEWS])
def test_every_file_of_a_table_has_the_rows_its_manifest_counted(
    db: duckdb.DuckDBPyConnection, store: LocalDirStore, view: str
) -> None:
    dataset = CSV_VIEWS.get(view) or TMDB_VIEWS[view]
    prefix = f"Raw/{'Local/CSV' if view in CSV_VIEWS else 'TMDB/JSON'}/{dataset}/"
    expected = {k: n for k, n in manifest_records(store).items() if k.startswith(prefix)}

    counted = dict(rows(db, f"SELECT file, count(*) FROM {view} GROUP BY file"))

    assert expected
    assert counted == expected


def test_the_nasty_csvs_are_read_one_row_per_line_with_their_text(
    db: duckdb.DuckDBPyConnection,
) -> None:
    by_date = dict(
        rows(
            db,
            "SELECT dt, list(tituloPincipal) FROM csv_movies WHERE dt < '2025-05-01' GROUP BY dt",
        )
    )

    assert by_date == {
        "2025-04-01": ["Central do Brasil"],  # BOM: not glued to the first column
        "2025-04-02": ["Central do Brasil"],  # CRLF: no \r left in the last column
        "2025-04-03": ["S\u00e3o Paulo"],  # invalid UTF-8: the byte kept, as Latin-1
        "2025-04-04": ["a", "b"],  # mixed line endings
        "2025-04-05": ["Central do Brasil"],  # no final newline
        "2025-04-06": ["x" * 1024 * 1024],  # a 1 MiB line
        "2025-04-07": ['"Ela'],  # a quoted pipe is two fields: quotes are data here
    }


def test_a_null_marker_reads_as_null(db: duckdb.DuckDBPyConnection) -> None:
    nulls = rows(db, "SELECT count(*) FROM csv_movies WHERE personagem IS NULL")
    markers = rows(db, "SELECT count(*) FROM csv_movies WHERE personagem = '\\N'")

    assert nulls[0][0] > 0
    assert markers == [(0,)]


def test_columns_are_named_from_the_newest_header_and_end_with_dt_and_file(
    db: duckdb.DuckDBPyConnection,
) -> None:
    header = MOVIES_CSV.read_text(encoding="utf-8").splitlines()[0].split("|")

    columns = [d[0] for d in db.execute("SELECT * FROM csv_movies LIMIT 0").description]

    assert columns == [*header, "dt", "file"]


# TMDB records --------------------------------------------------------------------------------
@pytest.mark.parametrize("view", list(TMDB_VIEWS))
def test_each_record_is_the_landed_line_byte_for_byte(
    db: duckdb.DuckDBPyConnection, store: LocalDirStore, view: str
) -> None:
    prefix = f"Raw/TMDB/JSON/{TMDB_VIEWS[view]}/"
    keys = [k for k in manifest_records(store) if k.startswith(prefix)]
    landed = Counter((key, line) for key in keys for line in record_lines(store, key))

    read = Counter(
        (file, record.encode("utf-8"))
        for file, record in rows(db, f"SELECT file, record FROM {view}")
    )

    assert read == landed


def test_find_gives_each_record_the_item_it_answered_in_record_order(
    db: duckdb.DuckDBPyConnection, store: LocalDirStore
) -> None:
    keys = sorted(k for k in manifest_records(store) if k.startswith("Raw/TMDB/JSON/Find/"))
    expected = [
        (key, number, answered_item(request), line.decode())
        for key in keys
        for number, (line, request) in enumerate(
            zip(record_lines(store, key), record_items(store, key), strict=True), start=1
        )
    ]

    read = rows(db, "SELECT file, line, item, record FROM tmdb_find ORDER BY file, line")

    assert read == expected
    assert all(item.startswith("tt") for _, _, item, _ in read)


def test_find_joins_the_movies_csv_on_the_imdb_id_in_plain_sql(
    db: duckdb.DuckDBPyConnection,
) -> None:
    """Series are always looked up with /find; movies only when TMDB does not know their
    IMDb id as a movie, so the rest join the movies' own `imdb_id`."""
    series = db.execute(
        "SELECT DISTINCT f.item FROM tmdb_find AS f JOIN csv_series AS s ON f.item = s.id "
        "WHERE s.dt = ?",
        [TMDB_DAY],
    ).fetchall()
    movies = db.execute(
        "SELECT DISTINCT m.id FROM csv_movies AS m WHERE m.dt = ? AND (m.id IN "
        "(SELECT item FROM tmdb_find) OR m.id IN (SELECT imdb_id FROM tmdb_movies))",
        [TMDB_DAY],
    ).fetchall()

    assert {item for (item,) in series} == set(csv_ids(SERIES_CSV))
    assert {item for (item,) in movies} == set(csv_ids(MOVIES_CSV))


def test_fields_users_filter_on_are_extracted_from_the_record(
    db: duckdb.DuckDBPyConnection,
) -> None:
    for view in ("tmdb_movies", "tmdb_series"):
        extracted = rows(db, f"SELECT record, id, imdb_id FROM {view}")
        for record, id_, imdb_id in extracted:
            body = json.loads(record)
            assert id_ == str(body["id"])
            imdb = body.get("imdb_id") or body.get("external_ids", {}).get("imdb_id")
            assert imdb_id == imdb


def test_latest_keeps_the_most_recent_record_of_each_title(db: duckdb.DuckDBPyConnection) -> None:
    latest = rows(db, "SELECT id, dt FROM tmdb_movies_latest")
    every = rows(db, "SELECT count(DISTINCT id), count(*) FROM tmdb_movies")
    fight_club = REFRESHED[0].split(":")[1]

    assert len(latest) == every[0][0] < every[0][1]
    assert dict(latest)[fight_club] == REFRESH_DAY


# The index -------------------------------------------------------------------------------------
def test_indexes_are_control_files_that_verify_accepts(lake: Target, store: LocalDirStore) -> None:
    indexes = [o.key for o in store.list(f"{layout.INDEX}/")]
    verified = lake.run("verify")

    assert indexes
    assert verified.code == 0, verified.out


def land_titles(target: Target, *ids: str) -> None:
    config = EmulatorConfig()
    with TmdbEmulator(config) as emulator:
        landed = target.run(
            "ingest-tmdb",
            "--ids",
            ",".join(ids),
            "--date",
            TMDB_DAY,
            TMDB_BASE_URL=emulator.base_url,
            TMDB_API_KEY=config.api_key,
        )
    assert landed.code == 0, landed.err


def test_catalog_rebuilds_the_indexes_of_files_landed_before_them_with_the_same_bytes(
    tmp_path: Path,
) -> None:
    target = Target.make(str(tmp_path / "lake"), tmp_path)
    land_titles(target, "movie:550", "tt0137523", "tv:1396")
    index = tmp_path / "lake" / layout.INDEX
    before = {p: p.read_bytes() for p in index.rglob("*.json")}
    shutil.rmtree(index)

    printed = target.run("catalog", "--format", "duckdb")

    assert printed.code == 0, printed.err
    assert {p: p.read_bytes() for p in index.rglob("*.json")} == before
    assert f"indexed {len(before)} TMDB file(s)" in printed.err
    assert set(before) == {
        index / p.relative_to(tmp_path / "lake" / "Raw")
        for p in (tmp_path / "lake" / "Raw" / "TMDB" / "JSON").rglob("*.json")
        if "/Errors/" not in str(p)
    }


def test_an_index_that_cannot_be_written_never_blocks_landing(tmp_path: Path) -> None:
    target = Target.make(str(tmp_path / "lake"), tmp_path)
    (tmp_path / "lake" / "Raw").mkdir(parents=True)
    (tmp_path / "lake" / layout.INDEX).write_text("a file where the index folder must be")

    land_titles(target, "movie:550")

    assert list((tmp_path / "lake" / "Raw/TMDB/JSON/Movies").rglob("*.json"))


# cinelake sql --------------------------------------------------------------------------------
def test_sql_prints_csv_when_not_on_a_terminal(lake: Target, store: LocalDirStore) -> None:
    series = sum(n for k, n in manifest_records(store).items() if "/CSV/Series/" in k)

    result = lake.run("sql", "SELECT count(*) AS n, min(dt) AS dt FROM csv_series")

    assert result.code == 0, result.err
    assert list(csv.reader(io.StringIO(result.out))) == [["n", "dt"], [str(series), TMDB_DAY]]


def test_sql_prints_json_rows_on_request(lake: Target, store: LocalDirStore) -> None:
    result = lake.run(
        "sql", "--output", "json", "SELECT item FROM tmdb_find ORDER BY file, line LIMIT 1"
    )

    assert result.code == 0, result.err
    first = min(k for k in manifest_records(store) if k.startswith("Raw/TMDB/JSON/Find/"))
    assert json.loads(result.out) == [{"item": answered_item(record_items(store, first)[0])}]


def test_a_failing_query_is_one_line_and_exit_2(lake: Target) -> None:
    result = lake.run("sql", "SELECT no_such_column FROM csv_movies")

    assert result.code == 2
    assert result.out == ""
    assert len(result.err.strip().splitlines()) == 1
    assert "the query failed" in result.err
    assert "no_such_column" in result.err


def test_a_lake_with_nothing_landed_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    target = Target.make(str(tmp_path / "lake"), tmp_path)

    for command in (["catalog"], ["sql", "SELECT 1"]):
        result = target.run(*command)
        assert result.code == 2
        assert len(result.err.strip().splitlines()) == 1
        assert "nothing has landed" in result.err


# Pure rules -------------------------------------------------------------------------------------
def test_identical_records_in_a_file_are_numbered_by_occurrence() -> None:
    empty = b'{"movie_results":[],"tv_results":[]}'

    lines = index_bytes(
        "Raw/k.json", [empty, b'{"x":1}', empty], ["find:tt1", "find:tt2", "find:tt3"]
    )

    entries = [json.loads(line) for line in lines.splitlines()]
    assert [(e["line"], e["occurrence"], e["item"]) for e in entries] == [
        (1, 1, "tt1"),
        (2, 1, "tt2"),
        (3, 2, "tt3"),
    ]
    assert entries[0]["sha256"] == entries[2]["sha256"] != entries[1]["sha256"]


def test_header_fields_become_unique_non_empty_column_names() -> None:
    assert column_names(["id", "ID", "", "dt", "file", "nota"]) == (
        "id",
        "ID_2",
        "column_3",
        "dt_2",
        "file_2",
        "nota",
    )


# The Athena views, run by DuckDB -----------------------------------------------------------------
def glue_stand_ins(db: duckdb.DuckDBPyConnection, lake: Target, athena: AthenaCatalog) -> None:
    """Tables shaped as Athena reads the Glue tables: the SerDe's columns, `day`, `$path`.

    Built from the same files with DuckDB's readers, so only the views' own SQL is under test.
    """
    root = Path(lake.lake)
    db.execute(f'DROP SCHEMA IF EXISTS "{athena.database}" CASCADE')
    db.execute(f'CREATE SCHEMA "{athena.database}"')
    for table in athena.tables:
        prefix = table.location.removeprefix("s3://bucket/")
        day = "regexp_extract(filename, '([0-9]{4}/[0-9]{2}/[0-9]{2})/[^/]+$', 1)"
        path = "'s3://bucket/' || regexp_extract(filename, 'Raw/.*$')"
        if table.name == "src_tmdb_index":
            source = (
                f"SELECT *, regexp_extract(filename, 'JSON/([A-Za-z]+)/', 1) AS structure, "
                f"{day} AS day FROM read_json('{root}/{prefix}*/*/*/*/*.json', filename = true)"
            )
        elif table.name.startswith("src_tmdb_"):
            source = (
                f"SELECT unnest(string_split(rtrim(content, chr(10)), chr(10))) AS record, "
                f"{day} AS day, {path} AS \"$path\" FROM read_text('{root}/{prefix}*/*/*/*.json')"
            )
        else:
            view = table.name.removeprefix("src_")
            source = (
                f"SELECT * EXCLUDE (dt, file), replace(dt, '-', '/') AS day, "
                f"'s3://bucket/' || file AS \"$path\" FROM {view}"
            )
        db.execute(f'CREATE TABLE "{athena.database}"."{table.name}" AS {source}')


@pytest.mark.parametrize(
    "view", ["csv_series", "tmdb_find", "tmdb_movies", "tmdb_movies_latest", "tmdb_errors"]
)
def test_the_athena_views_translated_to_duckdb_return_what_the_duckdb_views_return(
    lake: Target, store: LocalDirStore, db: duckdb.DuckDBPyConnection, view: str
) -> None:
    athena = athena_catalog(describe_lake(store, build_index=False), "raw", "s3://bucket")
    glue_stand_ins(db, lake, athena)
    for each in athena.views:  # in order: a latest view reads its base view
        translated = sqlglot.transpile(each.sql, read="trino", write="duckdb")[0]
        db.execute(f'CREATE VIEW "raw"."{each.name}" AS {translated}')
    columns = ", ".join(
        f'"{n}"' for n, _ in next(v for v in athena.views if v.name == view).columns
    )

    via_athena = sorted(db.execute(f'SELECT * FROM "raw"."{view}"').fetchall(), key=repr)
    native = sorted(db.execute(f"SELECT {columns} FROM {view}").fetchall(), key=repr)

    assert via_athena == native
    assert native


def test_the_header_is_read_without_its_bom_or_cr(tmp_path: Path) -> None:
    store = LocalDirStore(tmp_path)
    store.put_bytes(
        "Raw/Local/CSV/Movies/2025/05/01/m.csv", b"\xef\xbb\xbfid|t\xc3\xadtulo\r\nx|y\r\n"
    )

    assert read_header(store, "Raw/Local/CSV/Movies/2025/05/01/m.csv") == ["id", "t\u00edtulo"]
