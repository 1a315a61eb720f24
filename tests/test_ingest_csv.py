"""`cinelake ingest-csv` end to end: byte for byte, verified, idempotent, never destructive.

Runs against the local lake, S3 on moto, on `rclone serve s3` and on s3rver (no checksums),
through the CLI's `main` (and once through a real `python -m cinelake` process).
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import pty
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import signal_self_first
from lakes import DAY_PATH, Lake, csv_key, open_lake

from cinelake import checksums
from cinelake.cli import main
from cinelake.store import LocalDirStore

LAKES = ["local", "moto", "rclone", "s3rver"]
MIB = 1024 * 1024
HEADER = b"id|tituloPincipal|anoLancamento\n"

NASTY = {
    "bom": b"\xef\xbb\xbf" + HEADER + b"tt1|Central do Brasil|1998\n",
    "crlf": HEADER.replace(b"\n", b"\r\n") + b"tt1|Central do Brasil|1998\r\n",
    "mixed_endings": HEADER + b"tt1|a|1998\r\ntt2|b|1999\n",
    "invalid_utf8": HEADER + b"tt1|S\xe3o Paulo|1998\n",
    "no_final_newline": HEADER + b"tt1|Central do Brasil|1998",
    "one_mb_line": HEADER + b"tt1|" + b"x" * MIB + b"|1998\n",
    "quoted_pipe": HEADER + b'tt1|"Ela|Ele"|1998\n',
}

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(params=LAKES)
def lake(request: pytest.FixtureRequest, clean_env: Path, tmp_path: Path) -> Lake:
    return open_lake(request.param, request, tmp_path)


@pytest.fixture(params=["local", "moto"])
def lake_local_or_moto(request: pytest.FixtureRequest, clean_env: Path, tmp_path: Path) -> Lake:
    return open_lake(request.param, request, tmp_path)


@pytest.fixture
def local_lake(request: pytest.FixtureRequest, clean_env: Path, tmp_path: Path) -> Lake:
    """For behaviours of the command line itself, which do not depend on the backend."""
    return open_lake("local", request, tmp_path)


@pytest.fixture
def versioned_moto_lake(request: pytest.FixtureRequest, clean_env: Path, tmp_path: Path) -> Lake:
    return open_lake("moto", request, tmp_path, versioned=True)


def write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def ingest(
    capsys: pytest.CaptureFixture[str],
    lake: Lake,
    *args: str,
    env: dict[str, str] | None = None,
    date: str | None = "2025-05-02",
) -> tuple[int, str, str]:
    argv = ["ingest-csv", *args, *(["--date", date] if date else [])]
    code = main(argv, environ=lake.env | (env or {}))
    out, err = capsys.readouterr()
    return code, out, err


def ingest_json(
    capsys: pytest.CaptureFixture[str], lake: Lake, *args: str, **kwargs: Any
) -> tuple[int, dict[str, Any], str]:
    code, out, err = ingest(capsys, lake, "--json", *args, **kwargs)
    return code, json.loads(out), err


# Byte for byte --------------------------------------------------------------------------------


@pytest.mark.parametrize("nasty", sorted(NASTY))
def test_nasty_file_lands_byte_for_byte(
    capsys: pytest.CaptureFixture[str], lake: Lake, tmp_path: Path, nasty: str
) -> None:
    source = write(tmp_path / "in", "movies.csv", NASTY[nasty])

    code, _, _ = ingest(capsys, lake, "--movies", str(source))

    assert code == 0
    assert lake.get(csv_key("movies.csv")) == NASTY[nasty]


def test_sigterm_stops_a_run_like_ctrl_c_with_a_manifest_of_what_landed(
    capsys: pytest.CaptureFixture[str], local_lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`docker stop` and `timeout` send SIGTERM: the upload under way is aborted, not left."""

    def on_series(key: str, *args: Any, **kwargs: Any) -> bool:
        return "/Series/" in key

    signal_self_first(monkeypatch, LocalDirStore, "put_file", signal.SIGTERM, on_series)

    code, _, err = ingest(
        capsys,
        local_lake,
        "--movies",
        str(SAMPLE / "movies.csv"),
        "--series",
        str(SAMPLE / "series.csv"),
    )

    assert code == 128 + signal.SIGTERM
    assert err.strip().splitlines()[-1].startswith("cinelake: error: terminated (SIGTERM)")
    [manifest_key] = local_lake.manifest_keys()
    note = local_lake.manifest(manifest_key)["notes"][0]
    assert "terminated (SIGTERM) after 1 of 2 files" in note
    assert local_lake.data_keys() == [csv_key("movies.csv")]


