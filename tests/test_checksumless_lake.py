"""A lake on a store that returns no additional checksums and ignores If-None-Match (s3rver).

Such a store can still prove a single-part object: its ETag is the MD5 of the bytes, which
cinelake records while uploading. `verify` must pass an intact lake and still find a change,
each limitation is warned about once per run, and a re-run recognises an unchanged multipart
file from its manifest without reading the object back (counted at the server).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import S3Endpoint
from test_status import (  # noqa: F401 - fixtures are found by name
    DAY,
    MOVIES_CSV,
    SERIES_CSV,
    Lake,
    Run,
    _env,
    moto_lake,
    s3_lake,
    tmdb_fixture,
)

from cinelake.lake import layout
from cinelake.testing.tmdb_emulator import TmdbEmulator

MIB = 1024 * 1024
MOVIES_KEY = layout.csv_key("Movies", DAY, MOVIES_CSV.name)
SERIES_KEY = layout.csv_key("Series", DAY, SERIES_CSV.name)


@pytest.fixture
def lake(s3rver_endpoint: S3Endpoint, tmdb: TmdbEmulator, clean_env: Path) -> Lake:
    return s3_lake(s3rver_endpoint, tmdb)


@pytest.fixture
def multipart_lake(s3rver_endpoint: S3Endpoint, tmdb: TmdbEmulator, clean_env: Path) -> Lake:
    """Parts of 5 MiB, so a 6 MiB CSV goes up in two."""
    return s3_lake(s3rver_endpoint, tmdb, CINELAKE_PART_SIZE_MIB="5")


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "movies.csv"
    rows = (f"tt{n:07d}|Filme {n}|{1950 + n % 75}\n" for n in range(300_000))
    path.write_text("id|titulo|ano\n" + "".join(rows))
    assert 5 * MIB < path.stat().st_size < 10 * MIB
    return path


def land_big(lake: Lake, path: Path) -> Run:
    """Its manifest is in `.json()`: two runs in one second are not ordered by their ids."""
    return lake.cli("ingest-csv", "--movies", str(path), "--date", DAY.isoformat(), "--json")


def rewrite(lake: Lake, key: str, data: bytes) -> None:
    """Other bytes of the same size, put straight into the bucket behind cinelake's back."""
    original = lake.store.get_bytes(key)
    assert len(data) == len(original) and data != original
    lake.store.client.put_object(Bucket=lake.bucket, Key=key, Body=data)  # type: ignore[attr-defined]


def same_size_edit(data: bytes) -> bytes:
    return data.replace(b"|", b";", 1)


# verify -------------------------------------------------------------------------------------
def test_an_intact_lake_passes_verify_by_size_and_md5(lake: Lake) -> None:
    lake.land_csv()
    lake.land_tmdb()

    quick = lake.cli("verify")
    deep = lake.cli("verify", "--deep")

    assert quick.code == 0, quick.out
    assert quick.out.startswith("cinelake: verify: intact: 8 objects"), quick.out
    assert "checked by size and MD5," in quick.out
    assert deep.code == 0, deep.out


def test_the_manifest_records_the_md5_and_etag_of_each_object(lake: Lake) -> None:
    lake.land_csv()

    (manifest,) = lake.manifests()

    for obj in manifest["objects"]:
        data = lake.store.get_bytes(obj["key"])
        assert obj["verified_by"] == "size-and-md5"
        assert obj["md5"] == obj["etag"] == hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_a_same_size_edit_of_a_single_part_object_is_found_by_md5_and_by_deep(
    lake: Lake,
) -> None:
    lake.land_csv()
    rewrite(lake, MOVIES_KEY, same_size_edit(MOVIES_CSV.read_bytes()))

    quick = lake.cli("verify")
    deep = lake.cli("verify", "--deep")

    assert quick.code == 1
    assert quick.out.startswith(f"altered             {MOVIES_KEY}: ETag "), quick.out
    assert "is not the MD5 the manifest recorded" in quick.out
    assert deep.code == 1
    assert f"altered             {MOVIES_KEY}: " in deep.out


def test_a_deleted_object_is_reported_missing(lake: Lake) -> None:
    lake.land_csv()
    lake.store.client.delete_object(Bucket=lake.bucket, Key=SERIES_KEY)  # type: ignore[attr-defined]

    result = lake.cli("verify")

    assert result.code == 1
    assert result.out.startswith(f"missing             {SERIES_KEY}: named by its manifest")


