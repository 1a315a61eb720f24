"""The TMDB key and read token never appear anywhere: output, logs, manifests, errors, the lake."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from tmdb_fixtures import (  # noqa: F401 - fixtures are found by name
    Lake,
    cli,
    emulator_fixture,
    ingest,
    lake_fixture,
    local_lake_fixture,
    make_emulator_fixture,
    run_process,
    tmdb_argv,
    tmdb_env,
)

from cinelake.errors import CinelakeError, TmdbAuthError
from cinelake.store import LocalDirStore
from cinelake.testing.tmdb_emulator import RESET, TRUNCATE, TmdbEmulator
from cinelake.tmdb import client as client_module
from cinelake.tmdb.client import TmdbClient
from cinelake.tmdb.retry import RetryPolicy

SECRET_KEY = "k3y-SHOULD-NEVER-LEAK-123"
SECRET_TOKEN = "t0ken-SHOULD-NEVER-LEAK-456"
SECRETS = (SECRET_KEY, SECRET_TOKEN)

IDS = "\n".join(
    [
        "movie:550",  # scripted 500 then 429: retried, logged at debug
        "tv:1396",  # scripted reset then truncate
        "tt0137523",
        "tt0000001",  # unknown to TMDB: an errors line
        "movie:999999999",  # 404: an errors line
        "movie:149461",
    ]
)
SCRIPT = {"/3/movie/550": [500, 429], "/3/tv/1396": [RESET, TRUNCATE]}


def assert_absent(where: str, text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    for secret in SECRETS:
        assert secret.encode() not in data, f"{secret} leaked into {where}"


def assert_lake_clean(lake: Lake) -> int:
    """Every key, body and metadata value in the lake; on disk, every file including sidecars."""
    objects = 0
    for info in lake.store.list(""):
        objects += 1
        assert_absent(f"key {info.key}", info.key)
        assert_absent(info.key, lake.store.get_bytes(info.key))
        head = lake.store.head(info.key)
        assert head is not None
        assert_absent(f"metadata of {info.key}", repr(dict(head.metadata)))
    if isinstance(lake.store, LocalDirStore):
        for path in Path(lake.store.root).rglob("*"):
            assert_absent(f"path {path}", str(path))
            if path.is_file():
                assert_absent(str(path), path.read_bytes())
    return objects


def ids_file(tmp_path: Path) -> Path:
    path = tmp_path / "ids.txt"
    path.write_text(IDS + "\n", encoding="utf-8")
    return path


def chatty(lake: Lake, *args: str) -> list[str]:
    """Every channel wide open: debug logs as JSON, and the manifest on stdout."""
    return [*tmdb_argv(lake, *args), "-vv", "--log-format", "json", "--json"]


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process CLI runs retry with the same decisions but without sleeping."""
    monkeypatch.setattr(client_module, "RetryPolicy", functools.partial(RetryPolicy, base_delay=0))


def test_a_full_ingest_with_retries_and_errors_never_leaks_the_api_key(
    lake: Lake, make_emulator: Callable[..., TmdbEmulator], tmp_path: Path
) -> None:
    emulator = make_emulator(api_key=SECRET_KEY, scripted=SCRIPT, retry_after=None)
    env = tmdb_env(emulator, lake, TMDB_API_KEY=SECRET_KEY)
    result = run_process(chatty(lake, "--ids-file", str(ids_file(tmp_path))), env, tmp_path)
    assert result.code == 0, result.err
    assert '"event": "tmdb.retry"' in result.err, "debug logs must have been produced"
    assert result.manifest()["counts"]["not_found"] == 2
    assert result.manifest()["counts"]["http_retries"] >= 4
    assert_absent("stdout", result.out)
    assert_absent("stderr", result.err)
    assert assert_lake_clean(lake) > 5


def test_a_failed_item_never_leaks_the_api_key(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], no_backoff: None
) -> None:
    emulator = make_emulator(api_key=SECRET_KEY, scripted={"/3/movie/550": [503] * 6})
    env = tmdb_env(emulator, local_lake, TMDB_API_KEY=SECRET_KEY)
    result = cli(chatty(local_lake, "--ids", "movie:550,tv:1396"), env)
    assert result.code == 1
    manifest = result.manifest()
    assert manifest["counts"]["failed"] == 1
    assert manifest["options"]["errors_files"]
    assert_absent("stdout", result.out)
    assert_absent("stderr", result.err)
    assert_lake_clean(local_lake)


