"""Read a local raw zone with Spark as the README says, and check it against the manifests.

Not part of `make test` (pyspark and a JVM are heavy): run it in a virtualenv of its own.

    python3 -m venv /tmp/spark-venv && /tmp/spark-venv/bin/pip install pyspark
    /tmp/spark-venv/bin/python scripts/spark_read_raw.py --lake ./lake

It shows that the naive `spark.read.csv(folder)` fails on the `YYYY/MM/DD` folders, then reads
every CSV dataset with the documented options and every TMDB folder with `spark.read.json`,
and compares each file's row count with the `records` its manifest gives. It also joins the
Find records to the record index (SHA-256 and occurrence) and checks every record got its item.
Exit 1 on any difference or any `_corrupt_record` row.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

CSV_OPTIONS = {
    "sep": "|",
    "header": "true",
    "nullValue": "\\N",
    "quote": "",  # quotes are data in the raw zone: one row per line
    "recursiveFileLookup": "true",
}
DATE = r"([0-9]{4}/[0-9]{2}/[0-9]{2})/[^/]+$"
KEY = r"Raw/(Local/CSV|TMDB/JSON|_index/TMDB/JSON)/.*$"


def with_date_and_key(frame: DataFrame) -> DataFrame:
    path = F.col("_metadata.file_path")
    return frame.withColumn(
        "dt", F.regexp_replace(F.regexp_extract(path, DATE, 1), "/", "-")
    ).withColumn("file", F.regexp_extract(path, KEY, 0))


def manifest_records(lake: Path) -> dict[str, int]:
    records: dict[str, int] = {}
    for path in sorted((lake / "Raw" / "_manifests").rglob("*.json")):
        for obj in json.loads(path.read_text())["objects"]:
            if obj["state"] in {"written", "unchanged"}:
                records[obj["key"]] = obj["records"]
    return records


def per_file(frame: DataFrame) -> dict[str, int]:
    return {row["file"]: row["count"] for row in frame.groupBy("file").count().collect()}


def header_of(path: Path) -> list[str]:
    first = path.open("rb").readline().removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n")
    return first.decode("utf-8", errors="replace").split("|")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, default=Path("lake"))
    lake = parser.parse_args().lake.resolve()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("cinelake-raw")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    expected = manifest_records(lake)
    problems = 0

    try:
        spark.read.csv(str(lake / "Raw/Local/CSV/Movies"))
        print("naive spark.read.csv(folder): read (unexpected)")
    except Exception as exc:
        print(f"naive spark.read.csv(folder) fails as documented: {str(exc).splitlines()[0]}")

    for folder in sorted((lake / "Raw/Local/CSV").iterdir()):
        newest = sorted(folder.rglob("*.csv"))[-1]
        schema = StructType(
            [StructField(name, StringType()) for name in header_of(newest)]
            + [StructField("_corrupt_record", StringType())]
        )
        frame = with_date_and_key(
            spark.read.options(**CSV_OPTIONS).schema(schema).csv(str(folder))
        ).cache()
        counts = per_file(frame)
        wanted = {
            k: n for k, n in expected.items() if k.startswith(f"Raw/Local/CSV/{folder.name}/")
        }
        malformed = frame.filter(F.col("_corrupt_record").isNotNull()).count()
        same = counts == wanted
        problems += not same
        print(
            f"CSV  {folder.name:<8} rows {sum(counts.values()):>6}  manifests "
            f"{sum(wanted.values()):>6}  files {len(counts)}  per-file equal: {same}  "
            f"rows with a field count unlike the header: {malformed}"
        )

    for folder in sorted((lake / "Raw/TMDB/JSON").iterdir()):
        frame = with_date_and_key(
            spark.read.option("recursiveFileLookup", "true").json(str(folder))
        ).cache()
        corrupt = (
            frame.filter(F.col("_corrupt_record").isNotNull()).count()
            if "_corrupt_record" in frame.columns
            else 0
        )
        counts = per_file(frame)
        wanted = {
            k: n for k, n in expected.items() if k.startswith(f"Raw/TMDB/JSON/{folder.name}/")
        }
        same = counts == wanted
        problems += (not same) + corrupt
        print(
            f"JSON {folder.name:<8} rows {sum(counts.values()):>6}  manifests "
            f"{sum(wanted.values()):>6}  files {len(counts)}  per-file equal: {same}  "
            f"_corrupt_record rows: {corrupt}"
        )

    find = lake / "Raw/TMDB/JSON/Find"
    if find.is_dir():
        records = with_date_and_key(
            spark.read.option("recursiveFileLookup", "true").text(str(find))
        ).withColumn("sha256", F.sha2("value", 256))
        records = records.withColumn(
            "occurrence",
            F.row_number().over(Window.partitionBy("file", "sha256").orderBy("sha256")),
        )
        index = spark.read.option("recursiveFileLookup", "true").json(
            str(lake / "Raw/_index/TMDB/JSON/Find")
        )
        joined = records.join(
            index,
            (records.file == index.data_key)
            & (records.sha256 == index.sha256)
            & (records.occurrence == index.occurrence),
            "left",
        )
        total = joined.count()
        without = joined.filter(F.col("item").isNull()).count()
        problems += without
        print(f"Find joined to its index: {total} records, {without} without an item")

    spark.stop()
    print("OK: every count equals its manifest" if not problems else f"FAILED: {problems}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