def test_a_multipart_object_is_checked_by_size_only_and_deep_finds_an_edit(
    multipart_lake: Lake, big_csv: Path
) -> None:
    lake = multipart_lake
    assert land_big(lake, big_csv).code == 0
    (manifest,) = lake.manifests()
    assert manifest["objects"][0]["verified_by"] == "size-only"
    intact = lake.cli("verify")
    rewrite(lake, MOVIES_KEY, same_size_edit(big_csv.read_bytes()))

    quick = lake.cli("verify")
    deep = lake.cli("verify", "--deep")

    assert intact.code == 0, intact.out
    assert "checked by size only: run --deep to re-hash," in intact.out
    assert quick.code == 0  # the size is all the store can prove without reading
    assert deep.code == 1
    assert deep.out.startswith(f"altered             {MOVIES_KEY}: SHA-256 of the bytes ")


# warnings -----------------------------------------------------------------------------------
def warnings_of(err: str) -> list[str]:
    return [line for line in err.splitlines() if "WARNING" in line or "warning" in line]


def test_ingest_csv_warns_once_per_limitation_and_counts_at_the_end(lake: Lake) -> None:
    run = lake.cli(
        "ingest-csv",
        "--movies",
        str(MOVIES_CSV),
        "--series",
        str(SERIES_CSV),
        "--date",
        DAY.isoformat(),
    )

    assert run.code == 0, run.err
    lines = [line for line in run.err.splitlines() if lake.url in line]
    assert len(lines) == 3, run.err
    assert "ignores If-None-Match" in lines[0]
    assert "returns no additional checksums (x-amz-checksum-*)" in lines[1]
    # the two CSVs and the manifest
    assert "3 objects verified by size and MD5 only" in lines[2]


def test_a_tmdb_run_of_many_files_warns_once_per_limitation(lake: Lake) -> None:
    lake.land_csv()

    run = lake.cli(
        "ingest-tmdb",
        "--from-csv",
        "--date",
        DAY.isoformat(),
        "--batch-size",
        "5",
        "--rate",
        "5000",
    )

    assert run.code == 0, run.err
    assert len(lake.data_keys()) > 10
    assert sum("ignores If-None-Match" in line for line in run.err.splitlines()) == 1
    assert sum("returns no additional checksums" in line for line in run.err.splitlines()) == 1
    counted = [line for line in run.err.splitlines() if "verified by size and MD5 only" in line]
    assert len(counted) == 1, run.err


# re-runs ------------------------------------------------------------------------------------
def test_an_unchanged_multipart_file_is_recognised_without_a_get(
    multipart_lake: Lake, big_csv: Path, s3rver_endpoint: S3Endpoint
) -> None:
    lake = multipart_lake
    assert land_big(lake, big_csv).code == 0
    gets = s3rver_endpoint.requests("GET", lake.bucket or "", MOVIES_KEY)

    again = land_big(lake, big_csv)

    assert s3rver_endpoint.requests("GET", lake.bucket or "", MOVIES_KEY) == gets
    assert [o["state"] for o in again.json()["objects"]] == ["unchanged"]


def test_a_changed_multipart_file_of_the_same_size_is_a_conflict(
    multipart_lake: Lake, big_csv: Path, tmp_path: Path
) -> None:
    lake = multipart_lake
    assert land_big(lake, big_csv).code == 0
    changed = tmp_path / "changed" / big_csv.name
    changed.parent.mkdir()
    changed.write_bytes(same_size_edit(big_csv.read_bytes()))

    run = land_big(lake, changed)

    assert run.code == 1
    assert [o["state"] for o in run.json()["objects"]] == ["conflict"]


# stores with checksums ------------------------------------------------------------------------
def test_no_md5_is_recorded_where_the_store_returns_checksums(
    moto_endpoint: S3Endpoint, tmdb: TmdbEmulator, clean_env: Path
) -> None:
    lake = moto_lake(moto_endpoint, tmdb)
    lake.land_csv()

    (manifest,) = lake.manifests()

    assert {o["verified_by"] for o in manifest["objects"]} == {"server-checksum"}
    assert {o["md5"] for o in manifest["objects"]} == {None}
    assert all(o["etag"] for o in manifest["objects"])