def test_a_refused_api_key_is_not_echoed(
    local_lake: Lake, emulator: TmdbEmulator, tmp_path: Path
) -> None:
    env = tmdb_env(emulator, local_lake, TMDB_API_KEY=SECRET_KEY)
    result = run_process(chatty(local_lake, "--ids", "movie:550"), env, tmp_path)
    assert result.code == 2
    assert "401" in result.err
    assert_absent("stdout", result.out)
    assert_absent("stderr", result.err)
    assert_lake_clean(local_lake)


def test_a_full_ingest_with_a_bearer_token_never_leaks_it(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], tmp_path: Path
) -> None:
    emulator = make_emulator(read_token=SECRET_TOKEN, scripted=SCRIPT, retry_after=None)
    env = tmdb_env(emulator, local_lake, TMDB_READ_ACCESS_TOKEN=SECRET_TOKEN)
    del env["TMDB_API_KEY"]
    result = run_process(chatty(local_lake, "--ids-file", str(ids_file(tmp_path))), env, tmp_path)
    assert result.code == 0, result.err
    assert_absent("stdout", result.out)
    assert_absent("stderr", result.err)
    assert_lake_clean(local_lake)


def test_a_refused_bearer_token_is_not_echoed(
    local_lake: Lake, emulator: TmdbEmulator, tmp_path: Path
) -> None:
    env = tmdb_env(emulator, local_lake, TMDB_READ_ACCESS_TOKEN=SECRET_TOKEN)
    del env["TMDB_API_KEY"]
    result = run_process(chatty(local_lake, "--ids", "movie:550"), env, tmp_path)
    assert result.code == 2
    assert_absent("stdout", result.out)
    assert_absent("stderr", result.err)


def test_the_auth_error_message_carries_no_credential(emulator: TmdbEmulator) -> None:
    for client in (
        TmdbClient(emulator.base_url, api_key=SECRET_KEY),
        TmdbClient(emulator.base_url, read_token=SECRET_TOKEN),
    ):
        with pytest.raises(TmdbAuthError) as caught:
            client.get("/movie/550", {"append_to_response": "credits"})
        client.close()
        assert_absent("TmdbAuthError", str(caught.value))
        assert_absent("TmdbAuthError repr", repr(caught.value))


def test_an_unreachable_tmdb_is_reported_without_the_key(
    local_lake: Lake, no_backoff: None
) -> None:
    """requests' own messages embed the URL with `api_key=`: they must never surface."""
    client = TmdbClient(
        "http://127.0.0.1:9/3", api_key=SECRET_KEY, policy=RetryPolicy(max_attempts=2, base_delay=0)
    )
    answer = client.get("/movie/550", {"append_to_response": "credits"})
    assert_absent("answer", repr(answer))
    with pytest.raises(CinelakeError) as caught:
        ingest(
            local_lake,
            None,  # type: ignore[arg-type]
            client,
            plan="ids",
            ids=tuple(f"movie:{n}" for n in range(1, 8)),
        )
    client.close()
    assert "cannot reach TMDB" in str(caught.value)
    assert_absent("exception", str(caught.value))
    assert_absent("exception cause", repr(caught.value.__cause__ or caught.value.__context__))


def test_an_unreachable_tmdb_via_the_cli_prints_one_line_without_the_key(
    local_lake: Lake, no_backoff: None
) -> None:
    env = tmdb_env_for_url("http://127.0.0.1:9/3", local_lake)
    result = cli(chatty(local_lake, "--ids", ",".join(f"movie:{n}" for n in range(1, 8))), env)
    assert result.code == 2, result.err
    assert "cannot reach TMDB" in result.err
    assert_absent("stdout", result.out)
    assert_absent("stderr", result.err)
    assert_lake_clean(local_lake)


def tmdb_env_for_url(url: str, lake: Lake) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "TMDB_BASE_URL": url,
        "TMDB_API_KEY": SECRET_KEY,
        **lake.env,
    }


def test_settings_repr_hides_the_credentials() -> None:
    from cinelake.settings import load_settings

    settings = load_settings(
        environ={"TMDB_API_KEY": SECRET_KEY, "TMDB_READ_ACCESS_TOKEN": SECRET_TOKEN}
    )
    assert settings.tmdb_api_key == SECRET_KEY
    assert_absent("Settings repr", repr(settings))
