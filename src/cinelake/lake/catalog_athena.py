"""The catalog for Athena and the Glue Data Catalog: external tables, then views over them.

Each dataset is a table over its folder (`src_csv_movies`, `src_tmdb_find`, ...) whose
partition `day` is projected over the `YYYY/MM/DD` folders of the keys, so no crawler and no
`MSCK REPAIR` is ever needed and a new day is queryable the moment it lands. Projection is
Athena's alone: a Glue Spark job sees no partitions of these tables (read the folders instead,
see the README). Views (`csv_movies`, `tmdb_find`, ...) add `dt` (`YYYY-MM-DD`) and `file` (the
lake key), extract the fields users filter on, and join the record index where a body does not
say what it answered.

The same objects render as DDL (`ddl`) and as Glue `TableInput`s (`table_input`,
`view_input`), so what is printed is what `--apply` creates.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cinelake.lake.catalog import (
    DT_FORMAT,
    INDEX_COLUMNS,
    INDEX_TABLE,
    PROJECTION_START,
    CsvTable,
    LakeCatalog,
    TmdbTable,
)
from cinelake.lake.layout import INDEX, RAW
from cinelake.lake.record_index import INDEXED_STRUCTURES

LAZY_SIMPLE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
PARTITION = "day"
HIVE_TYPES = {"varchar": "string", "bigint": "bigint"}
INDEX_HIVE_TYPES = {"line": "bigint", "occurrence": "bigint"}


@dataclass(frozen=True)
class ExternalTable:
    name: str
    columns: tuple[tuple[str, str], ...]
    """(name, Hive type)."""
    partitions: tuple[str, ...]
    location: str
    serde: str
    serde_parameters: dict[str, str]
    parameters: dict[str, str]


@dataclass(frozen=True)
class View:
    name: str
    sql: str
    columns: tuple[tuple[str, str], ...]
    """(name, Trino type)."""


@dataclass(frozen=True)
class AthenaCatalog:
    database: str
    tables: tuple[ExternalTable, ...]
    views: tuple[View, ...]


def athena_catalog(catalog: LakeCatalog, database: str, root: str) -> AthenaCatalog:
    """`root` is the lake as `s3://bucket[/prefix]`."""
    root = root.rstrip("/")
    tables: list[ExternalTable] = []
    views: list[View] = []
    if catalog.needs_index:
        tables.append(_index_table(root))
    for csv in catalog.csv:
        tables.append(_csv_table(csv, root))
        views.append(_csv_view(csv, database))
    for tmdb in catalog.tmdb:
        tables.append(_record_table(tmdb, root))
        views.append(_tmdb_view(tmdb, database))
        if tmdb.has_latest:
            views.append(_latest_view(tmdb, database))
    return AthenaCatalog(database, tuple(tables), tuple(views))


def hive_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def trino_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# DDL --------------------------------------------------------------------------------------
def ddl(athena: AthenaCatalog) -> str:
    db = athena.database
    statements = [f"CREATE DATABASE IF NOT EXISTS `{db}`"]
    statements += [_table_ddl(db, table) for table in athena.tables]
    statements += [f'CREATE OR REPLACE VIEW "{db}"."{v.name}" AS\n{v.sql}' for v in athena.views]
    return "".join(f"{statement};\n\n" for statement in statements)


def _table_ddl(database: str, table: ExternalTable) -> str:
    columns = ",\n".join(f"  {hive_name(name)} {kind}" for name, kind in table.columns)
    partitions = ", ".join(f"`{name}` string" for name in table.partitions)
    serde_properties = (
        f"WITH SERDEPROPERTIES (\n{_properties(table.serde_parameters)}\n)\n"
        if table.serde_parameters
        else ""
    )
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`{table.name}` (\n{columns}\n)\n"
        f"PARTITIONED BY ({partitions})\n"
        f"ROW FORMAT SERDE '{table.serde}'\n"
        f"{serde_properties}"
        f"STORED AS INPUTFORMAT '{TEXT_INPUT}' OUTPUTFORMAT '{TEXT_OUTPUT}'\n"
        f"LOCATION '{table.location}'\n"
        f"TBLPROPERTIES (\n{_properties(table.parameters)}\n)"
    )


def _properties(values: dict[str, str]) -> str:
    return ",\n".join(f"  '{k}' = '{_hive_string(v)}'" for k, v in values.items())


def _hive_string(value: str) -> str:
    """Hive unescapes DDL string literals, so the null marker `\\N` is written `\\\\N`."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


