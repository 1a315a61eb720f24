"""Athena DDL parsed by a real SQL parser, and `--apply` against moto's Glue over HTTP.

moto stores Glue's `TableInput` as given and runs no query (see the shared AWS emulation
notes), so the tables are asserted field by field and the SQL is proven by sqlglot here and by
DuckDB in `test_catalog_duckdb.py`, which runs the same joins.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlglot
from catalog_rig import Target, land_raw_zone
from conftest import ACCESS_KEY, REGION, SECRET_KEY, S3Endpoint, new_bucket
from sqlglot import exp
from tmdb_fixtures import MOVIES_CSV

from cinelake.testing.tmdb_emulator import EmulatorConfig, TmdbEmulator

PROJECTION = {
    "projection.enabled": "true",
    "projection.day.type": "date",
    "projection.day.format": "yyyy/MM/dd",
    "projection.day.range": "2020/01/01,NOW",
    "projection.day.interval": "1",
    "projection.day.interval.unit": "DAYS",
}
LAZY_SIMPLE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: S3Endpoint) -> Iterator[Target]:
    scratch = tmp_path_factory.mktemp("catalog-athena")
    target = Target.make(f"s3://{new_bucket(moto_endpoint)}", scratch, **moto_endpoint.env())
    with TmdbEmulator(EmulatorConfig()) as emulator:
        land_raw_zone(target, scratch, emulator)
    yield target


@pytest.fixture(autouse=True)
def glue_on_moto(monkeypatch: pytest.MonkeyPatch, moto_endpoint: S3Endpoint) -> None:
    """boto3 reads a service's endpoint from the environment, as it would for a user."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_GLUE", moto_endpoint.url)


