"""`ingest-tmdb` against a wrong endpoint or odd input: a configuration error, never a title
sealed as "not found", never a traceback.

Each case is exit 2, one line, and nothing in the lake.
"""

from __future__ import annotations

import functools
import signal
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port, signal_self_first
from tmdb_fixtures import (  # noqa: F401 - fixtures are found by name
    API_KEY,
    Lake,
    TmdbEmulator,
    assert_exactly_once,
    cli,
    emulator_fixture,
    holds_only_leases,
    local_lake_fixture,
    make_emulator_fixture,
    manifests,
    tmdb_argv,
    tmdb_env,
)

from cinelake.errors import ConfigError
from cinelake.store.base import Store
from cinelake.tmdb import client as client_module
from cinelake.tmdb.client import TmdbClient
from cinelake.tmdb.retry import RetryPolicy


def assert_refused_with_nothing_written(
    code: int, err: str, lake: Lake, *names: str, lease_taken: bool = False
) -> None:
    """`lease_taken`: refused only once the run held the lake's lease, whose released record
    is all it leaves (`Raw/_state/leases/`); refused before that, the lake is not even made."""
    assert code == 2, err
    [line] = err.strip().splitlines()
    assert line.startswith("cinelake: error: "), err
    for name in names:
        assert name in line, line
    assert "Traceback" not in err
    if lease_taken:
        assert holds_only_leases(lake.store)
    else:
        assert not Path(lake.url).exists()


@pytest.mark.parametrize(
    "plan",
    [
        ("--ids", "movie:550,tv:1396"),
        ("--discover", "movie", "--max-pages", "1"),
        ("--changes", "movie", "--since", "2025-04-30"),
    ],
    ids=["ids", "discover", "changes"],
)
def test_a_base_url_without_the_api_version_seals_nothing_as_not_found(
    local_lake: Lake, emulator: TmdbEmulator, plan: tuple[str, ...]
) -> None:
    wrong = emulator.base_url.removesuffix("/3")
    env = tmdb_env(emulator, local_lake, TMDB_BASE_URL=wrong)

    result = cli(tmdb_argv(local_lake, *plan), env)

    assert_refused_with_nothing_written(
        result.code, result.err, local_lake, "TMDB_BASE_URL", lease_taken=True
    )
    right = cli(tmdb_argv(local_lake, *plan), tmdb_env(emulator, local_lake))
    assert right.code == 0, right.err


def test_a_non_tmdb_404_stops_every_later_request_too(emulator: TmdbEmulator) -> None:
    client = TmdbClient(emulator.base_url.removesuffix("/3"), api_key=API_KEY, rate=10_000)
    for _ in range(2):
        with pytest.raises(ConfigError, match="not TMDB's API"):
            client.get("/movie/550")
    assert emulator.stats().total_requests == 1


def test_tmdbs_own_404_is_still_a_title_not_found(emulator: TmdbEmulator) -> None:
    client = TmdbClient(emulator.base_url, api_key=API_KEY, rate=10_000)
    assert client.get("/movie/999999999").status == 404


@pytest.mark.parametrize(
    "url",
    ["http://[::1/3", "http://127.0.0.1:99999/3", "http://127.0.0.1:0/3"],
    ids=["bad-ipv6", "port-too-big", "port-zero"],
)
def test_a_malformed_base_url_is_refused_before_anything(
    local_lake: Lake, emulator: TmdbEmulator, url: str
) -> None:
    result = cli(
        [*tmdb_argv(local_lake, "--ids", "movie:550"), "--tmdb-base-url", url],
        tmdb_env(emulator, local_lake),
    )
    assert_refused_with_nothing_written(result.code, result.err, local_lake, "TMDB_BASE_URL")


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "RetryPolicy", functools.partial(RetryPolicy, base_delay=0))


