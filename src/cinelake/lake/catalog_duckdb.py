"""The catalog as DuckDB SQL: views over a local lake folder or over S3 (`httpfs`).

TMDB files are read with `read_text` and split on newlines, so `record` is each landed line,
byte for byte, whatever it holds. CSVs are read with the raw zone's dialect and no quoting at
all: one row per line, as `ingest-csv` counted them (a `"` is data, as Athena's
LazySimpleSerDe sees it). DuckDB refuses invalid UTF-8, so a file whose manifest counted such
lines is read as Latin-1 (one character per byte: nothing dropped, nothing refused; its valid
multi-byte characters show as two).
"""

from __future__ import annotations

from collections.abc import Sequence

from cinelake.lake.catalog import INDEX_TABLE, CsvTable, LakeCatalog, TmdbTable
from cinelake.lake.layout import INDEX, RAW

MAX_LINE_BYTES = 64 * 1024 * 1024
INDEX_TYPES = {
    "data_key": "VARCHAR",
    "line": "BIGINT",
    "sha256": "VARCHAR",
    "occurrence": "BIGINT",
    "request": "VARCHAR",
    "item": "VARCHAR",
}
_FILE_COLUMN = "cinelake_source_path"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def dt_of(path: str) -> str:
    """`YYYY-MM-DD` from the `YYYY/MM/DD/<file>` end of a path."""
    return (
        f"regexp_replace(regexp_extract({path}, '([0-9]{{4}}/[0-9]{{2}}/[0-9]{{2}})/[^/]+$', 1), "
        "'/', '-', 'g')"
    )


def key_of(path: str) -> str:
    """The lake key (`Raw/...`) of a path, whatever the lake's root."""
    return f"regexp_extract({path}, '{RAW}/(Local/CSV|TMDB/JSON)/.*$')"


def duckdb_sql(catalog: LakeCatalog, root: str, preamble: Sequence[str] = ()) -> str:
    """Statements that create one view per table; `root` is a folder or `s3://bucket[/prefix]`."""
    root = root.rstrip("/")
    statements = list(preamble)
    if catalog.needs_index:
        statements.append(_index_view(root, catalog.has_index))
    statements += [_csv_view(table, root) for table in catalog.csv]
    for table in catalog.tmdb:
        statements.append(_tmdb_view(table, root))
        if table.has_latest:
            statements.append(_latest_view(table))
    return "".join(f"{statement};\n" for statement in statements)


def s3_preamble(
    region: str | None, endpoint_url: str | None, *, keys: str | None = None
) -> list[str]:
    """Load httpfs and say how to reach the bucket; `keys` is a secret's KEY_ID/SECRET part.

    Without `keys` the secret reads the AWS credential chain (the `aws` extension), so printed
    SQL never carries a credential.
    """
    options = ["TYPE s3", keys or "PROVIDER credential_chain"]
    if region:
        options.append(f"REGION {literal(region)}")
    if endpoint_url:
        scheme, _, host = endpoint_url.partition("://")
        options += [
            f"ENDPOINT {literal(host.rstrip('/'))}",
            "URL_STYLE 'path'",
            f"USE_SSL {'true' if scheme == 'https' else 'false'}",
        ]
    loads = ["INSTALL httpfs", "LOAD httpfs"]
    if keys is None:
        loads += ["INSTALL aws", "LOAD aws"]
    return [*loads, f"CREATE OR REPLACE SECRET cinelake_lake ({', '.join(options)})"]


def _csv_view(table: CsvTable, root: str) -> str:
    columns = ", ".join(f"{literal(c)}: 'VARCHAR'" for c in table.columns)
    selected = ", ".join(ident(c) for c in table.columns)
    parts = []
    for encoding, valid in (("utf-8", True), ("latin-1", False)):
        paths = [f"{root}/{f.key}" for f in table.files if f.valid_utf8 is valid]
        if not paths:
            continue
        source = ident(_FILE_COLUMN)
        parts.append(
            f"SELECT {selected}, {dt_of(source)} AS dt, {key_of(source)} AS file\n"
            f"FROM read_csv([{', '.join(literal(p) for p in paths)}], delim = '|', "
            "header = true, quote = '', escape = '', nullstr = '\\N', "
            f"columns = {{{columns}}}, null_padding = true, strict_mode = false, "
            "auto_detect = false, "
            f"max_line_size = {MAX_LINE_BYTES}, encoding = {literal(encoding)}, "
            f"filename = {literal(_FILE_COLUMN)})"
        )
    return f"CREATE OR REPLACE VIEW {ident(table.name)} AS\n" + "\nUNION ALL\n".join(parts)


def _tmdb_view(table: TmdbTable, root: str) -> str:
    pattern = literal(f"{root}/{table.prefix}*/*/*/*.json")
    fields = "".join(
        f", json_extract_string(r.record, {literal(f.path)}) AS {ident(f.name)}"
        for f in table.fields
    )
    records = (
        "WITH lines AS (\n"
        f"  SELECT filename, string_split(rtrim(content, chr(10)), chr(10)) AS texts "
        f"FROM read_text({pattern})\n"
        "), records AS (\n"
        f"  SELECT unnest(texts) AS record, {key_of('filename')} AS file FROM lines\n"
        ")"
    )
    if not table.joins_index:
        return (
            f"CREATE OR REPLACE VIEW {ident(table.name)} AS\n{records}\n"
            f"SELECT r.record{fields}, {dt_of('r.file')} AS dt, r.file FROM records AS r"
        )
    return (
        f"CREATE OR REPLACE VIEW {ident(table.name)} AS\n{records}, hashed AS (\n"
        "  SELECT record, file, sha256(record) AS sha256, "
        "row_number() OVER (PARTITION BY file, sha256(record)) AS occurrence FROM records\n"
        ")\n"
        f"SELECT r.record{fields}, i.item, i.request, i.line, {dt_of('r.file')} AS dt, r.file\n"
        f"FROM hashed AS r LEFT JOIN {ident(INDEX_TABLE)} AS i\n"
        "  ON i.data_key = r.file AND i.sha256 = r.sha256 AND i.occurrence = r.occurrence"
    )


def _latest_view(table: TmdbTable) -> str:
    return (
        f"CREATE OR REPLACE VIEW {ident(table.name + '_latest')} AS\n"
        f"SELECT * EXCLUDE (newest) FROM (\n"
        "  SELECT *, row_number() OVER (PARTITION BY id ORDER BY dt DESC, file DESC) AS newest\n"
        f"  FROM {ident(table.name)} WHERE id IS NOT NULL\n"
        ") WHERE newest = 1"
    )


def _index_view(root: str, exists: bool) -> str:
    if not exists:
        empty = ", ".join(f"CAST(NULL AS {t}) AS {ident(n)}" for n, t in INDEX_TYPES.items())
        return f"CREATE OR REPLACE VIEW {ident(INDEX_TABLE)} AS SELECT {empty} WHERE false"
    columns = ", ".join(f"{literal(n)}: {literal(t)}" for n, t in INDEX_TYPES.items())
    pattern = literal(f"{root}/{INDEX}/TMDB/JSON/*/*/*/*/*.json")
    return (
        f"CREATE OR REPLACE VIEW {ident(INDEX_TABLE)} AS\n"
        f"SELECT * FROM read_json({pattern}, format = 'newline_delimited', "
        f"columns = {{{columns}}})"
    )