@pytest.fixture
def glue(moto_endpoint: S3Endpoint) -> Any:
    return boto3.client(
        "glue",
        endpoint_url=moto_endpoint.url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


@pytest.fixture
def database() -> str:
    return f"raw_{uuid.uuid4().hex[:10]}"


def bucket_of(target: Target) -> str:
    return target.lake.removeprefix("s3://")


def apply(target: Target, database: str) -> dict[str, Any]:
    result = target.run("catalog", "--apply", "--json", "--database", database)
    assert result.code == 0, result.err
    applied: dict[str, Any] = json.loads(result.out)["applied"]
    return applied


def databases(glue: Any) -> set[str]:
    return {d["Name"] for d in glue.get_databases()["DatabaseList"]}


# The DDL ------------------------------------------------------------------------------------
def statements(target: Target, database: str) -> list[str]:
    printed = target.run("catalog", "--format", "athena", "--database", database)
    assert printed.code == 0, printed.err
    return [s for s in printed.out.split(";\n\n") if s.strip()]


def test_every_table_statement_parses_as_athena_hive_ddl(lake: Target, database: str) -> None:
    tables = [s for s in statements(lake, database) if s.startswith("CREATE EXTERNAL TABLE")]

    parsed = [sqlglot.parse_one(s, read="athena") for s in tables]

    names = {p.find(exp.Table).name for p in parsed}  # type: ignore[union-attr]
    assert names == {
        "src_tmdb_index",
        "src_csv_movies",
        "src_csv_series",
        "src_tmdb_movies",
        "src_tmdb_series",
        "src_tmdb_find",
        "src_tmdb_errors",
    }
    assert all(isinstance(p, exp.Create) and p.kind == "TABLE" for p in parsed)


def test_every_view_statement_parses_as_athena_trino_sql(lake: Target, database: str) -> None:
    views = [s for s in statements(lake, database) if s.startswith("CREATE OR REPLACE VIEW")]

    parsed = [sqlglot.parse_one(s, read="trino") for s in views]

    assert {p.find(exp.Table).name for p in parsed} == {  # type: ignore[union-attr]
        "csv_movies",
        "csv_series",
        "tmdb_movies",
        "tmdb_movies_latest",
        "tmdb_series",
        "tmdb_series_latest",
        "tmdb_find",
        "tmdb_errors",
    }
    assert all(p.kind == "VIEW" for p in parsed)


def test_locations_never_reach_manifests_state_or_sidecars(lake: Target, database: str) -> None:
    ddl = "\n".join(statements(lake, database))

    locations = [line for line in ddl.splitlines() if line.startswith("LOCATION")]

    assert len(locations) == 7
    assert not any(word in ddl for word in ("_manifests", "_state", ".cinelake"))


# --apply --------------------------------------------------------------------------------------
def test_apply_creates_the_csv_table_with_its_location_serde_and_projection(
    lake: Target, glue: Any, database: str
) -> None:
    apply(lake, database)

    table = glue.get_table(DatabaseName=database, Name="src_csv_movies")["Table"]

    location = f"s3://{bucket_of(lake)}/Raw/Local/CSV/Movies/"
    storage = table["StorageDescriptor"]
    header = MOVIES_CSV.read_text(encoding="utf-8").splitlines()[0].lower().split("|")
    assert storage["Location"] == location
    assert storage["Columns"] == [{"Name": name, "Type": "string"} for name in header]
    assert storage["SerdeInfo"]["SerializationLibrary"] == LAZY_SIMPLE
    assert storage["SerdeInfo"]["Parameters"] == {
        "field.delim": "|",
        "serialization.format": "|",
        "serialization.null.format": "\\N",
    }
    assert storage["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert table["PartitionKeys"] == [{"Name": "day", "Type": "string"}]
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert table["Parameters"] == {
        "EXTERNAL": "TRUE",
        "classification": "text",
        "skip.header.line.count": "1",
        **PROJECTION,
        "storage.location.template": location + "${day}/",
    }


def test_apply_creates_one_record_table_per_tmdb_structure(
    lake: Target, glue: Any, database: str
) -> None:
    apply(lake, database)

    for structure in ("Movies", "Series", "Find", "Errors"):
        table = glue.get_table(DatabaseName=database, Name=f"src_tmdb_{structure.lower()}")
        storage = table["Table"]["StorageDescriptor"]
        location = f"s3://{bucket_of(lake)}/Raw/TMDB/JSON/{structure}/"
        assert storage["Location"] == location
        assert storage["Columns"] == [{"Name": "record", "Type": "string"}]
        assert storage["SerdeInfo"]["SerializationLibrary"] == LAZY_SIMPLE
        assert table["Table"]["Parameters"]["storage.location.template"] == location + "${day}/"


def test_apply_creates_the_record_index_table_projected_by_structure_and_day(
    lake: Target, glue: Any, database: str
) -> None:
    apply(lake, database)

    table = glue.get_table(DatabaseName=database, Name="src_tmdb_index")["Table"]

    location = f"s3://{bucket_of(lake)}/Raw/_index/TMDB/JSON/"
    assert table["StorageDescriptor"]["Location"] == location
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == (
        "org.openx.data.jsonserde.JsonSerDe"
    )
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == [
        "data_key",
        "line",
        "sha256",
        "occurrence",
        "request",
        "item",
    ]
    assert table["PartitionKeys"] == [
        {"Name": "structure", "Type": "string"},
        {"Name": "day", "Type": "string"},
    ]
    assert table["Parameters"]["projection.structure.type"] == "enum"
    assert table["Parameters"]["projection.structure.values"] == (
        "Movies,Series,Find,Discover,Changes"
    )
    assert table["Parameters"]["storage.location.template"] == location + "${structure}/${day}/"


def test_apply_stores_views_as_athena_does_with_sql_that_parses(
    lake: Target, glue: Any, database: str
) -> None:
    apply(lake, database)

    view = glue.get_table(DatabaseName=database, Name="tmdb_find")["Table"]

    original = view["ViewOriginalText"]
    assert original.startswith("/* Presto View: ") and original.endswith(" */")
    definition = json.loads(base64.b64decode(original[len("/* Presto View: ") : -3]))
    assert view["TableType"] == "VIRTUAL_VIEW"
    assert view["Parameters"] == {"presto_view": "true", "comment": "Presto View"}
    assert definition["schema"] == database
    assert [c["name"] for c in definition["columns"]] == [
        "record",
        "item",
        "request",
        "line",
        "dt",
        "file",
    ]
    assert sqlglot.parse_one(definition["originalSql"], read="trino").find(exp.Join)


def test_apply_again_changes_nothing(lake: Target, database: str) -> None:
    first = apply(lake, database)

    second = apply(lake, database)

    assert set(first["tables"].values()) == {"created"}
    assert first["database_created"] is True
    assert set(second["tables"].values()) == {"unchanged"}
    assert second["database_created"] is False


def test_apply_updates_a_table_whose_csv_landed_with_a_new_header(
    tmp_path: Path, moto_endpoint: S3Endpoint, glue: Any, database: str
) -> None:
    target = Target.make(f"s3://{new_bucket(moto_endpoint)}", tmp_path, **moto_endpoint.env())
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    old.write_bytes(b"id|titulo\ntt0000001|a\n")
    new.write_bytes(b"id|titulo|nota\ntt0000001|a|9\n")
    assert target.run("ingest-csv", "--movies", str(old), "--date", "2025-05-01").code == 0
    apply(target, database)
    assert target.run("ingest-csv", "--movies", str(new), "--date", "2025-05-02").code == 0

    applied = apply(target, database)

    table = glue.get_table(DatabaseName=database, Name="src_csv_movies")["Table"]
    assert applied["tables"] == {"src_csv_movies": "updated", "csv_movies": "updated"}
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["id", "titulo", "nota"]


# Bad input ------------------------------------------------------------------------------------
def one_line_exit_2(result: Any, words: str) -> None:
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert words in result.err


def test_a_database_name_athena_refuses_is_one_line_and_creates_nothing(
    lake: Target, glue: Any
) -> None:
    before = databases(glue)

    result = lake.run("catalog", "--apply", "--database", "Raw-Zone")

    one_line_exit_2(result, "--database 'Raw-Zone'")
    assert databases(glue) == before


def test_an_unknown_format_is_one_line(lake: Target) -> None:
    one_line_exit_2(lake.run("catalog", "--format", "parquet"), "invalid choice: 'parquet'")


def test_apply_on_a_lake_with_nothing_landed_creates_nothing(
    tmp_path: Path, moto_endpoint: S3Endpoint, glue: Any, database: str
) -> None:
    target = Target.make(f"s3://{new_bucket(moto_endpoint)}", tmp_path, **moto_endpoint.env())

    result = target.run("catalog", "--apply", "--database", database)

    one_line_exit_2(result, "nothing has landed")
    assert database not in databases(glue)


def test_apply_with_duckdb_format_is_refused(lake: Target, glue: Any, database: str) -> None:
    result = lake.run("catalog", "--apply", "--format", "duckdb", "--database", database)

    one_line_exit_2(result, "--apply creates Glue tables")
    assert database not in databases(glue)


def test_duckdb_sql_for_s3_reads_credentials_from_the_chain_and_prints_none(
    lake: Target,
) -> None:
    printed = lake.run("catalog", "--format", "duckdb")

    assert printed.code == 0, printed.err
    assert "LOAD httpfs" in printed.out
    assert "PROVIDER credential_chain" in printed.out
    assert f"s3://{bucket_of(lake)}/Raw/TMDB/JSON/Find/*/*/*/*.json" in printed.out
    assert SECRET_KEY not in printed.out and ACCESS_KEY not in printed.out


def test_every_tmdb_record_file_landed_on_s3_has_its_index(
    lake: Target, moto_endpoint: S3Endpoint
) -> None:
    client: Any = moto_endpoint.client()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket_of(lake))
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]

    records = {k for k in keys if k.startswith("Raw/TMDB/JSON/") and "/Errors/" not in k}
    indexes = {k for k in keys if k.startswith("Raw/_index/")}

    assert records
    assert indexes == {"Raw/_index/" + k.removeprefix("Raw/") for k in records}
