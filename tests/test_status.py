"""`cinelake status`: the lake's contents per source and date, from manifests and nothing else.

The helpers at the top (a lake on disk or on moto, a TMDB emulator, the CLI run in-process)
are shared with `test_verify.py`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from conftest import ACCESS_KEY, REGION, SECRET_KEY, S3Endpoint, new_bucket

from cinelake.lake import layout
from cinelake.lake.status import lake_status
from cinelake.settings import Settings
from cinelake.store import LocalDirStore, ObjectInfo, Store, open_store
from cinelake.testing.tmdb_emulator import EmulatorConfig, TmdbEmulator

REPO = Path(__file__).resolve().parents[1]
MOVIES_CSV = REPO / "data" / "sample" / "movies.csv"
SERIES_CSV = REPO / "data" / "sample" / "series.csv"
DAY = date(2025, 6, 1)
OTHER_DAY = date(2025, 6, 2)


# Shared rig ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Lake:
    kind: str
    url: str
    env: dict[str, str]
    store: Store
    root: Path | None = None
    bucket: str | None = None

    def cli(self, *argv: str) -> Run:
        """`cinelake ARGV --lake URL` in this process, with its own output and environment."""
        from cinelake.cli import main

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([*argv, "--lake", self.url], environ=self.env)
        return Run(code, out.getvalue(), err.getvalue())

    def land_csv(self, day: date = DAY, *extra: str) -> Run:
        run = self.cli(
            "ingest-csv",
            "--movies",
            str(MOVIES_CSV),
            "--series",
            str(SERIES_CSV),
            "--date",
            day.isoformat(),
            "-q",
            *extra,
        )
        assert run.code == 0, run.err
        return run

    def land_tmdb(self, day: date = DAY) -> Run:
        run = self.cli(
            "ingest-tmdb", "--from-csv", "--date", day.isoformat(), "--rate", "5000", "-q"
        )
        assert run.code == 0, run.err
        return run

    def manifests(self, day: date = DAY) -> list[dict[str, Any]]:
        found = [
            json.loads(self.store.get_bytes(o.key))
            for o in self.store.list(layout.manifest_prefix(day))
        ]
        return sorted(found, key=lambda m: m["run_id"])

    def data_keys(self) -> list[str]:
        return [o.key for o in self.store.list("Raw/") if not layout.is_control_key(o.key)]


@pytest.fixture(name="tmdb", scope="module")
def tmdb_fixture() -> Iterator[TmdbEmulator]:
    with TmdbEmulator(EmulatorConfig()) as emulator:
        yield emulator


def _env(emulator: TmdbEmulator, extra: dict[str, str]) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "TMDB_BASE_URL": emulator.base_url,
        "TMDB_API_KEY": EmulatorConfig().api_key,
        **extra,
    }


def local_lake(root: Path, emulator: TmdbEmulator) -> Lake:
    return Lake("local", str(root), _env(emulator, {}), LocalDirStore(root), root=root)


def s3_lake(endpoint: S3Endpoint, emulator: TmdbEmulator, **env: str) -> Lake:
    """A fresh bucket on `endpoint`, named after it (`moto`, `s3rver`...); `env` adds settings."""
    bucket = new_bucket(endpoint)
    settings = Settings(
        lake=f"s3://{bucket}",
        endpoint_url=endpoint.url,
        region=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    return Lake(
        endpoint.name,
        settings.lake,
        _env(emulator, endpoint.env() | env),
        open_store(settings),
        bucket=bucket,
    )


def moto_lake(endpoint: S3Endpoint, emulator: TmdbEmulator) -> Lake:
    return s3_lake(endpoint, emulator)


@pytest.fixture(name="lake", params=["local", "moto"])
def lake_fixture(request: pytest.FixtureRequest, clean_env: Path, tmdb: TmdbEmulator) -> Lake:
    if request.param == "local":
        return local_lake(clean_env / "lake", tmdb)
    return moto_lake(request.getfixturevalue("moto_endpoint"), tmdb)


@pytest.fixture(name="disk_lake")
def disk_lake_fixture(clean_env: Path, tmdb: TmdbEmulator) -> Lake:
    return local_lake(clean_env / "lake", tmdb)


class DataBlindStore(Store):
    """Wraps a lake and fails the test on any HEAD or GET of a key that is not a manifest."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.url = inner.url
        self.reads: list[str] = []

    def _control_only(self, key: str) -> None:
        assert layout.is_control_key(key), f"status touched the data object {key}"

    def head(self, key: str) -> ObjectInfo | None:
        self._control_only(key)
        return self.inner.head(key)

    def open_read(self, key: str) -> AbstractContextManager[BinaryIO]:
        self._control_only(key)
        self.reads.append(key)
        return self.inner.open_read(key)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        assert prefix.startswith(layout.MANIFESTS), f"status listed {prefix}"
        return self.inner.list(prefix)

    @property
    def keeps_versions(self) -> bool:
        return self.inner.keeps_versions

    def _write_bytes(self, *args: Any, **kwargs: Any) -> str | None:
        raise AssertionError("status must not write")

    def _write_file(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("status must not write")


# status -------------------------------------------------------------------------------------
def test_status_aggregates_csv_and_tmdb_partitions(lake: Lake) -> None:
    lake.land_csv()
    lake.land_tmdb()
    csv_run, tmdb_run = sorted(lake.manifests(), key=lambda m: m["command"])
    assert csv_run["command"] == "ingest-csv"

    result = lake.cli("status", "--json")

    assert result.code == 0, result.err
    rows = {r["source"]: r for r in result.json()}
    assert set(rows) == {
        "Local CSV Movies",
        "Local CSV Series",
        "TMDB Find",
        "TMDB Movies",
        "TMDB Series",
        "TMDB Errors",
    }
    assert {r["date"] for r in rows.values()} == {DAY.isoformat()}
    for run in (csv_run, tmdb_run):
        for obj in run["objects"]:
            source, _ = layout.partition_of(obj["key"]) or ("?", None)
            row = rows[source]
            assert row["last_run_id"] == run["run_id"]
            assert row["last_run_status"] == "succeeded"
            assert row["last_run_finished_at"] == run["finished_at"]
    for source, row in rows.items():
        mine = [
            o
            for run in (csv_run, tmdb_run)
            for o in run["objects"]
            if (layout.partition_of(o["key"]) or ("",))[0] == source
        ]
        assert row["objects"] == len(mine)
        assert row["bytes"] == sum(o["bytes"] for o in mine)
        assert row["records"] == sum(o["records"] for o in mine)
    assert rows["Local CSV Movies"]["records"] == 349
    assert rows["TMDB Errors"]["not_found"] == tmdb_run["counts"]["not_found"] > 0
    assert rows["TMDB Errors"]["records"] == tmdb_run["counts"]["not_found"]
    assert sum(r["not_found"] for r in rows.values()) == tmdb_run["counts"]["not_found"]
    assert all(r["failed"] == 0 for r in rows.values())
    assert "6 partitions" in result.err  # the summary goes to stderr when stdout is JSON


def test_status_reads_manifests_only_even_with_the_data_gone(disk_lake: Lake) -> None:
    disk_lake.land_csv()
    disk_lake.land_tmdb()
    before = disk_lake.cli("status", "--json").json()
    assert disk_lake.root is not None
    for folder in ("Local", "TMDB"):
        shutil.rmtree(disk_lake.root / "Raw" / folder)
    shutil.rmtree(disk_lake.root / ".cinelake")
    assert disk_lake.data_keys() == []

    after = disk_lake.cli("status", "--json")

    assert after.code == 0, after.err
    assert after.json() == before
    blind = DataBlindStore(LocalDirStore(disk_lake.root))
    report = lake_status(blind, None, None)
    assert [r.to_dict() for r in report.rows] == before
    assert blind.reads and all(k.startswith("Raw/_manifests/") for k in blind.reads)


def test_status_on_s3_gets_only_manifests(
    clean_env: Path, tmdb: TmdbEmulator, moto_endpoint: S3Endpoint
) -> None:
    lake = moto_lake(moto_endpoint, tmdb)
    lake.land_csv()
    lake.land_tmdb()
    blind = DataBlindStore(lake.store)

    report = lake_status(blind, DAY, DAY)

    assert len(report.rows) == 6
    assert len(blind.reads) == report.manifests == 2


def test_a_key_landed_again_counts_once_and_the_last_run_is_shown(disk_lake: Lake) -> None:
    disk_lake.land_csv()
    time.sleep(1.1)  # run ids and finish times have one-second resolution
    disk_lake.land_csv()  # same bytes: every object `unchanged`
    first, second = disk_lake.manifests()
    assert second["counts"]["unchanged"] == 2

    rows = {r["source"]: r for r in disk_lake.cli("status", "--json").json()}

    movies = rows["Local CSV Movies"]
    assert movies["objects"] == 1
    assert movies["records"] == 349
    assert movies["bytes"] == MOVIES_CSV.stat().st_size
    assert movies["runs"] == 2
    assert movies["last_run_id"] == second["run_id"] != first["run_id"]


def test_a_refused_file_is_counted_as_failed_with_the_run_status(
    disk_lake: Lake, tmp_path: Path
) -> None:
    disk_lake.land_csv()
    changed = tmp_path / "other" / "movies.csv"
    changed.parent.mkdir()
    changed.write_bytes(MOVIES_CSV.read_bytes() + b"tt9999999|an extra row\n")
    refused = disk_lake.cli("ingest-csv", "--movies", str(changed), "--date", DAY.isoformat())
    assert refused.code == 1

    rows = {r["source"]: r for r in disk_lake.cli("status", "--json").json()}

    movies = rows["Local CSV Movies"]
    assert movies["objects"] == 1  # the first landing is still there, untouched
    assert movies["bytes"] == MOVIES_CSV.stat().st_size
    assert movies["failed"] == 1
    assert movies["last_run_status"] == "failed"
    assert rows["Local CSV Series"]["failed"] == 0


def test_date_and_since_select_partitions(disk_lake: Lake) -> None:
    disk_lake.land_csv(DAY)
    disk_lake.land_csv(OTHER_DAY)

    everything = disk_lake.cli("status", "--json").json()
    one_day = disk_lake.cli("status", "--json", "--date", DAY.isoformat()).json()
    since = disk_lake.cli("status", "--json", "--since", OTHER_DAY.isoformat()).json()
    later = disk_lake.cli("status", "--json", "--since", "2030-01-01")

    assert {r["date"] for r in everything} == {DAY.isoformat(), OTHER_DAY.isoformat()}
    assert {r["date"] for r in one_day} == {DAY.isoformat()}
    assert {r["date"] for r in since} == {OTHER_DAY.isoformat()}
    assert later.code == 0
    assert later.json() == []
    assert "no runs recorded" in later.err
    with pytest.raises(SystemExit) as exit_:
        disk_lake.cli("status", "--date", DAY.isoformat(), "--since", DAY.isoformat())
    assert exit_.value.code == 2


def test_text_table_is_aligned(disk_lake: Lake) -> None:
    disk_lake.land_csv()
    disk_lake.land_tmdb()

    result = disk_lake.cli("status")

    assert result.code == 0
    lines = result.out.splitlines()
    header, rows, summary = lines[0], lines[1:-1], lines[-1]
    assert header.split()[:3] == ["DATE", "SOURCE", "OBJECTS"]
    assert len(rows) == 6
    run_column = header.index("LAST RUN")
    status_column = header.index("STATUS")
    for row in rows:
        assert row[run_column : run_column + 8].strip()[:8].isdigit()
        assert row[status_column:].startswith("succeeded")
    assert summary.startswith("cinelake: status: 6 partitions over 1 day(s), 8 objects")


def test_an_unreadable_manifest_is_named_and_skipped(disk_lake: Lake) -> None:
    disk_lake.land_csv()
    disk_lake.store.put_bytes(f"{layout.manifest_prefix(DAY)}broken.json", b"{not json")

    result = disk_lake.cli("status", "--json")

    assert result.code == 0
    assert len(result.json()) == 2
    assert "Raw/_manifests/2025/06/01/broken.json: unreadable" in result.err


def test_tmdb_item_counts_of_a_manifest_cinelake_did_not_write_still_count(
    disk_lake: Lake,
) -> None:
    """Only a run stopped by Ctrl-C or an error counts no items; any other count is kept."""
    run_id = "20250601T000000Z-00000000"
    manifest = {
        "schema": "cinelake.run-manifest/1",
        "run_id": run_id,
        "command": "ingest-tmdb --ids",
        "status": "partial",
        "partition_date": DAY.isoformat(),
        "started_at": "2025-06-01T00:00:00Z",
        "finished_at": "2025-06-01T00:00:01Z",
        "options": {"plan_id": "ids-000000000000"},
        "counts": {"not_found": 1, "failed": 2},
        "objects": [],
        "notes": [],
    }
    disk_lake.store.put_bytes(layout.manifest_key(DAY, run_id), json.dumps(manifest).encode())

    rows = {r["source"]: r for r in disk_lake.cli("status", "--json").json()}

    assert (rows["TMDB Errors"]["not_found"], rows["TMDB Errors"]["failed"]) == (1, 2)


def test_status_of_a_missing_folder_fails_without_creating_it(clean_env: Path) -> None:
    from cinelake.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["status", "--lake", str(clean_env / "nowhere")], environ={})

    assert code == 2
    assert "no such folder" in err.getvalue()
    assert not (clean_env / "nowhere").exists()


def test_status_of_an_empty_lake(disk_lake: Lake, clean_env: Path) -> None:
    (clean_env / "lake").mkdir()

    result = disk_lake.cli("status")

    assert result.code == 0
    assert "no runs recorded for all dates" in result.out