def test_a_sigterm_while_the_manifest_is_written_waits_for_it(
    capsys: pytest.CaptureFixture[str], local_lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cinelake.lake.manifest import RunManifest

    signal_self_first(monkeypatch, RunManifest, "write", signal.SIGTERM)

    code, _, _ = ingest(capsys, local_lake, "--movies", str(SAMPLE / "movies.csv"))

    assert code == 128 + signal.SIGTERM
    assert len(local_lake.manifest_keys()) == 1
    assert local_lake.data_keys() == [csv_key("movies.csv")]


def test_a_sigint_ignored_when_cinelake_started_stays_ignored(
    capsys: pytest.CaptureFixture[str], local_lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cinelake ingest-csv &` in a script ignores SIGINT: a Ctrl-C meant for the script."""
    signal_self_first(monkeypatch, LocalDirStore, "put_file", signal.SIGINT)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code, _, _ = ingest(capsys, local_lake, "--movies", str(SAMPLE / "movies.csv"))
    finally:
        signal.signal(signal.SIGINT, previous)

    assert code == 0
    assert local_lake.data_keys() == [csv_key("movies.csv")]


def test_movies_and_series_land_under_their_dataset_and_zero_padded_date(
    capsys: pytest.CaptureFixture[str], lake: Lake, tmp_path: Path
) -> None:
    movies = write(tmp_path / "in", "movies.csv", HEADER + b"tt1|a|1998\n")
    series = write(tmp_path / "in", "series.csv", HEADER + b"tt2|b|1999\n")

    code, _, _ = ingest(capsys, lake, "--movies", str(movies), "--series", str(series))

    assert code == 0
    assert lake.data_keys() == [
        f"Raw/Local/CSV/Movies/{DAY_PATH}/movies.csv",
        f"Raw/Local/CSV/Series/{DAY_PATH}/series.csv",
    ]


def test_sample_data_lands_with_every_record_and_no_anomaly(
    capsys: pytest.CaptureFixture[str], local_lake: Lake
) -> None:
    lake = local_lake
    code, manifest, _ = ingest_json(
        capsys,
        lake,
        "--movies",
        str(SAMPLE / "movies.csv"),
        "--series",
        str(SAMPLE / "series.csv"),
    )
    assert code == 0
    for entry, name in zip(manifest["objects"], ["movies.csv", "series.csv"], strict=True):
        data = (SAMPLE / name).read_bytes()
        assert lake.get(entry["key"]) == data
        assert entry["records"] == data.count(b"\n") - 1
        assert entry["details"]["observed"]["anomalies"] == []


def test_file_option_takes_the_dataset_name_in_any_case(
    capsys: pytest.CaptureFixture[str], local_lake: Lake, tmp_path: Path
) -> None:
    lake = local_lake
    source = write(tmp_path / "in", "series_2025.csv", HEADER)
    code, _, _ = ingest(capsys, lake, "--file", f"series={source}")
    assert code == 0
    assert lake.data_keys() == [f"Raw/Local/CSV/Series/{DAY_PATH}/series_2025.csv"]


def test_seed_path_variables_name_the_files_when_no_option_is_given(
    capsys: pytest.CaptureFixture[str], local_lake: Lake, tmp_path: Path
) -> None:
    lake = local_lake
    movies = write(tmp_path / "in", "movies.csv", HEADER)
    series = write(tmp_path / "in", "series.csv", HEADER)
    env = {
        "CAMINHO_DO_ARQUIVO_LOCAL_MOVIES": str(movies),
        "CAMINHO_DO_ARQUIVO_LOCAL_SERIES": str(series),
    }
    code, _, _ = ingest(capsys, lake, env=env)
    assert code == 0
    assert len(lake.data_keys()) == 2


def test_movies_option_beats_the_path_variables(
    capsys: pytest.CaptureFixture[str], local_lake: Lake, tmp_path: Path
) -> None:
    lake = local_lake
    from_env = write(tmp_path / "env", "from_env.csv", HEADER)
    from_cli = write(tmp_path / "cli", "from_cli.csv", HEADER)
    env = {
        "CAMINHO_DO_ARQUIVO_LOCAL_MOVIES": str(from_env),
        "CAMINHO_DO_ARQUIVO_LOCAL_SERIES": str(from_env),
    }
    code, _, _ = ingest(capsys, lake, "--movies", str(from_cli), env=env)
    assert code == 0
    assert lake.data_keys() == [csv_key("from_cli.csv")]


def test_env_file_option_is_read(
    capsys: pytest.CaptureFixture[str], local_lake: Lake, tmp_path: Path
) -> None:
    lake = local_lake
    movies = write(tmp_path / "in", "movies.csv", HEADER)
    env_file = write(tmp_path, "custom.env", f"CAMINHO_DO_ARQUIVO_LOCAL_MOVIES={movies}\n".encode())
    code, _, _ = ingest(capsys, lake, "--env-file", str(env_file))
    assert code == 0
    assert lake.data_keys() == [csv_key("movies.csv")]


def test_date_defaults_to_today_in_utc(
    capsys: pytest.CaptureFixture[str], local_lake: Lake, tmp_path: Path
) -> None:
    lake = local_lake
    source = write(tmp_path / "in", "movies.csv", HEADER)
    before = datetime.now(UTC).date()
    code, _, _ = ingest(capsys, lake, "--movies", str(source), date=None)
    after = datetime.now(UTC).date()
    assert code == 0
    assert lake.data_keys()[0] in {
        f"Raw/Local/CSV/Movies/{day:%Y/%m/%d}/movies.csv" for day in (before, after)
    }


# Verified -------------------------------------------------------------------------------------


def test_object_carries_crc64nvme_and_the_source_sha256_size_and_run_id(
    capsys: pytest.CaptureFixture[str], clean_env: Path, request: pytest.FixtureRequest
) -> None:
    lake = open_lake("moto", request, clean_env)
    data = NASTY["invalid_utf8"]
    source = write(clean_env / "in", "movies.csv", data)

    code, manifest, _ = ingest_json(capsys, lake, "--movies", str(source))

    head = lake.s3_head(csv_key("movies.csv"))
    assert code == 0
    assert head["ChecksumCRC64NVME"] == checksums.of_bytes("CRC64NVME", data)
    assert head["Metadata"]["cinelake-sha256"] == hashlib.sha256(data).hexdigest()
    assert head["Metadata"]["cinelake-bytes"] == str(len(data))
    assert head["Metadata"]["cinelake-run-id"] == manifest["run_id"]


def test_large_file_lands_in_parts_with_the_full_object_checksum_size_and_run_id(
    capsys: pytest.CaptureFixture[str], clean_env: Path, request: pytest.FixtureRequest
) -> None:
    lake = open_lake("moto", request, clean_env)
    data = HEADER + b"tt1|x|1998\n" * (12 * MIB // 11)
    source = write(clean_env / "in", "movies.csv", data)

    code, manifest, _ = ingest_json(
        capsys, lake, "--movies", str(source), env={"CINELAKE_PART_SIZE_MIB": "5"}
    )

    head = lake.s3_head(csv_key("movies.csv"))
    assert code == 0
    assert lake.get(csv_key("movies.csv")) == data
    assert head["ChecksumCRC64NVME"] == checksums.of_bytes("CRC64NVME", data)
    assert head["Metadata"]["cinelake-bytes"] == str(len(data))
    assert head["Metadata"]["cinelake-run-id"] == manifest["run_id"]
    entry = manifest["objects"][0]
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry["verified_by"] == "server-checksum"


def test_an_unchanged_multipart_file_landed_again_on_rclone_still_verifies(
    capsys: pytest.CaptureFixture[str], clean_env: Path, request: pytest.FixtureRequest
) -> None:
    """rclone keeps a checksum for single-part objects only: a re-run must not claim one for a
    multipart object, or every later `verify` fails on an intact lake."""
    lake = open_lake("rclone", request, clean_env)
    data = HEADER + b"tt1|x|1998\n" * (12 * MIB // 11)
    source = write(clean_env / "in", "movies.csv", data)
    parts = {"CINELAKE_PART_SIZE_MIB": "5"}
    assert ingest(capsys, lake, "--movies", str(source), env=parts)[0] == 0

    code, manifest, _ = ingest_json(capsys, lake, "--movies", str(source), env=parts)
    verified = main(["verify"], environ=lake.env)
    out, _ = capsys.readouterr()

    assert code == 0
    assert manifest["objects"][0]["state"] == "unchanged"
    assert manifest["objects"][0]["verified_by"] != "server-checksum"
    assert verified == 0, out


def test_manifest_records_how_each_object_was_verified(
    capsys: pytest.CaptureFixture[str], lake: Lake, tmp_path: Path
) -> None:
    data = NASTY["crlf"]
    source = write(tmp_path / "in", "movies.csv", data)
    _, manifest, _ = ingest_json(capsys, lake, "--movies", str(source))
    entry = manifest["objects"][0]
    assert entry["checksum"] == checksums.of_bytes(entry["checksum_algorithm"], data)
    # s3rver returns no checksum: its ETag is compared with the MD5 of the upload instead.
    expected = "size-and-md5" if lake.kind == "s3rver" else "server-checksum"
    assert entry["verified_by"] == expected


# The manifest ---------------------------------------------------------------------------------


def test_manifest_is_written_under_manifests_date_and_run_id_with_the_required_fields(
    capsys: pytest.CaptureFixture[str], lake: Lake, tmp_path: Path
) -> None:
    data = NASTY["bom"]
    source = write(tmp_path / "in", "movies.csv", data)

    code, _, _ = ingest(capsys, lake, "--movies", str(source))

    [key] = lake.manifest_keys()
    stored = lake.manifest(key)
    assert code == 0
    assert key == f"Raw/_manifests/{DAY_PATH}/{stored['run_id']}.json"
    for name in ("run_id", "command", "cinelake_version", "started_at", "finished_at", "lake"):
        assert stored[name], name
    assert stored["command"] == "ingest-csv"
    assert stored["status"] == "succeeded"
    for stamp in (stored["started_at"], stored["finished_at"]):
        assert datetime.fromisoformat(stamp).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    [entry] = stored["objects"]
    assert {k: entry[k] for k in ("key", "source", "bytes", "sha256", "records", "state")} == {
        "key": csv_key("movies.csv"),
        "source": str(source),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "records": 1,
        "state": "written",
    }
    assert entry["error"] is None


def test_json_prints_the_stored_manifest_on_stdout(
    capsys: pytest.CaptureFixture[str], lake: Lake, tmp_path: Path
) -> None:
    source = write(tmp_path / "in", "movies.csv", HEADER)
    code, printed, err = ingest_json(capsys, lake, "--movies", str(source))
    [key] = lake.manifest_keys()
    assert code == 0
    assert printed == lake.manifest(key)
    assert "ingest-csv succeeded" in err


def test_without_json_stdout_carries_one_summary_line(
    capsys: pytest.CaptureFixture[str], local_lake: Lake, tmp_path: Path
) -> None:
    lake = local_lake
    source = write(tmp_path / "in", "movies.csv", HEADER)
    code, out, _ = ingest(capsys, lake, "--movies", str(source))
    assert code == 0
    assert len(out.splitlines()) == 1
    assert "1 written" in out
    assert lake.manifest_keys()[0] in out


def test_anomalies_are_landed_as_is_and_reported_on_stderr_and_in_the_manifest(
    capsys: pytest.CaptureFixture[str], lake: Lake, tmp_path: Path
) -> None:
    source = write(tmp_path / "in", "movies.csv", NASTY["quoted_pipe"])
    code, manifest, err = ingest_json(capsys, lake, "--movies", str(source))
    observed = manifest["objects"][0]["details"]["observed"]
    assert code == 0
    assert observed["rows_with_wrong_field_count_first_lines"] == [2]
    assert "landed as is" in err
    assert csv_key("movies.csv") in err


# Idempotent and never destructive -------------------------------------------------------------


def test_same_file_again_is_unchanged_and_only_a_new_manifest_is_written(
    capsys: pytest.CaptureFixture[str], lake: Lake, tmp_path: Path
) -> None:
    source = write(tmp_path / "in", "movies.csv", NASTY["crlf"])
    ingest(capsys, lake, "--movies", str(source))
    before = set(lake.keys())
    first_run_bytes = lake.get(csv_key("movies.csv"))

    code, manifest, _ = ingest_json(capsys, lake, "--movies", str(source))

    added = set(lake.keys()) - before
    assert code == 0
    assert manifest["objects"][0]["state"] == "unchanged"
    assert manifest["status"] == "succeeded"
    assert added == {f"Raw/_manifests/{DAY_PATH}/{manifest['run_id']}.json"}
    assert lake.get(csv_key("movies.csv")) == first_run_bytes


def test_same_file_again_leaves_the_first_runs_object_in_place(
    capsys: pytest.CaptureFixture[str], clean_env: Path, request: pytest.FixtureRequest
) -> None:
    lake = open_lake("moto", request, clean_env, versioned=True)
    source = write(clean_env / "in", "movies.csv", HEADER)
    _, first, _ = ingest_json(capsys, lake, "--movies", str(source))

    ingest(capsys, lake, "--movies", str(source))

    versions = lake.client.list_object_versions(Bucket=lake.bucket, Prefix=csv_key("movies.csv"))
    assert len(versions["Versions"]) == 1
    assert lake.s3_head(csv_key("movies.csv"))["Metadata"]["cinelake-run-id"] == first["run_id"]


def test_different_file_for_a_landed_key_is_a_conflict_and_the_original_is_untouched(
    capsys: pytest.CaptureFixture[str], lake: Lake, tmp_path: Path
) -> None:
    original = write(tmp_path / "a", "movies.csv", HEADER + b"tt1|original|1998\n")
    impostor = write(tmp_path / "b", "movies.csv", HEADER + b"tt1|impostor|1998\n")
    ingest(capsys, lake, "--movies", str(original))

    code, manifest, err = ingest_json(capsys, lake, "--movies", str(impostor))

    assert code == 1
    assert manifest["objects"][0]["state"] == "conflict"
    assert manifest["status"] == "failed"
    assert f"conflict: {csv_key('movies.csv')}" in err
    assert lake.get(csv_key("movies.csv")) == original.read_bytes()


def test_conflict_run_still_writes_its_manifest(
    capsys: pytest.CaptureFixture[str], lake: Lake, tmp_path: Path
) -> None:
    ingest(capsys, lake, "--movies", str(write(tmp_path / "a", "movies.csv", HEADER + b"1\n")))
    _, manifest, _ = ingest_json(
        capsys, lake, "--movies", str(write(tmp_path / "b", "movies.csv", HEADER + b"2\n"))
    )
    assert lake.manifest(f"Raw/_manifests/{DAY_PATH}/{manifest['run_id']}.json") == manifest


def test_one_conflict_and_one_new_file_is_a_partial_run_with_exit_1(
    capsys: pytest.CaptureFixture[str], lake: Lake, tmp_path: Path
) -> None:
    ingest(capsys, lake, "--movies", str(write(tmp_path / "a", "movies.csv", HEADER + b"1\n")))
    code, manifest, _ = ingest_json(
        capsys,
        lake,
        "--movies",
        str(write(tmp_path / "b", "movies.csv", HEADER + b"2\n")),
        "--series",
        str(write(tmp_path / "b", "series.csv", HEADER)),
    )
    assert code == 1
    assert manifest["status"] == "partial"
    assert [o["state"] for o in manifest["objects"]] == ["conflict", "written"]


def test_overwrite_on_a_versioned_bucket_writes_and_keeps_the_previous_version(
    capsys: pytest.CaptureFixture[str], versioned_moto_lake: Lake, tmp_path: Path
) -> None:
    lake = versioned_moto_lake
    original = write(tmp_path / "a", "movies.csv", HEADER + b"tt1|original|1998\n")
    fixed = write(tmp_path / "b", "movies.csv", HEADER + b"tt1|fixed|1998\n")
    ingest(capsys, lake, "--movies", str(original))

    code, manifest, _ = ingest_json(capsys, lake, "--movies", str(fixed), "--overwrite")

    key = csv_key("movies.csv")
    versions = lake.client.list_object_versions(Bucket=lake.bucket, Prefix=key)["Versions"]
    [previous] = [v for v in versions if not v["IsLatest"]]
    kept = lake.client.get_object(Bucket=lake.bucket, Key=key, VersionId=previous["VersionId"])
    assert code == 0
    assert manifest["objects"][0]["state"] == "written"
    assert lake.get(key) == fixed.read_bytes()
    assert kept["Body"].read() == original.read_bytes()


def test_overwrite_on_the_local_lake_keeps_the_previous_version(
    capsys: pytest.CaptureFixture[str], clean_env: Path, request: pytest.FixtureRequest
) -> None:
    lake = open_lake("local", request, clean_env)
    original = write(clean_env / "a", "movies.csv", HEADER + b"tt1|original|1998\n")
    fixed = write(clean_env / "b", "movies.csv", HEADER + b"tt1|fixed|1998\n")
    ingest(capsys, lake, "--movies", str(original))

    code, _, _ = ingest(capsys, lake, "--movies", str(fixed), "--overwrite")

    assert lake.root is not None
    kept = LocalDirStore(lake.root).previous_versions(csv_key("movies.csv"))
    assert code == 0
    assert lake.get(csv_key("movies.csv")) == fixed.read_bytes()
    assert [path.read_bytes() for path in kept] == [original.read_bytes()]


@pytest.mark.parametrize("kind", ["moto", "rclone"])
def test_overwrite_is_refused_on_a_bucket_without_versioning(
    capsys: pytest.CaptureFixture[str],
    clean_env: Path,
    request: pytest.FixtureRequest,
    kind: str,
) -> None:
    lake = open_lake(kind, request, clean_env)
    original = write(clean_env / "a", "movies.csv", HEADER + b"tt1|original|1998\n")
    ingest(capsys, lake, "--movies", str(original))

    code, _, err = ingest(
        capsys,
        lake,
        "--movies",
        str(write(clean_env / "b", "movies.csv", HEADER + b"tt1|other|1998\n")),
        "--overwrite",
    )

    assert code == 1
    assert "does not keep previous versions" in err
    assert lake.get(csv_key("movies.csv")) == original.read_bytes()


# --strict and --dry-run -----------------------------------------------------------------------


def test_strict_refuses_an_anomalous_file_and_lands_nothing_at_its_key(
    capsys: pytest.CaptureFixture[str], lake: Lake, tmp_path: Path
) -> None:
    source = write(tmp_path / "in", "movies.csv", NASTY["invalid_utf8"])

    code, manifest, err = ingest_json(capsys, lake, "--movies", str(source), "--strict")

    assert code == 1
    assert lake.data_keys() == []
    assert manifest["objects"][0]["state"] == "failed"
    assert "refused by --strict" in manifest["objects"][0]["error"]
    assert "not valid UTF-8" in err


def test_strict_lands_a_clean_file(
    capsys: pytest.CaptureFixture[str], lake: Lake, tmp_path: Path
) -> None:
    source = write(tmp_path / "in", "movies.csv", HEADER + b"tt1|a|1998\n")
    code, _, _ = ingest(capsys, lake, "--movies", str(source), "--strict")
    assert code == 0
    assert lake.get(csv_key("movies.csv")) == source.read_bytes()


def test_dry_run_writes_nothing(
    capsys: pytest.CaptureFixture[str], lake: Lake, tmp_path: Path
) -> None:
    source = write(tmp_path / "in", "movies.csv", NASTY["bom"])

    code, manifest, err = ingest_json(capsys, lake, "--movies", str(source), "--dry-run")

    assert code == 0
    assert lake.keys() == []
    assert manifest["options"]["dry_run"] is True
    assert manifest["objects"][0]["details"]["observed"]["bom"] is True
    assert "ingest-csv dry run: 1 to write, 0 unchanged" in err
    assert "nothing was written" in err


# Big files: profiled in a process of their own -------------------------------------------------


@dataclass
class ProfilingProcesses:
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    still_running_at_each_start: list[int] = field(default_factory=list)


@pytest.fixture
def profiling(monkeypatch: pytest.MonkeyPatch) -> ProfilingProcesses:
    """Every file counts as big, and each profiling process started is recorded."""
    from cinelake.csv_ingest import run

    seen = ProfilingProcesses()

    class Recorded(subprocess.Popen[bytes]):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            running = [p for p in seen.started if p.returncode is None]
            seen.still_running_at_each_start.append(len(running))
            super().__init__(*args, **kwargs)
            seen.started.append(self)

    monkeypatch.setattr(run, "PROCESS_PROFILE_BYTES", 0)
    monkeypatch.setattr(run.subprocess, "Popen", Recorded)
    return seen


def test_a_big_file_is_observed_in_its_own_process_exactly_as_beside_the_upload(
    capsys: pytest.CaptureFixture[str],
    local_lake: Lake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = write(tmp_path / "in", "movies.csv", NASTY["bom"] + b"tt2|S\xe3o|1|x\r\n")
    _, beside, _ = ingest_json(capsys, local_lake, "--movies", str(source))
    from cinelake.csv_ingest import run

    monkeypatch.setattr(run, "PROCESS_PROFILE_BYTES", 0)
    _, apart, _ = ingest_json(capsys, local_lake, "--movies", str(source), date="2025-05-03")

    observed = apart["objects"][0]["details"]["observed"]
    assert observed == beside["objects"][0]["details"]["observed"]
    assert observed["rows_with_wrong_field_count"] == 1


def test_strict_profiles_a_big_file_once_for_the_check_and_the_manifest(
    capsys: pytest.CaptureFixture[str],
    local_lake: Lake,
    tmp_path: Path,
    profiling: ProfilingProcesses,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cinelake.csv_ingest import run

    in_process: list[Path] = []
    monkeypatch.setattr(run, "profile_path", in_process.append)
    source = write(tmp_path / "in", "movies.csv", HEADER + b"tt1|a|1998\n")

    code, manifest, _ = ingest_json(capsys, local_lake, "--movies", str(source), "--strict")

    assert code == 0
    assert manifest["objects"][0]["records"] == 1
    assert len(profiling.started) == 1
    assert in_process == []


def test_big_files_are_profiled_one_process_at_a_time(
    capsys: pytest.CaptureFixture[str],
    local_lake: Lake,
    tmp_path: Path,
    profiling: ProfilingProcesses,
) -> None:
    movies = write(tmp_path / "in", "movies.csv", HEADER + b"tt1|a|1998\n")
    series = write(tmp_path / "in", "series.csv", HEADER + b"tt2|b|1999\n")
    code, manifest, _ = ingest_json(
        capsys, local_lake, "--movies", str(movies), "--series", str(series)
    )

    assert code == 0
    assert [o["records"] for o in manifest["objects"]] == [1, 1]
    assert profiling.still_running_at_each_start == [0, 0]


def test_a_conflicting_first_file_stops_its_profile_before_the_next_file_starts(
    capsys: pytest.CaptureFixture[str],
    local_lake: Lake,
    tmp_path: Path,
    profiling: ProfilingProcesses,
) -> None:
    movies = write(tmp_path / "in", "movies.csv", HEADER + b"tt1|a|1998\n")
    ingest(capsys, local_lake, "--movies", str(movies))
    movies.write_bytes(HEADER + b"tt1|b|1998\n")
    series = write(tmp_path / "in", "series.csv", HEADER + b"tt2|b|1999\n")

    code, manifest, _ = ingest_json(
        capsys, local_lake, "--movies", str(movies), "--series", str(series)
    )

    assert code == 1
    assert [o["state"] for o in manifest["objects"]] == ["conflict", "written"]
    assert profiling.still_running_at_each_start[-2:] == [0, 0]


def test_the_first_big_file_is_being_profiled_while_the_lake_opens(
    clean_env: Path, tmp_path: Path, profiling: ProfilingProcesses
) -> None:
    from cinelake.csv_ingest.run import CsvIngestRequest, CsvSource, ingest_csv

    movies = write(tmp_path / "in", "movies.csv", HEADER + b"tt1|a|1998\n")
    started_when_opened: list[int] = []

    def open_lake_later() -> LocalDirStore:
        started_when_opened.append(len(profiling.started))
        return LocalDirStore(tmp_path / "lake")

    request = CsvIngestRequest((CsvSource("Movies", movies),), run_date=date(2025, 5, 2))
    manifest = ingest_csv(request, open_lake_later)

    assert started_when_opened == [1]
    assert manifest.objects[0].records == 1


def test_strict_fails_a_file_that_changed_into_an_anomalous_one_after_the_check(
    capsys: pytest.CaptureFixture[str],
    local_lake: Lake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A small file changed (same size) between the strict check and its upload."""
    from cinelake.csv_ingest import run

    source = write(tmp_path / "in", "movies.csv", HEADER + b"tt1|Sao|1998\n")
    checked = run.profile_path

    def check_then_change(path: Path) -> Any:
        profile = checked(path)
        path.write_bytes(HEADER + b"tt1|S\xe3o|1998\n")
        return profile

    monkeypatch.setattr(run, "profile_path", check_then_change)

    code, manifest, err = ingest_json(capsys, local_lake, "--movies", str(source), "--strict")

    entry = manifest["objects"][0]
    assert code == 1
    assert entry["state"] == "failed"
    assert "changed after the --strict check" in entry["error"]
    assert entry["details"]["observed"]["invalid_utf8_lines"] == 1
    assert "not valid UTF-8" in err


def test_a_lake_that_cannot_be_opened_leaves_no_profiling_process_behind(
    capsys: pytest.CaptureFixture[str],
    clean_env: Path,
    request: pytest.FixtureRequest,
    profiling: ProfilingProcesses,
) -> None:
    lake = open_lake("moto", request, clean_env)
    source = write(clean_env / "in", "movies.csv", HEADER + b"tt1|a|1998\n")
    env = {"NOME_DO_BUCKET_S3": "no-such-bucket-cinelake"}

    code, _, err = ingest(capsys, lake, "--movies", str(source), env=env)

    assert code == 2
    assert "does not exist" in err
    assert len(profiling.started) == 1
    assert profiling.started[0].returncode is not None


# Through a real process -----------------------------------------------------------------------


def test_python_dash_m_cinelake_lands_the_file_from_a_separate_process(
    clean_env: Path, request: pytest.FixtureRequest
) -> None:
    lake = open_lake("moto", request, clean_env)
    data = NASTY["no_final_newline"]
    source = write(clean_env / "in", "movies.csv", data)

    done = subprocess.run(
        [sys.executable, "-m", "cinelake", "ingest-csv", "--date", "2025-05-02", "--json"],
        env={**os.environ, **lake.env, "CAMINHO_DO_ARQUIVO_LOCAL_MOVIES": str(source)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "succeeded"
    assert lake.get(csv_key("movies.csv")) == data


def run_with_stderr_on_a_terminal(command: list[str], env: dict[str, str]) -> tuple[int, str]:
    main_fd, terminal_fd = pty.openpty()
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=terminal_fd
    )
    os.close(terminal_fd)
    seen = b""
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(main_fd)
    process.communicate(timeout=60)
    return process.returncode, seen.decode("utf-8", "replace")


def test_progress_bar_is_drawn_when_stderr_is_a_terminal(clean_env: Path) -> None:
    source = write(clean_env / "in", "movies.csv", HEADER * 1000)
    command = [sys.executable, "-m", "cinelake", "ingest-csv", "--movies", str(source)]
    env = {**os.environ, "CINELAKE_LAKE": str(clean_env / "lake")}

    code, terminal = run_with_stderr_on_a_terminal(command, env)

    assert code == 0
    assert "\r" in terminal
    assert "100.0%" in terminal
    assert "ETA" in terminal


def test_no_progress_bar_when_stderr_is_not_a_terminal(clean_env: Path) -> None:
    source = write(clean_env / "in", "movies.csv", HEADER * 1000)
    done = subprocess.run(
        [sys.executable, "-m", "cinelake", "ingest-csv", "--movies", str(source)],
        env={**os.environ, "CINELAKE_LAKE": str(clean_env / "lake")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert "\r" not in done.stderr + done.stdout
    assert "ETA" not in done.stderr + done.stdout


def test_a_terminal_that_goes_away_mid_upload_does_not_fail_the_upload(tmp_path: Path) -> None:
    from cinelake.cli.progress import terminal_progress
    from cinelake.csv_ingest.run import CsvIngestRequest, CsvSource, ingest_csv

    class HungUpTerminal(io.StringIO):
        def isatty(self) -> bool:
            return True

        def write(self, text: str) -> int:
            raise OSError(errno.EIO, "Input/output error")

    source = write(tmp_path / "in", "movies.csv", HEADER + b"tt1|a|1998\n")
    request = CsvIngestRequest((CsvSource("Movies", source),), run_date=date(2025, 5, 2))

    manifest = ingest_csv(
        request, LocalDirStore(tmp_path / "lake"), progress=terminal_progress(HungUpTerminal())
    )

    assert manifest.objects[0].state == "written"


def test_dry_run_predicts_a_conflict_for_different_bytes_at_a_landed_key(
    capsys: pytest.CaptureFixture[str], lake_local_or_moto: Lake, tmp_path: Path
) -> None:
    lake = lake_local_or_moto
    ingest(capsys, lake, "--movies", str(write(tmp_path / "a", "movies.csv", HEADER + b"1\n")))
    code, manifest, _ = ingest_json(
        capsys,
        lake,
        "--movies",
        str(write(tmp_path / "b", "movies.csv", HEADER + b"2\n")),
        "--dry-run",
    )
    assert manifest["objects"][0]["state"] == "conflict"
    assert code == 1