# Glue -------------------------------------------------------------------------------------
def table_input(table: ExternalTable) -> dict[str, Any]:
    return {
        "Name": table.name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"EXTERNAL": "TRUE", "classification": "text", **table.parameters},
        "PartitionKeys": [{"Name": name, "Type": "string"} for name in table.partitions],
        "StorageDescriptor": {
            "Columns": [{"Name": name, "Type": kind} for name, kind in table.columns],
            "Location": table.location,
            "InputFormat": TEXT_INPUT,
            "OutputFormat": TEXT_OUTPUT,
            "SerdeInfo": {
                "SerializationLibrary": table.serde,
                "Parameters": table.serde_parameters,
            },
        },
    }


def view_input(database: str, view: View) -> dict[str, Any]:
    """A view as Athena itself stores one in Glue: a Presto view definition, base64 JSON."""
    definition = {
        "originalSql": view.sql,
        "catalog": "awsdatacatalog",
        "schema": database,
        "columns": [{"name": name, "type": kind} for name, kind in view.columns],
    }
    encoded = base64.b64encode(json.dumps(definition).encode()).decode("ascii")
    return {
        "Name": view.name,
        "TableType": "VIRTUAL_VIEW",
        "Parameters": {"presto_view": "true", "comment": "Presto View"},
        "ViewOriginalText": f"/* Presto View: {encoded} */",
        "ViewExpandedText": "/* Presto View */",
        "PartitionKeys": [],
        "StorageDescriptor": {
            "Columns": [{"Name": name, "Type": HIVE_TYPES[kind]} for name, kind in view.columns],
            "SerdeInfo": {},
        },
    }


# Tables -----------------------------------------------------------------------------------
def _projection(column: str, template: str) -> dict[str, str]:
    return {
        "projection.enabled": "true",
        f"projection.{column}.type": "date",
        f"projection.{column}.format": DT_FORMAT,
        f"projection.{column}.range": f"{PROJECTION_START},NOW",
        f"projection.{column}.interval": "1",
        f"projection.{column}.interval.unit": "DAYS",
        "storage.location.template": template,
    }


def _csv_table(csv: CsvTable, root: str) -> ExternalTable:
    location = f"{root}/{csv.prefix}"
    return ExternalTable(
        name=f"src_{csv.name}",
        columns=tuple((name.lower(), "string") for name in csv.columns),
        partitions=(PARTITION,),
        location=location,
        serde=LAZY_SIMPLE,
        serde_parameters={
            "field.delim": "|",
            "serialization.format": "|",
            "serialization.null.format": "\\N",
        },
        parameters={
            "skip.header.line.count": "1",
            **_projection(PARTITION, f"{location}${{{PARTITION}}}/"),
        },
    )


def _record_table(tmdb: TmdbTable, root: str) -> ExternalTable:
    """One string column per line: `\\x01` (the field delimiter) never occurs in JSON text."""
    location = f"{root}/{tmdb.prefix}"
    return ExternalTable(
        name=f"src_{tmdb.name}",
        columns=(("record", "string"),),
        partitions=(PARTITION,),
        location=location,
        serde=LAZY_SIMPLE,
        serde_parameters={"serialization.format": "1"},
        parameters=_projection(PARTITION, f"{location}${{{PARTITION}}}/"),
    )