@pytest.mark.usefixtures("no_backoff")
@pytest.mark.parametrize(
    "plan", [("--discover", "movie"), ("--changes", "tv", "--since", "2025-04-30")]
)
def test_a_refused_connection_for_page_one_is_a_configuration_error_with_nothing_written(
    local_lake: Lake, emulator: TmdbEmulator, plan: tuple[str, ...]
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/3"
    result = cli(tmdb_argv(local_lake, *plan), tmdb_env(emulator, local_lake, TMDB_BASE_URL=closed))
    assert_refused_with_nothing_written(
        result.code, result.err, local_lake, "cannot reach TMDB", lease_taken=True
    )


def test_an_ids_file_without_read_permission_is_one_line(
    local_lake: Lake, emulator: TmdbEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("movie:550\n")
    real_read = Path.read_bytes

    def denied(self: Path) -> bytes:  # root reads any file: deny it as the kernel would
        if self == ids:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    result = cli(tmdb_argv(local_lake, "--ids-file", str(ids)), tmdb_env(emulator, local_lake))
    assert_refused_with_nothing_written(
        result.code, result.err, local_lake, str(ids), lease_taken=True
    )


@pytest.mark.parametrize("token", ["eyJhbGciOi\u2019", "eyJhbGciOi\nsecond-line"])
def test_a_token_with_a_curly_quote_or_line_break_is_refused_with_nothing_written(
    local_lake: Lake, emulator: TmdbEmulator, token: str
) -> None:
    env = tmdb_env(emulator, local_lake, TMDB_READ_ACCESS_TOKEN=token)
    del env["TMDB_API_KEY"]
    result = cli(tmdb_argv(local_lake, "--ids", "movie:550"), env)
    assert_refused_with_nothing_written(
        result.code, result.err, local_lake, "TMDB_READ_ACCESS_TOKEN"
    )
    assert "eyJhbGciOi" not in result.err


@pytest.mark.usefixtures("no_backoff")
def test_changes_up_to_the_last_date_there_is_are_planned_without_overflow(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    result = cli(
        tmdb_argv(local_lake, "--changes", "movie", "--since", "9999-12-25", date_="9999-12-31"),
        tmdb_env(emulator, local_lake),
    )
    assert result.code in {0, 1}, result.err
    assert "Overflow" not in result.err


def test_a_tmdb_file_published_just_before_a_stop_is_listed_now_or_adopted_next(
    local_lake: Lake, emulator: TmdbEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stop arrives after a records file is published, before the store confirms it."""

    def on_records_file(key: str, *args: object, **kwargs: object) -> bool:
        return key.startswith("Raw/TMDB/JSON/Movies/")

    signal_self_first(monkeypatch, Store, "_verify", signal.SIGINT, on_records_file)
    argv = tmdb_argv(local_lake, "--ids", "movie:550")
    stopped = cli(argv, tmdb_env(emulator, local_lake))
    assert stopped.code == 130, stopped.err
    monkeypatch.undo()

    again = cli(argv, tmdb_env(emulator, local_lake))

    assert again.code == 0, again.err
    listed = {o["key"] for m in manifests(local_lake.store) for o in m["objects"]}
    data = {i.key for i in local_lake.store.list("Raw/TMDB/")}
    assert data and data <= listed
    assert_exactly_once(local_lake.store, {"movie:550"}, set())


def test_a_resumed_plan_asks_tmdb_again_before_sealing_anything_as_not_found(
    local_lake: Lake, emulator: TmdbEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan was made at the right address; the run that resumes it has a wrong one."""

    real_get = TmdbClient.get

    def stopped_before_the_second_title(self: TmdbClient, path: str, *args: Any) -> Any:
        if path == "/tv/1396":
            raise KeyboardInterrupt
        return real_get(self, path, *args)

    monkeypatch.setattr(TmdbClient, "get", stopped_before_the_second_title)
    argv = tmdb_argv(local_lake, "--ids", "movie:550,tv:1396", "--batch-size", "1")
    assert cli(argv, tmdb_env(emulator, local_lake)).code == 130
    monkeypatch.undo()

    wrong = emulator.base_url.removesuffix("/3")
    resumed = cli(argv, tmdb_env(emulator, local_lake, TMDB_BASE_URL=wrong))
    assert resumed.code == 2, resumed.err
    assert "TMDB_BASE_URL" in resumed.err

    assert cli(argv, tmdb_env(emulator, local_lake)).code == 0
    assert_exactly_once(local_lake.store, {"movie:550", "tv:1396"}, set())
