"""The TMDB client against the real emulator: exact bodies, bounded retries, 401 stops at once."""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from tmdb_fixtures import (  # noqa: F401 - fixtures are found by name
    API_KEY,
    MOVIES_CSV,
    READ_TOKEN,
    Lake,
    cli,
    emulator_body,
    emulator_fixture,
    fast_client,
    local_lake_fixture,
    make_emulator_fixture,
    tmdb_argv,
    tmdb_env,
)

from cinelake.errors import ConfigError, TmdbAuthError
from cinelake.testing.tmdb_emulator import RESET, TRUNCATE, TmdbEmulator
from cinelake.tmdb import client as client_module
from cinelake.tmdb.client import TmdbAnswer, TmdbClient
from cinelake.tmdb.ratelimit import TokenBucket
from cinelake.tmdb.retry import RetryPolicy, parse_retry_after

DETAILS = {"append_to_response": "credits,external_ids,keywords"}


class FakeClock:
    """Time that passes only when someone sleeps: waits are observed, never endured."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    fake = FakeClock()
    monkeypatch.setattr(
        client_module, "time", types.SimpleNamespace(monotonic=fake.monotonic, sleep=fake.sleep)
    )
    yield fake


def clocked_client(emulator: TmdbEmulator, clock: FakeClock, **kwargs: object) -> TmdbClient:
    """A client with the default (sleeping) policy whose sleeps go to the fake clock."""
    client = TmdbClient(emulator.base_url, api_key=API_KEY, **kwargs)  # type: ignore[arg-type]
    client.limiter = TokenBucket(client.limiter.rate, clock=clock.monotonic, sleep=clock.sleep)
    return client


@pytest.fixture
def open_clients() -> Iterator[Callable[[TmdbClient], TmdbClient]]:
    clients: list[TmdbClient] = []

    def keep(client: TmdbClient) -> TmdbClient:
        clients.append(client)
        return client

    yield keep
    for client in clients:
        client.close()


# Bodies -----------------------------------------------------------------------------------------
def test_body_bytes_are_returned_exactly_as_sent(emulator: TmdbEmulator) -> None:
    client = fast_client(emulator)
    for item, path, params in (
        ("movie:550", "/movie/550", DETAILS),
        ("tv:1396", "/tv/1396", DETAILS),
        ("find-movie:tt0137523", "/find/tt0137523", {"external_source": "imdb_id"}),
    ):
        answer = client.get(path, params)
        assert answer.ok
        assert answer.status == 200
        assert answer.attempts == 1
        assert answer.body == emulator_body(emulator, item)
    client.close()


def test_pretty_printed_body_is_returned_untouched(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(raw_newline_ids=frozenset({550}))
    client = fast_client(emulator)
    answer = client.get("/movie/550", DETAILS)
    client.close()
    assert b"\n" in answer.body
    assert answer.body == emulator_body(emulator, "movie:550")


def test_endpoint_names_path_and_query_without_credentials(emulator: TmdbEmulator) -> None:
    client = fast_client(emulator)
    answer = client.get("/movie/550", {"append_to_response": "credits"})
    client.close()
    assert answer.endpoint == "/movie/550?append_to_response=credits"
    assert API_KEY not in answer.endpoint


def test_a_client_without_any_credential_is_refused() -> None:
    with pytest.raises(ConfigError, match="TMDB_API_KEY"):
        TmdbClient("http://127.0.0.1:9/3")


# 401 ----------------------------------------------------------------------------------------------
def test_401_raises_auth_error_after_exactly_one_request(emulator: TmdbEmulator) -> None:
    client = fast_client(emulator, api_key="not-the-key")
    with pytest.raises(TmdbAuthError) as caught:
        client.get("/movie/550", DETAILS)
    client.close()
    assert emulator.stats().total_requests == 1
    assert "401" in str(caught.value)
    assert "not-the-key" not in str(caught.value)


def test_401_is_never_retried_even_when_scripted_between_successes(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [401, 200]})
    client = fast_client(emulator)
    with pytest.raises(TmdbAuthError):
        client.get("/movie/550")
    client.close()
    assert emulator.stats().paths["/3/movie/550"] == 1


def test_after_a_401_the_client_sends_nothing_more(emulator: TmdbEmulator) -> None:
    """Concurrent workers share the client: the first 401 must stop all of them."""
    client = fast_client(emulator, api_key="not-the-key")
    for path in ("/movie/550", "/tv/1396", "/movie/13"):
        with pytest.raises(TmdbAuthError):
            client.get(path)
    client.close()
    assert emulator.stats().total_requests == 1


def test_cli_stops_at_the_first_401_with_one_line_and_exit_2(
    emulator: TmdbEmulator, local_lake: Lake
) -> None:
    result = cli(
        tmdb_argv(local_lake, "--movies", str(MOVIES_CSV), "--workers", "1"),
        tmdb_env(emulator, local_lake, TMDB_API_KEY="not-the-key"),
    )
    assert result.code == 2
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "401" in lines[0] and "TMDB_API_KEY" in lines[0]
    assert emulator.stats().total_requests == 1
    assert emulator.stats().by_status[401] == 1


def test_cli_with_concurrent_workers_sends_at_most_one_request_per_worker_after_a_401(
    emulator: TmdbEmulator, local_lake: Lake
) -> None:
    """Requests already in flight may come back 401 too; no worker starts a new one."""
    result = cli(
        tmdb_argv(local_lake, "--movies", str(MOVIES_CSV), "--workers", "4"),
        tmdb_env(emulator, local_lake, TMDB_API_KEY="not-the-key"),
    )
    assert result.code == 2
    assert 1 <= emulator.stats().total_requests <= 4
    assert not list(local_lake.store.list("Raw/TMDB/"))


# 429 ----------------------------------------------------------------------------------------------
def test_429_waits_retry_after_and_retries(
    make_emulator: Callable[..., TmdbEmulator],
    clock: FakeClock,
    open_clients: Callable[..., TmdbClient],
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [429, 429]}, retry_after=3)
    client = open_clients(clocked_client(emulator, clock))
    answer = client.get("/movie/550", DETAILS)
    stats = emulator.stats()
    assert answer.ok
    assert answer.attempts == 3
    assert stats.paths["/3/movie/550"] == 3
    assert stats.by_status[429] == 2
    assert answer.body == emulator_body(emulator, "movie:550")
    assert clock.sleeps.count(3.0) >= 2, clock.sleeps
    assert client.stats.throttled == 2
    assert client.stats.retries == 2


@pytest.mark.parametrize("retry_after", [None, 0], ids=["absent", "zero"])
def test_429_without_a_usable_retry_after_still_backs_off_and_succeeds(
    make_emulator: Callable[..., TmdbEmulator],
    clock: FakeClock,
    open_clients: Callable[..., TmdbClient],
    retry_after: int | None,
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [429, 429]}, retry_after=retry_after)
    client = open_clients(clocked_client(emulator, clock))
    answer = client.get("/movie/550")
    assert answer.ok
    assert answer.attempts == 3
    retry_waits = [s for s in clock.sleeps if s > 0]
    assert len(retry_waits) >= 2
    assert all(s > 0 for s in retry_waits)


def test_retry_policy_honours_retry_after_and_otherwise_backs_off_with_jitter() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30)
    assert policy.delay(1, retry_after=7.0) == 7.0
    assert policy.delay(1, retry_after=120.0) == 30.0
    for attempt in range(1, 8):
        ceiling = min(30.0, 0.5 * 2 ** (attempt - 1))
        assert ceiling / 2 <= policy.delay(attempt) <= ceiling
    assert RetryPolicy(base_delay=0).delay(3, retry_after=7.0) == 0.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, None), ("", None), ("0", None), ("2", 2.0), ("1.5", 1.5), ("Wed, 21 Oct 2015", None)],
)
def test_retry_after_header_parsing(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


# Retries ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fault",
    [500, 502, 503, 504, RESET, TRUNCATE],
    ids=["500", "502", "503", "504", "reset", "truncate"],
)
def test_transient_failures_are_retried_then_succeed(
    make_emulator: Callable[..., TmdbEmulator], fault: int
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [fault]})
    client = fast_client(emulator)
    answer = client.get("/movie/550", DETAILS)
    client.close()
    assert emulator.stats().paths["/3/movie/550"] == 2
    assert answer.ok
    assert answer.attempts == 2
    assert answer.body == emulator_body(emulator, "movie:550")


def test_a_mix_of_transient_failures_is_retried_until_success(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(scripted={"/3/tv/1396": [500, RESET, 503, TRUNCATE]})
    client = fast_client(emulator)
    answer = client.get("/tv/1396", DETAILS)
    client.close()
    assert answer.ok
    assert answer.attempts == 5
    assert answer.body == emulator_body(emulator, "tv:1396")
    assert client.stats.retries == 4


@pytest.mark.parametrize("fault", [500, RESET, TRUNCATE], ids=["500", "reset", "truncate"])
def test_retries_are_bounded_by_max_attempts(
    make_emulator: Callable[..., TmdbEmulator], fault: int
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [fault] * 10})
    client = fast_client(emulator, policy=RetryPolicy(max_attempts=4, base_delay=0))
    answer = client.get("/movie/550")
    client.close()
    assert not answer.ok
    assert answer.error
    assert answer.attempts == 4
    assert emulator.stats().paths["/3/movie/550"] == 4


def test_retries_are_bounded_by_time_spent_on_one_item(
    make_emulator: Callable[..., TmdbEmulator],
    clock: FakeClock,
    open_clients: Callable[..., TmdbClient],
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [503] * 50}, retry_after=None)
    policy = RetryPolicy(max_attempts=50, max_seconds=10.0, base_delay=4.0, max_delay=4.0)
    client = open_clients(clocked_client(emulator, clock, policy=policy))
    answer = client.get("/movie/550")
    assert not answer.ok
    assert 2 <= answer.attempts < 50
    assert emulator.stats().paths["/3/movie/550"] == answer.attempts


def test_exhausted_retries_report_the_last_status_and_tmdb_code(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [503] * 6})
    client = fast_client(emulator)
    answer = client.get("/movie/550")
    client.close()
    assert answer.status == 503
    assert answer.tmdb_status() == (
        9,
        "Service offline: This service is temporarily offline, try again later.",
    )
    assert answer.attempts == 6


def test_404_is_not_retried(emulator: TmdbEmulator) -> None:
    client = fast_client(emulator)
    answer = client.get("/movie/999999999", DETAILS)
    client.close()
    assert answer.status == 404
    assert answer.error is None
    assert answer.attempts == 1
    assert answer.tmdb_status()[0] == 34
    assert emulator.stats().paths["/3/movie/999999999"] == 1


def test_unreachable_tmdb_is_reported_without_url_or_key() -> None:
    client = TmdbClient(
        "http://127.0.0.1:9/3",
        api_key="k3y-SHOULD-NEVER-LEAK-123",
        policy=RetryPolicy(max_attempts=2, base_delay=0),
        timeout=2,
    )
    answer = client.get("/movie/550")
    client.close()
    assert not answer.ok
    assert answer.status is None
    assert answer.error is not None
    assert answer.attempts == 2
    assert "k3y-SHOULD-NEVER-LEAK-123" not in repr(answer)
    assert "127.0.0.1" not in (answer.error or "")


# Out of reach, or one title's trouble ------------------------------------------------------------
def one_attempt(url: str, **kwargs: Any) -> TmdbAnswer:
    client = TmdbClient(
        url, api_key=API_KEY, policy=RetryPolicy(max_attempts=1, base_delay=0), **kwargs
    )
    try:
        return client.get("/movie/550")
    finally:
        client.close()


def test_a_refused_connection_means_tmdb_is_out_of_reach() -> None:
    answer = one_attempt("http://127.0.0.1:9/3")
    assert answer.never_connected
    assert answer.error == "connection refused or host not found"


def test_a_failed_tls_handshake_means_tmdb_is_out_of_reach(emulator: TmdbEmulator) -> None:
    answer = one_attempt(emulator.base_url.replace("http://", "https://"))
    assert answer.never_connected
    assert answer.error == "TLS handshake failed"


def test_a_proxy_that_cannot_be_reached_means_tmdb_is_out_of_reach(
    emulator: TmdbEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    answer = one_attempt(emulator.base_url)
    assert answer.never_connected
    assert answer.error == "the proxy could not be reached"


def test_a_reset_connection_is_one_titles_trouble(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [RESET]})
    answer = one_attempt(emulator.base_url)
    assert not answer.never_connected
    assert answer.error == "connection reset or closed"


def test_tmdb_that_answered_once_was_reached_even_if_it_then_refuses(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [503]})
    client = fast_client(emulator, policy=RetryPolicy(max_attempts=2, base_delay=0))

    def go_away_after_the_first_answer() -> bool:
        emulator.stop()  # the retry is refused
        return False

    client.stop = go_away_after_the_first_answer
    answer = client.get("/movie/550")
    client.close()
    assert answer.error == "connection refused or host not found"
    assert not answer.never_connected


class ConnectTimeoutSession(requests.Session):
    """A connect that times out cannot be arranged on loopback at will: this one always does."""

    def get(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        raise requests.ConnectTimeout("connect timed out")


def test_a_connect_timeout_means_tmdb_is_out_of_reach() -> None:
    answer = one_attempt("http://127.0.0.1:9/3", session=ConnectTimeoutSession())
    assert answer.never_connected
    assert answer.error == "timeout while connecting"


def test_a_connect_timeout_cut_short_by_the_deadline_proves_nothing() -> None:
    client = TmdbClient(
        "http://127.0.0.1:9/3",
        api_key=API_KEY,
        policy=RetryPolicy(max_attempts=1, base_delay=0),
        session=ConnectTimeoutSession(),
    )
    client.remaining = lambda: 0.7  # the run's deadline, not TMDB, set a 0.7 s timeout
    answer = client.get("/movie/550")
    client.close()
    assert not answer.never_connected


@pytest.mark.parametrize(
    "url", ["api.themoviedb.org/3", "ftp://api.themoviedb.org/3", "https:///3", ""]
)
def test_a_base_url_that_is_not_http_with_a_host_is_refused_before_any_request(url: str) -> None:
    with pytest.raises(ConfigError, match="TMDB_BASE_URL") as caught:
        TmdbClient(url, api_key=API_KEY)
    assert API_KEY not in str(caught.value)


# Credentials ------------------------------------------------------------------------------------
def test_bearer_read_token_route_works(make_emulator: Callable[..., TmdbEmulator]) -> None:
    emulator = make_emulator(api_key="some-other-v3-key")
    client = TmdbClient(emulator.base_url, read_token=READ_TOKEN, policy=RetryPolicy(base_delay=0))
    answer = client.get("/movie/550", DETAILS)
    client.close()
    assert answer.ok
    assert answer.attempts == 1
    assert emulator.stats().by_status[200] == 1


def test_bearer_token_is_preferred_over_the_query_key(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator()
    client = TmdbClient(
        emulator.base_url,
        api_key="wrong-key-never-sent",
        read_token=READ_TOKEN,
        policy=RetryPolicy(base_delay=0),
    )
    answer = client.get("/tv/1396")
    client.close()
    assert answer.ok


def test_a_bad_bearer_token_stops_at_once(make_emulator: Callable[..., TmdbEmulator]) -> None:
    emulator = make_emulator()
    client = TmdbClient(emulator.base_url, read_token="not-the-token")
    with pytest.raises(TmdbAuthError):
        client.get("/movie/550")
    client.close()
    assert emulator.stats().total_requests == 1


# Rate limit ---------------------------------------------------------------------------------------
def test_token_bucket_paces_requests_at_the_configured_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, clock=clock.monotonic, sleep=clock.sleep)
    start = clock.now
    for _ in range(21):
        bucket.acquire()
    assert clock.now - start == pytest.approx(2.0, abs=1e-6)


def test_token_bucket_pause_holds_every_caller() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100.0, clock=clock.monotonic, sleep=clock.sleep)
    bucket.acquire()
    bucket.pause(4.0)
    start = clock.now
    bucket.acquire()
    assert clock.now - start >= 4.0