def _index_table(root: str) -> ExternalTable:
    location = f"{root}/{INDEX}/TMDB/JSON/"
    return ExternalTable(
        name=f"src_{INDEX_TABLE}",
        columns=tuple((name, INDEX_HIVE_TYPES.get(name, "string")) for name in INDEX_COLUMNS),
        partitions=("structure", PARTITION),
        location=location,
        serde=JSON_SERDE,
        serde_parameters={},
        parameters={
            "classification": "json",
            "projection.structure.type": "enum",
            "projection.structure.values": ",".join(INDEXED_STRUCTURES),
            **_projection(PARTITION, f"{location}${{structure}}/${{{PARTITION}}}/"),
        },
    )


# Views ------------------------------------------------------------------------------------
_DT = f"replace(\"{PARTITION}\", '/', '-')"
_FILE = f"regexp_extract(\"$path\", '{RAW}/(Local/CSV|TMDB/JSON)/.*$')"


def _csv_view(csv: CsvTable, database: str) -> View:
    names = [name.lower() for name in csv.columns]
    selected = ", ".join(trino_name(name) for name in names)
    return View(
        name=csv.name,
        sql=(
            f'SELECT {selected}, {_DT} AS dt, {_FILE} AS file\nFROM "{database}"."src_{csv.name}"'
        ),
        columns=tuple((name, "varchar") for name in [*names, "dt", "file"]),
    )


def _tmdb_view(tmdb: TmdbTable, database: str) -> View:
    fields = "".join(
        f", json_extract_scalar(r.record, '{f.path}') AS \"{f.name}\"" for f in tmdb.fields
    )
    field_columns = [(f.name, "varchar") for f in tmdb.fields]
    source = f'"{database}"."src_{tmdb.name}"'
    if not tmdb.joins_index:
        return View(
            name=tmdb.name,
            sql=(
                f"SELECT r.record{fields}, replace(r.\"{PARTITION}\", '/', '-') AS dt, r.file\n"
                f'FROM (SELECT record, "{PARTITION}", {_FILE} AS file FROM {source}) AS r'
            ),
            columns=(("record", "varchar"), *field_columns, ("dt", "varchar"), ("file", "varchar")),
        )
    sql = (
        "WITH hashed AS (\n"
        f'  SELECT record, "{PARTITION}", {_FILE} AS file, '
        "lower(to_hex(sha256(to_utf8(record)))) AS sha256\n"
        f"  FROM {source}\n"
        "), numbered AS (\n"
        "  SELECT hashed.*, row_number() OVER (PARTITION BY file, sha256) AS occurrence "
        "FROM hashed\n"
        ")\n"
        f"SELECT r.record{fields}, i.item, i.request, i.line, "
        f"replace(r.\"{PARTITION}\", '/', '-') AS dt, r.file\n"
        f'FROM numbered AS r LEFT JOIN "{database}"."src_{INDEX_TABLE}" AS i\n'
        f'  ON i.structure = \'{tmdb.structure}\' AND i."{PARTITION}" = r."{PARTITION}" '
        "AND i.data_key = r.file AND i.sha256 = r.sha256 AND i.occurrence = r.occurrence"
    )
    return View(
        name=tmdb.name,
        sql=sql,
        columns=(
            ("record", "varchar"),
            *field_columns,
            ("item", "varchar"),
            ("request", "varchar"),
            ("line", "bigint"),
            ("dt", "varchar"),
            ("file", "varchar"),
        ),
    )


def _latest_view(tmdb: TmdbTable, database: str) -> View:
    base = _tmdb_view(tmdb, database)
    names = ", ".join(trino_name(name) for name, _ in base.columns)
    return View(
        name=f"{tmdb.name}_latest",
        sql=(
            f"SELECT {names} FROM (\n"
            "  SELECT v.*, row_number() OVER (PARTITION BY v.id ORDER BY v.dt DESC, v.file DESC) "
            "AS newest\n"
            f'  FROM "{database}"."{tmdb.name}" AS v WHERE v.id IS NOT NULL\n'
            ") WHERE newest = 1"
        ),
        columns=base.columns,
    )
