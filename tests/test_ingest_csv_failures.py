"""`cinelake ingest-csv` when things go wrong: bad input, racing writers, interrupted uploads.

Bad input is exit 2 with one line naming the input, and nothing in the lake. A race leaves one
writer's bytes whole. An interrupted upload leaves nothing visible and a re-run lands it.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import SECRET_KEY, S3Endpoint, free_port, new_bucket
from lakes import Lake, csv_key, open_lake

from cinelake.cli import main
from cinelake.csv_ingest.run import CsvIngestRequest, CsvSource, ingest_csv
from cinelake.errors import ObjectConflict
from cinelake.settings import load_settings
from cinelake.store import LocalDirStore, S3Store, Store, s3_client
from cinelake.store.base import Landed
from cinelake.store.s3 import MIB, TransferSettings

HEADER = b"id|tituloPincipal|anoLancamento\n"
INGEST = [sys.executable, "-m", "cinelake", "ingest-csv", "--date", "2025-05-02"]


@pytest.fixture
def moto_lake(request: pytest.FixtureRequest, clean_env: Path, tmp_path: Path) -> Lake:
    return open_lake("moto", request, tmp_path)


@pytest.fixture
def movies(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "movies.csv"
    path.parent.mkdir()
    path.write_bytes(HEADER + b"tt1|Central do Brasil|1998\n")
    return path


def ingest(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], *args: str
) -> tuple[int, str, str]:
    code = main(["ingest-csv", "--date", "2025-05-02", *args], environ=env)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(err: str, *names: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("cinelake: error: ")
    for name in names:
        assert name in lines[0]
    assert SECRET_KEY not in err


# Bad input: exit 2, one line, nothing written -------------------------------------------------


def test_missing_file_is_refused_naming_it(
    capsys: pytest.CaptureFixture[str], moto_lake: Lake, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "movies.csv"
    code, _, err = ingest(capsys, moto_lake.env, "--movies", str(missing))
    assert code == 2
    assert_one_error_line(err, str(missing), "no such file")
    assert moto_lake.keys() == []


def test_directory_is_refused_naming_it(
    capsys: pytest.CaptureFixture[str], moto_lake: Lake, tmp_path: Path
) -> None:
    folder = tmp_path / "a-folder.csv"
    folder.mkdir()
    code, _, err = ingest(capsys, moto_lake.env, "--movies", str(folder))
    assert code == 2
    assert_one_error_line(err, str(folder), "is a directory")
    assert moto_lake.keys() == []


def test_named_pipe_is_refused_without_reading_it(
    capsys: pytest.CaptureFixture[str], moto_lake: Lake, tmp_path: Path
) -> None:
    """A pipe read by the checks would land what is left of it: an empty or cut object."""
    pipe = tmp_path / "movies.csv"
    os.mkfifo(pipe)
    code, _, err = ingest(capsys, moto_lake.env, "--movies", str(pipe))
    assert code == 2
    assert_one_error_line(err, str(pipe), "not a regular file")
    assert moto_lake.keys() == []


def test_unreadable_file_is_refused_naming_it(
    capsys: pytest.CaptureFixture[str],
    moto_lake: Lake,
    movies: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    movies.chmod(0)
    if os.geteuid() == 0:  # root reads any file whatever its mode: deny it as the kernel would
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda path, mode: Path(path) != movies and real_access(path, mode)
        )
    try:
        code, _, err = ingest(capsys, moto_lake.env, "--movies", str(movies))
    finally:
        movies.chmod(0o644)
    assert code == 2
    assert_one_error_line(err, str(movies), "not readable")
    assert moto_lake.keys() == []


def test_empty_file_is_refused_naming_it(
    capsys: pytest.CaptureFixture[str], moto_lake: Lake, tmp_path: Path
) -> None:
    empty = tmp_path / "movies.csv"
    empty.write_bytes(b"")
    code, _, err = ingest(capsys, moto_lake.env, "--movies", str(empty))
    assert code == 2
    assert_one_error_line(err, str(empty), "empty")
    assert moto_lake.keys() == []


def test_a_file_name_with_accents_or_spaces_is_refused_with_a_name_to_use(
    capsys: pytest.CaptureFixture[str], moto_lake: Lake, tmp_path: Path
) -> None:
    """`ação` typed on macOS (NFD) and on Linux (NFC) are different keys for the same file."""
    accented = tmp_path / "filmes ação.csv"
    accented.write_bytes(b"id|titulo\ntt1|Central do Brasil\n")
    code, _, err = ingest(capsys, moto_lake.env, "--movies", str(accented))
    assert code == 2
    assert_one_error_line(err, str(accented), "no accents or spaces", "filmes-acao.csv")
    assert moto_lake.keys() == []


def test_unknown_dataset_is_refused_naming_it(
    capsys: pytest.CaptureFixture[str], moto_lake: Lake, movies: Path
) -> None:
    code, _, err = ingest(capsys, moto_lake.env, "--file", f"Films={movies}")
    assert code == 2
    assert_one_error_line(err, "Films", "Movies or Series")
    assert moto_lake.keys() == []


def test_file_option_without_a_path_is_refused(
    capsys: pytest.CaptureFixture[str], moto_lake: Lake
) -> None:
    code, _, err = ingest(capsys, moto_lake.env, "--file", "Movies")
    assert code == 2
    assert_one_error_line(err, "DATASET=PATH")


def test_no_file_at_all_is_refused_naming_the_variables(
    capsys: pytest.CaptureFixture[str], moto_lake: Lake
) -> None:
    code, _, err = ingest(capsys, moto_lake.env)
    assert code == 2
    assert_one_error_line(err, "CAMINHO_DO_ARQUIVO_LOCAL_MOVIES")
    assert moto_lake.keys() == []


def test_two_files_for_the_same_key_are_refused_before_anything_lands(
    capsys: pytest.CaptureFixture[str], moto_lake: Lake, movies: Path, tmp_path: Path
) -> None:
    twin = tmp_path / "other" / "movies.csv"
    twin.parent.mkdir()
    twin.write_bytes(HEADER)
    code, _, err = ingest(
        capsys, moto_lake.env, "--movies", str(movies), "--file", f"Movies={twin}"
    )
    assert code == 2
    assert_one_error_line(err, str(twin), "same key")
    assert moto_lake.keys() == []


def test_bad_second_file_stops_the_run_before_the_first_lands(
    capsys: pytest.CaptureFixture[str], moto_lake: Lake, movies: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "series.csv"
    code, _, err = ingest(capsys, moto_lake.env, "--movies", str(movies), "--series", str(missing))
    assert code == 2
    assert_one_error_line(err, str(missing))
    assert moto_lake.keys() == []


def test_bucket_that_does_not_exist_is_refused_naming_it(
    capsys: pytest.CaptureFixture[str], moto_lake: Lake, movies: Path
) -> None:
    env = moto_lake.env | {"NOME_DO_BUCKET_S3": "no-such-bucket-cinelake"}
    code, _, err = ingest(capsys, env, "--movies", str(movies))
    assert code == 2
    assert_one_error_line(err, "no-such-bucket-cinelake", "does not exist")
    buckets = [b["Name"] for b in moto_lake.client.list_buckets()["Buckets"]]
    assert "no-such-bucket-cinelake" not in buckets


def bucket_without_keys(lake: Lake) -> dict[str, str]:
    """The lake's endpoint and bucket, and no credentials at all."""
    return {name: lake.env[name] for name in ("AWS_ENDPOINT_URL_S3", "NOME_DO_BUCKET_S3")}


def test_no_credentials_is_refused_saying_which_variables_to_set(
    capsys: pytest.CaptureFixture[str], moto_lake: Lake, movies: Path
) -> None:
    env = bucket_without_keys(moto_lake) | {"REGIAO_DO_BUCKET": "us-east-1"}
    code, _, err = ingest(capsys, env, "--movies", str(movies))
    assert code == 2
    assert_one_error_line(err, "no AWS credentials", "aws_access_key_id")
    assert moto_lake.keys() == []


SSO_CONFIG = """\
[profile compass-sso]
sso_session = compass
sso_account_id = 123456789012
sso_role_name = DataEngineer
region = us-east-1

[sso-session compass]
sso_start_url = https://compass.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access
"""


def test_sso_profile_never_logged_in_is_refused_saying_how_to_log_in(
    capsys: pytest.CaptureFixture[str],
    moto_lake: Lake,
    movies: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """botocore looks for the cached SSO token on disk first: no network is needed to fail."""
    config = tmp_path / "aws-config"
    config.write_text(SSO_CONFIG)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    env = bucket_without_keys(moto_lake) | {"NOME_DO_PERFIL_SSO": "compass-sso"}
    code, _, err = ingest(capsys, env, "--movies", str(movies))
    assert code == 2
    assert_one_error_line(err, "aws sso login --profile")
    assert moto_lake.keys() == []


def test_wrong_secret_key_is_refused_without_printing_it(
    capsys: pytest.CaptureFixture[str],
    clean_env: Path,
    request: pytest.FixtureRequest,
    movies: Path,
) -> None:
    """moto accepts any key; rclone checks them, so the denial is exercised there."""
    lake = open_lake("rclone", request, clean_env)
    env = lake.env | {"AWS_SECRET_ACCESS_KEY": "wrong-secret-value-1234"}
    code, _, err = ingest(capsys, env, "--movies", str(movies))
    assert code == 2
    assert_one_error_line(err, str(lake.bucket), "denied")
    assert "wrong-secret-value-1234" not in err
    assert lake.keys() == []


def test_endpoint_down_is_refused_naming_the_endpoint(
    capsys: pytest.CaptureFixture[str], moto_lake: Lake, movies: Path
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    env = moto_lake.env | {"AWS_ENDPOINT_URL_S3": down}
    code, _, err = ingest(capsys, env, "--movies", str(movies))
    assert code == 2
    assert_one_error_line(err, down, "AWS_ENDPOINT_URL_S3")
    assert moto_lake.keys() == []


def test_malformed_date_is_a_usage_error_naming_the_value(
    capsys: pytest.CaptureFixture[str], moto_lake: Lake, movies: Path
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["ingest-csv", "--movies", str(movies), "--date", "2025-5-32"], environ=moto_lake.env)
    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert len(err.strip().splitlines()) == 1
    assert "'2025-5-32' is not a date; use YYYY-MM-DD" in err
    assert SECRET_KEY not in err
    assert moto_lake.keys() == []


def test_contradictory_settings_are_one_line_naming_both_variables(
    capsys: pytest.CaptureFixture[str], moto_lake: Lake, movies: Path
) -> None:
    env = moto_lake.env | {"aws_secret_access_key": "another-secret-value"}
    code, _, err = ingest(capsys, env, "--movies", str(movies))
    assert code == 2
    assert_one_error_line(err, "aws_secret_access_key", "AWS_SECRET_ACCESS_KEY")
    assert "another-secret-value" not in err
    assert moto_lake.keys() == []


def test_missing_env_file_is_one_line_naming_it(
    capsys: pytest.CaptureFixture[str], moto_lake: Lake, movies: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "absent.env"
    code, _, err = ingest(
        capsys, moto_lake.env, "--movies", str(movies), "--env-file", str(missing)
    )
    assert code == 2
    assert_one_error_line(err, str(missing))


def test_a_file_that_fails_to_land_is_recorded_and_the_others_keep_their_manifest(
    capsys: pytest.CaptureFixture[str],
    clean_env: Path,
    request: pytest.FixtureRequest,
    movies: Path,
    tmp_path: Path,
) -> None:
    """A real refusal by the lake: a file sits where the Series folder must be created."""
    lake = open_lake("local", request, clean_env)
    assert lake.root is not None
    blocker = lake.root / "Raw" / "Local" / "CSV" / "Series"
    blocker.parent.mkdir(parents=True)
    blocker.write_bytes(b"not a folder")
    series = tmp_path / "in" / "series.csv"
    series.write_bytes(HEADER + b"tt2|Cidade dos Homens|2002\n")

    code, out, err = ingest(
        capsys, lake.env, "--json", "--movies", str(movies), "--series", str(series)
    )

    manifest = json.loads(out)
    states = {o["key"]: (o["state"], o["error"]) for o in manifest["objects"]}
    assert code == 1
    assert manifest["status"] == "partial"
    assert states[csv_key("movies.csv")] == ("written", None)
    state, error = states[csv_key("series.csv", "Series")]
    assert state == "failed"
    assert "nothing is visible at the key" in error
    assert len(lake.manifest_keys()) == 1
    assert SECRET_KEY not in err


def test_a_path_from_the_env_file_is_named_with_its_variable(
    capsys: pytest.CaptureFixture[str], moto_lake: Lake, tmp_path: Path
) -> None:
    missing = tmp_path / "srv" / "movies.csv"
    env = moto_lake.env | {"CAMINHO_DO_ARQUIVO_LOCAL_MOVIES": str(missing)}
    code, _, err = ingest(capsys, env)
    assert code == 2
    assert_one_error_line(err, str(missing), "CAMINHO_DO_ARQUIVO_LOCAL_MOVIES", "no such file")


def test_bytes_replaced_between_upload_and_check_fail_the_file_and_delete_nothing(
    capsys: pytest.CaptureFixture[str],
    moto_lake: Lake,
    movies: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another writer, on an endpoint that takes the write, swaps the bytes before the HEAD."""
    real_write = S3Store._write_bytes
    intruder = b"id|tituloPincipal|anoLancamento\ntt9|Outro filme|2001\n"

    def write_then_swap(self: S3Store, key: str, data: bytes, *args: Any, **kw: Any) -> Any:
        version = real_write(self, key, data, *args, **kw)
        if key.startswith("Raw/Local/CSV/"):
            moto_lake.client.put_object(
                Bucket=moto_lake.bucket, Key=key, Body=intruder, ChecksumAlgorithm="CRC64NVME"
            )
        return version

    monkeypatch.setattr(S3Store, "_write_bytes", write_then_swap)
    code, out, err = ingest(capsys, moto_lake.env, "--json", "--movies", str(movies))

    entry = json.loads(out)["objects"][0]
    assert code == 1
    assert entry["state"] == "failed"
    assert "differs from the one computed locally" in entry["error"]
    assert "nothing was deleted" in entry["error"]
    assert moto_lake.get(csv_key("movies.csv")) == intruder, "what is in the lake stays"
    assert SECRET_KEY not in err


def test_bad_input_on_the_local_lake_lands_nothing(
    capsys: pytest.CaptureFixture[str], clean_env: Path, request: pytest.FixtureRequest
) -> None:
    lake = open_lake("local", request, clean_env)
    empty = clean_env / "movies.csv"
    empty.write_bytes(b"")
    code, _, err = ingest(capsys, lake.env, "--movies", str(empty))
    assert code == 2
    assert_one_error_line(err, str(empty))
    assert lake.keys() == []


def test_verbose_failure_still_never_prints_the_secret_key(
    capsys: pytest.CaptureFixture[str], moto_lake: Lake, movies: Path
) -> None:
    env = moto_lake.env | {"NOME_DO_BUCKET_S3": "no-such-bucket-cinelake"}
    code, _, err = ingest(capsys, env, "--movies", str(movies), "-vv")
    assert code == 2
    assert SECRET_KEY not in err


# Two writers racing for one key ---------------------------------------------------------------


def _race_store(kind: str, endpoint: S3Endpoint | None, bucket: str, root: Path) -> Store:
    if kind == "local":
        return LocalDirStore(root)
    assert endpoint is not None
    client = s3_client(load_settings(environ=endpoint.env()))
    return S3Store(
        client,  # type: ignore[arg-type]
        bucket,
        # moto lists every upload as initiated in 2010, so with the default stale age each
        # writer's sweep would abort the other's live upload; real S3 reports real times.
        transfer=TransferSettings(part_size=5 * MIB, stale_upload_age=timedelta(days=36500)),
        custom_endpoint=True,
    )


def race(stores: list[Store], key: str, files: list[Path]) -> list[Landed | Exception]:
    """The worst interleaving, made deterministic: both writers find the key free, then the
    first finishes its write before the second one's write reaches the lake.

    The tap sees each chunk after the existence check and before the (conditional) write.
    """
    second_checked = threading.Event()
    first_done = threading.Event()
    results: list[Landed | Exception] = [RuntimeError("not run"), RuntimeError("not run")]

    def first_tap(_chunk: bytes) -> None:
        assert second_checked.wait(timeout=30)

    def second_tap(_chunk: bytes) -> None:
        second_checked.set()
        assert first_done.wait(timeout=30)

    def writer(index: int, tap: Any) -> None:
        try:
            results[index] = stores[index].put_file(key, files[index], tap=tap)
        except Exception as exc:
            results[index] = exc
        finally:
            if index == 0:
                first_done.set()
            second_checked.set()

    threads = [
        threading.Thread(target=writer, args=(0, first_tap)),
        threading.Thread(target=writer, args=(1, second_tap)),
    ]
    threads[0].start()
    time.sleep(0)  # order does not matter: the events do
    threads[1].start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture(params=["local", "moto"])
def race_stores(
    request: pytest.FixtureRequest, clean_env: Path, tmp_path: Path
) -> tuple[list[Store], Store]:
    kind = request.param
    endpoint = request.getfixturevalue("moto_endpoint") if kind == "moto" else None
    bucket = new_bucket(endpoint) if endpoint else ""
    stores = [_race_store(kind, endpoint, bucket, tmp_path / "lake") for _ in range(2)]
    return stores, stores[0]


@pytest.mark.parametrize("size", [4096, 12 * MIB], ids=["single-part", "multipart"])
def test_two_writers_racing_with_different_bytes_one_writes_one_conflicts(
    race_stores: tuple[list[Store], Store], tmp_path: Path, size: int
) -> None:
    stores, reader = race_stores
    files = []
    for name in ("a", "b"):
        path = tmp_path / name / "movies.csv"
        path.parent.mkdir()
        path.write_bytes(name.encode() * size)
        files.append(path)

    results = race(stores, "Raw/Local/CSV/Movies/2025/05/02/movies.csv", files)

    assert isinstance(results[0], Landed)
    assert results[0].state == "written"
    assert isinstance(results[1], ObjectConflict), results[1]
    assert "another writer" in str(results[1])
    assert reader.get_bytes("Raw/Local/CSV/Movies/2025/05/02/movies.csv") == files[0].read_bytes()


def test_two_writers_racing_with_the_same_bytes_one_writes_one_is_unchanged(
    race_stores: tuple[list[Store], Store], movies: Path
) -> None:
    stores, reader = race_stores
    results = race(stores, "Raw/x/movies.csv", [movies, movies])
    states = [r.state if isinstance(r, Landed) else repr(r) for r in results]
    assert states == ["written", "unchanged"]
    assert reader.get_bytes("Raw/x/movies.csv") == movies.read_bytes()


def test_two_processes_racing_for_one_key_leave_one_files_bytes_whole(
    clean_env: Path, request: pytest.FixtureRequest
) -> None:
    lake = open_lake("moto", request, clean_env)
    files = []
    for name in ("a", "b"):
        path = clean_env / name / "movies.csv"
        path.parent.mkdir()
        path.write_bytes(HEADER + name.encode() * 100_000 + b"\n")
        files.append(path)
    command = [sys.executable, "-m", "cinelake", "ingest-csv", "--date", "2025-05-02", "-q"]
    env = {**os.environ, **lake.env}
    writers = [
        subprocess.Popen(
            [*command, "--movies", str(path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in files
    ]
    outcomes = [(w.wait(timeout=60), w.communicate()[1]) for w in writers]

    assert sorted(code for code, _ in outcomes) == [0, 1]
    loser_err = next(err for code, err in outcomes if code == 1)
    assert "conflict" in loser_err
    landed = lake.get(csv_key("movies.csv"))
    assert landed in {path.read_bytes() for path in files}
    assert landed == files[[code for code, _ in outcomes].index(0)].read_bytes()


# Interrupted uploads --------------------------------------------------------------------------


def start_upload(lake: Lake, source: Path, **extra: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        **lake.env,
        "CINELAKE_PART_SIZE_MIB": "5",
        "CINELAKE_MAX_CONCURRENCY": "1",
        **extra,
    }
    return subprocess.Popen(
        [*INGEST, "--movies", str(source)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_upload_in_progress(client: Any, bucket: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if client.list_multipart_uploads(Bucket=bucket).get("Uploads"):
            return
        if process.poll() is not None:
            pytest.fail(f"the upload ended before it could be interrupted: {process.stderr}")
        time.sleep(0.01)
    process.kill()
    pytest.fail("no multipart upload started")


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "movies.csv"
    row = b"tt0000001|Central do Brasil|Central do Brasil|1998|110|Drama|8.0|40000|actress|Dora|\n"
    path.write_bytes(HEADER + row * (30 * MIB // len(row)))
    return path


@pytest.fixture
def killed_upload(moto_lake: Lake, big_csv: Path) -> Lake:
    """A run SIGKILLed after its multipart upload began: no cleanup code ran."""
    process = start_upload(moto_lake, big_csv)
    wait_for_upload_in_progress(moto_lake.client, moto_lake.bucket, process)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    return moto_lake


def test_killed_upload_leaves_no_object_visible_at_the_key(killed_upload: Lake) -> None:
    lake = killed_upload
    assert lake.data_keys() == []
    uploads = lake.client.list_multipart_uploads(Bucket=lake.bucket)["Uploads"]
    assert [u["Key"] for u in uploads] == [csv_key("movies.csv")]


def test_rerun_after_a_kill_lands_the_file_byte_for_byte(
    capsys: pytest.CaptureFixture[str], killed_upload: Lake, big_csv: Path
) -> None:
    lake = killed_upload
    code, _, _ = ingest(
        capsys, lake.env | {"CINELAKE_PART_SIZE_MIB": "5"}, "--movies", str(big_csv)
    )
    assert code == 0
    assert lake.get(csv_key("movies.csv")) == big_csv.read_bytes()


def test_run_leaves_a_recent_incomplete_upload_of_its_key_alone(
    capsys: pytest.CaptureFixture[str],
    clean_env: Path,
    request: pytest.FixtureRequest,
    big_csv: Path,
) -> None:
    """Younger than the stale age (1 hour), it could be another writer still at work.

    Checked on rclone: moto reports every upload as initiated in 2010, hence always stale.
    """
    lake = open_lake("rclone", request, clean_env)
    other = lake.client.create_multipart_upload(Bucket=lake.bucket, Key=csv_key("movies.csv"))

    code, _, _ = ingest(
        capsys, lake.env | {"CINELAKE_PART_SIZE_MIB": "5"}, "--movies", str(big_csv)
    )

    uploads = lake.client.list_multipart_uploads(Bucket=lake.bucket).get("Uploads", [])
    assert code == 0
    assert lake.get(csv_key("movies.csv")) == big_csv.read_bytes()
    assert [u["UploadId"] for u in uploads] == [other["UploadId"]]


def test_rerun_aborts_an_incomplete_upload_older_than_the_stale_age(
    killed_upload: Lake, big_csv: Path
) -> None:
    lake = killed_upload
    assert lake.endpoint is not None
    store = S3Store(
        s3_client(load_settings(environ=lake.endpoint.env())),  # type: ignore[arg-type]
        str(lake.bucket),
        transfer=TransferSettings(part_size=5 * MIB, stale_upload_age=timedelta(0)),
        custom_endpoint=True,
    )

    landed = store.put_file(csv_key("movies.csv"), big_csv)

    assert landed.state == "written"
    assert lake.client.list_multipart_uploads(Bucket=lake.bucket).get("Uploads", []) == []
    assert lake.get(csv_key("movies.csv")) == big_csv.read_bytes()


def test_server_stopped_mid_upload_fails_the_run_with_one_error_line(
    clean_env: Path, big_csv: Path
) -> None:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = S3Endpoint("moto-doomed", f"http://{host}:{port}", conditional_writes=True)
    bucket = new_bucket(endpoint)
    lake = Lake("moto", endpoint.env() | {"NOME_DO_BUCKET_S3": bucket}, bucket=bucket)
    lake.endpoint = endpoint
    process = start_upload(lake, big_csv)
    try:
        wait_for_upload_in_progress(lake.client, bucket, process)
    finally:
        server.stop()
    _, err = process.communicate(timeout=120)

    errors = [line for line in err.splitlines() if line.startswith("cinelake: error: ")]
    assert process.returncode == 1
    assert "Traceback" not in err
    assert len(errors) == 1
    assert csv_key("movies.csv") in errors[0]
    assert "re-run" in errors[0]
    assert SECRET_KEY not in err


@pytest.fixture
def movies_then_series(clean_env: Path, movies: Path, tmp_path: Path) -> CsvIngestRequest:
    """Two small files landed in one run, Movies first, to the day `DAY`."""
    from lakes import DAY

    series = tmp_path / "in" / "series.csv"
    series.write_bytes(HEADER + b"tt2|Cidade dos Homens|2002\n")
    return CsvIngestRequest(
        sources=(CsvSource("Movies", movies), CsvSource("Series", series)), run_date=DAY
    )


@pytest.mark.parametrize("stop", [KeyboardInterrupt, RuntimeError], ids=["ctrl-c", "a-bug"])
def test_a_run_stopped_between_files_still_writes_the_manifest_of_what_landed(
    movies_then_series: CsvIngestRequest, tmp_path: Path, stop: type[BaseException]
) -> None:
    """A Ctrl-C or an unforeseen error must not leave landed objects that no manifest names."""
    store = LocalDirStore(tmp_path / "lake")

    def stop_on_series(key: str, size: int) -> Any:
        if "/Series/" in key:
            raise stop
        return lambda advanced: None

    with pytest.raises(stop):
        ingest_csv(movies_then_series, store, progress=stop_on_series)

    manifests = list(store.list("Raw/_manifests/"))
    manifest = json.loads(store.get_bytes(manifests[0].key))
    assert len(manifests) == 1
    assert manifest["status"] == "partial"
    assert [o["key"] for o in manifest["objects"]] == [csv_key("movies.csv")]
    assert "after 1 of 2 files" in manifest["notes"][0]
    assert [o.key for o in store.list("Raw/Local/")] == [csv_key("movies.csv")]


def test_a_stop_after_an_object_landed_but_before_its_profile_still_lists_it(
    movies_then_series: CsvIngestRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big file's profile may still be running when its upload ends: a stop then lists it."""
    from cinelake.csv_ingest import run

    store = LocalDirStore(tmp_path / "lake")
    real_record = run._record_landed

    def landed_then_ctrl_c(entry: Any, landed: Any) -> None:
        real_record(entry, landed)
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "_record_landed", landed_then_ctrl_c)

    with pytest.raises(KeyboardInterrupt):
        ingest_csv(movies_then_series, store, progress=None)

    [manifest_info] = list(store.list("Raw/_manifests/"))
    [listed] = json.loads(store.get_bytes(manifest_info.key))["objects"]
    assert (listed["key"], listed["state"]) == (csv_key("movies.csv"), "written")
    assert "its profile was not finished" in listed["details"]["stopped"]


# Sources that change under a run, and the profiling process -----------------------------------


def test_a_file_deleted_after_the_checks_is_failed_and_the_others_still_land(
    movies_then_series: CsvIngestRequest, tmp_path: Path
) -> None:
    store = LocalDirStore(tmp_path / "lake")

    def delete_series_once_movies_starts(key: str, size: int) -> Any:
        movies_then_series.sources[1].path.unlink(missing_ok=True)
        return lambda advanced: None

    manifest = ingest_csv(movies_then_series, store, progress=delete_series_once_movies_starts)

    assert [o.state for o in manifest.objects] == ["written", "failed"]
    assert "could not be read any more" in (manifest.objects[1].error or "")
    assert [o.key for o in store.list("Raw/_manifests/")] == [manifest.key]


@pytest.fixture
def start_profiling_with(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[..., Any]], None]:
    """Every file counts as big; the test says what starting its profiling process does."""
    from cinelake.csv_ingest import run

    monkeypatch.setattr(run, "PROCESS_PROFILE_BYTES", 0)
    return lambda start: monkeypatch.setattr(run.subprocess, "Popen", start)


def test_a_failed_profiling_process_under_strict_fails_that_file_only(
    capsys: pytest.CaptureFixture[str],
    clean_env: Path,
    movies: Path,
    tmp_path: Path,
    start_profiling_with: Callable[[Callable[..., Any]], None],
) -> None:
    from lakes import DAY

    from cinelake.lake.layout import manifest_key

    series = tmp_path / "in" / "series.csv"
    series.write_bytes(HEADER + b"tt2|Cidade dos Homens|2002\n")
    real_popen = subprocess.Popen

    def failing_for_series(argv: list[str], **kwargs: Any) -> Any:
        if str(series) in argv:  # the profiling process of series.csv dies at once
            argv = [sys.executable, "-c", "raise SystemExit('disk error')"]
        return real_popen(argv, **kwargs)

    start_profiling_with(failing_for_series)
    env = {"CINELAKE_LAKE": str(tmp_path / "lake")}

    code, out, _ = ingest(
        capsys, env, "--movies", str(movies), "--series", str(series), "--strict", "--json"
    )

    manifest = json.loads(out)
    assert code == 1
    assert [o["state"] for o in manifest["objects"]] == ["written", "failed"]
    assert "the profiling process failed (disk error)" in manifest["objects"][1]["error"]
    assert [o.key for o in LocalDirStore(tmp_path / "lake").list("Raw/_manifests/")] == [
        manifest_key(DAY, manifest["run_id"])
    ]


def test_a_file_is_profiled_beside_its_upload_when_no_process_can_be_started(
    capsys: pytest.CaptureFixture[str],
    clean_env: Path,
    movies: Path,
    tmp_path: Path,
    start_profiling_with: Callable[[Callable[..., Any]], None],
) -> None:
    def no_more_processes(*args: Any, **kwargs: Any) -> Any:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    start_profiling_with(no_more_processes)
    env = {"CINELAKE_LAKE": str(tmp_path / "lake")}

    code, out, err = ingest(capsys, env, "--movies", str(movies), "--json")

    assert code == 0
    assert json.loads(out)["objects"][0]["records"] == 1
    assert "profiling beside the upload" in err


def test_a_profiling_process_that_answers_garbage_fails_the_file_not_the_run(
    capsys: pytest.CaptureFixture[str],
    clean_env: Path,
    movies: Path,
    tmp_path: Path,
    start_profiling_with: Callable[[Callable[..., Any]], None],
) -> None:
    real_popen = subprocess.Popen

    def garbage(argv: list[str], **kwargs: Any) -> Any:
        return real_popen([sys.executable, "-c", "print('not json')"], **kwargs)

    start_profiling_with(garbage)
    env = {"CINELAKE_LAKE": str(tmp_path / "lake")}

    code, out, _ = ingest(capsys, env, "--movies", str(movies), "--json")

    entry = json.loads(out)["objects"][0]
    assert code == 1
    assert entry["state"] == "failed"
    assert "answered something unreadable" in entry["error"]


def process_has_ended(pid: int) -> bool:
    """Gone, or a zombie nobody reaped (an orphan whose init does not reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


def test_the_profiling_process_stops_when_cinelake_is_gone(tmp_path: Path) -> None:
    """It waits on a FIFO nobody writes, so only the end of its parent can stop it."""
    fifo = tmp_path / "movies.csv"
    os.mkfifo(fifo)
    starter = (
        "from pathlib import Path; from cinelake.csv_ingest.run import ProfileProcess; "
        f"print(ProfileProcess(Path({str(fifo)!r}))._process.pid)"
    )
    started = subprocess.run(
        [sys.executable, "-c", starter], check=True, capture_output=True, text=True
    )
    child = int(started.stdout)
    try:
        deadline = time.monotonic() + 60
        while not process_has_ended(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process_has_ended(child)
    finally:
        if not process_has_ended(child):
            os.kill(child, signal.SIGKILL)


def test_closing_a_profile_nobody_will_read_kills_its_process(tmp_path: Path) -> None:
    from cinelake.csv_ingest.run import ProfileProcess

    fifo = tmp_path / "movies.csv"
    os.mkfifo(fifo)  # never written: the process would wait on it forever
    profile = ProfileProcess(fifo)

    profile.close()

    assert profile._process.returncode == -signal.SIGKILL
