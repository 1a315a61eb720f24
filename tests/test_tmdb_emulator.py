"""The TMDB emulator answers like TMDB v3, fails on demand, and fails the same way every run."""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import cinelake.testing
from cinelake.testing.tmdb_emulator import Catalogue, EmulatorConfig, Faults, TmdbEmulator

API_KEY = EmulatorConfig().api_key
READ_TOKEN = EmulatorConfig().read_token
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
FIGHT_CLUB = ("tt0137523", 550)
BREAKING_BAD = ("tt0903747", 1396)
NEVER_AN_ID = "tt0000001"


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., TmdbEmulator]]:
    started: list[TmdbEmulator] = []

    def make(**config: Any) -> TmdbEmulator:
        emulator = TmdbEmulator(EmulatorConfig(**config), port=0)
        emulator.start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., TmdbEmulator]) -> TmdbEmulator:
    return make_emulator()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def get(
    emulator: TmdbEmulator, path: str, session: requests.Session | None = None, **params: Any
) -> requests.Response:
    """GET with the v3 key, as most clients do."""
    client = session if session is not None else requests
    return client.get(emulator.base_url + path, params={"api_key": API_KEY, **params}, timeout=30)


def host_and_port(emulator: TmdbEmulator) -> tuple[str, int]:
    host, _, port = emulator.base_url.split("//")[1].split("/")[0].partition(":")
    return host, int(port)


def body_of(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, dict)
    return body


def read_csv_ids(name: str) -> list[str]:
    lines = (SAMPLE / name).read_text(encoding="utf-8").splitlines()
    return list(dict.fromkeys(line.split("|", 1)[0] for line in lines[1:]))


# --- authentication and errors --------------------------------------------------------------


def test_api_key_query_parameter_authenticates(emulator: TmdbEmulator) -> None:
    assert get(emulator, f"/movie/{FIGHT_CLUB[1]}").status_code == 200


def test_bearer_read_token_authenticates(emulator: TmdbEmulator) -> None:
    response = requests.get(
        f"{emulator.base_url}/movie/{FIGHT_CLUB[1]}",
        headers={"Authorization": f"Bearer {READ_TOKEN}"},
        timeout=30,
    )
    assert response.status_code == 200


def test_missing_credentials_get_401_with_tmdb_invalid_key_body(emulator: TmdbEmulator) -> None:
    response = requests.get(f"{emulator.base_url}/movie/{FIGHT_CLUB[1]}", timeout=30)
    assert response.status_code == 401
    assert response.json() == {
        "status_code": 7,
        "status_message": "Invalid API key: You must be granted a valid key.",
        "success": False,
    }


def test_wrong_api_key_or_token_is_rejected(emulator: TmdbEmulator) -> None:
    url = f"{emulator.base_url}/movie/{FIGHT_CLUB[1]}"
    assert requests.get(url, params={"api_key": "nope"}, timeout=30).status_code == 401
    wrong_bearer = {"Authorization": "Bearer nope"}
    assert requests.get(url, headers=wrong_bearer, timeout=30).status_code == 401


def test_unknown_movie_id_returns_404_status_code_34(emulator: TmdbEmulator) -> None:
    response = get(emulator, "/movie/999999999")
    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "status_code": 34,
        "status_message": "The resource you requested could not be found.",
    }


def test_unknown_path_returns_404_status_code_34(emulator: TmdbEmulator) -> None:
    response = get(emulator, "/person/popular/sideways")
    assert response.status_code == 404
    assert body_of(response)["status_code"] == 34


# --- /find ----------------------------------------------------------------------------------


def test_find_returns_movie_results_for_a_known_imdb_id(emulator: TmdbEmulator) -> None:
    response = get(emulator, f"/find/{FIGHT_CLUB[0]}", external_source="imdb_id")
    body = body_of(response)
    assert response.status_code == 200
    assert [m["id"] for m in body["movie_results"]] == [FIGHT_CLUB[1]]
    assert body["movie_results"][0]["title"] == "Fight Club"
    assert body["tv_results"] == []


def test_find_returns_tv_results_for_a_known_series_imdb_id(emulator: TmdbEmulator) -> None:
    body = body_of(get(emulator, f"/find/{BREAKING_BAD[0]}", external_source="imdb_id"))
    assert [t["id"] for t in body["tv_results"]] == [BREAKING_BAD[1]]
    assert body["tv_results"][0]["name"] == "Breaking Bad"
    assert body["movie_results"] == []


def test_find_returns_200_with_empty_lists_for_an_unknown_imdb_id(emulator: TmdbEmulator) -> None:
    response = get(emulator, f"/find/{NEVER_AN_ID}", external_source="imdb_id")
    assert response.status_code == 200
    assert response.json() == {
        "movie_results": [],
        "person_results": [],
        "tv_results": [],
        "tv_episode_results": [],
        "tv_season_results": [],
    }


# --- the sample data and its catalogue ------------------------------------------------------


def test_sample_csvs_have_the_source_headers_and_column_counts() -> None:
    for name, columns in (("movies.csv", 15), ("series.csv", 16)):
        raw = (SAMPLE / name).read_bytes()
        assert b"\r" not in raw
        assert not raw.startswith(b"\xef\xbb\xbf")
        lines = raw.decode("utf-8").splitlines()
        assert lines[0].startswith("id|tituloPincipal|tituloOriginal|anoLancamento|")
        assert {line.count("|") + 1 for line in lines} == {columns}
        assert 300 <= len(lines) - 1 <= 400


def test_sample_csv_rows_of_a_title_are_consecutive() -> None:
    for name in ("movies.csv", "series.csv"):
        ids = [line.split("|", 1)[0] for line in (SAMPLE / name).read_text("utf-8").splitlines()]
        runs = [key for i, key in enumerate(ids[1:], 1) if key != ids[i - 1]]
        assert len(runs) == len(set(runs))


def test_sample_catalogue_knows_about_95_percent_of_the_sample_csv_ids() -> None:
    catalogue = Catalogue.sample()
    for csv_name, known in (
        ("movies.csv", set(catalogue.movie_imdb_ids())),
        ("series.csv", set(catalogue.tv_imdb_ids())),
    ):
        ids = set(read_csv_ids(csv_name))
        assert known <= ids
        assert 0.9 <= len(known) / len(ids) < 1.0


def test_every_known_sample_movie_is_found_by_its_imdb_id(emulator: TmdbEmulator) -> None:
    with requests.Session() as s:
        for imdb_id in list(Catalogue.sample().movie_imdb_ids())[:25]:
            body = body_of(get(emulator, f"/find/{imdb_id}", s, external_source="imdb_id"))
            assert len(body["movie_results"]) == 1


# --- details and append_to_response ---------------------------------------------------------


def test_movie_details_are_compact_single_line_utf8_json(emulator: TmdbEmulator) -> None:
    response = get(emulator, f"/movie/{FIGHT_CLUB[1]}")
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert b"\n" not in response.content
    text = response.content.decode("utf-8")
    assert not text.isascii()
    assert json.dumps(response.json(), ensure_ascii=False, separators=(",", ":")) == text
    body = response.json()
    assert (body["id"], body["imdb_id"], body["title"]) == (550, "tt0137523", "Fight Club")


def test_tv_details_carry_the_imdb_id_only_inside_external_ids(emulator: TmdbEmulator) -> None:
    plain = body_of(get(emulator, f"/tv/{BREAKING_BAD[1]}"))
    assert "imdb_id" not in plain
    assert "external_ids" not in plain
    appended = body_of(get(emulator, f"/tv/{BREAKING_BAD[1]}", append_to_response="external_ids"))
    assert appended["external_ids"]["imdb_id"] == BREAKING_BAD[0]


def test_append_to_response_adds_each_item_under_its_own_key(emulator: TmdbEmulator) -> None:
    body = body_of(
        get(
            emulator,
            f"/movie/{FIGHT_CLUB[1]}",
            append_to_response="credits,external_ids,keywords,videos",
        )
    )
    assert [c["name"] for c in body["credits"]["cast"]][:2] == ["Edward Norton", "Brad Pitt"]
    assert body["external_ids"]["imdb_id"] == FIGHT_CLUB[0]
    assert body["keywords"]["keywords"]
    assert isinstance(body["videos"], dict)


def test_more_than_20_append_to_response_items_returns_400_status_code_27(
    emulator: TmdbEmulator,
) -> None:
    items = ",".join(f"extra{i}" for i in range(21))
    response = get(emulator, f"/movie/{FIGHT_CLUB[1]}", append_to_response=items)
    assert response.status_code == 400
    assert body_of(response)["status_code"] == 27


def test_exactly_20_append_to_response_items_are_accepted(emulator: TmdbEmulator) -> None:
    items = ",".join(f"extra{i}" for i in range(20))
    assert get(emulator, f"/movie/{FIGHT_CLUB[1]}", append_to_response=items).status_code == 200


def test_raw_newline_ids_serve_pretty_printed_details(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(raw_newline_ids=frozenset({FIGHT_CLUB[1]}))
    response = get(emulator, f"/movie/{FIGHT_CLUB[1]}")
    assert b"\n" in response.content
    assert body_of(response)["id"] == FIGHT_CLUB[1]
    assert b"\n" not in get(emulator, "/movie/238").content


# --- /discover ------------------------------------------------------------------------------


def test_discover_pages_hold_20_results_and_report_totals(emulator: TmdbEmulator) -> None:
    body = body_of(get(emulator, "/discover/movie", page=2))
    n_movies = Catalogue.sample().n_movies
    assert body["page"] == 2
    assert len(body["results"]) == 20
    assert body["total_results"] == n_movies
    assert body["total_pages"] == -(-n_movies // 20)


def test_discover_page_beyond_total_pages_returns_empty_results(emulator: TmdbEmulator) -> None:
    response = get(emulator, "/discover/tv", page=499)
    assert response.status_code == 200
    assert body_of(response)["results"] == []


@pytest.mark.parametrize("page", ["0", "501", "two"])
def test_discover_page_outside_1_to_500_returns_400_status_code_22(
    emulator: TmdbEmulator, page: str
) -> None:
    response = get(emulator, "/discover/movie", page=page)
    assert response.status_code == 400
    assert body_of(response)["status_code"] == 22


def test_discover_total_pages_is_capped_at_500_for_large_catalogues(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(catalogue=Catalogue.synthetic(12_000, 0))
    body = body_of(get(emulator, "/discover/movie", page=500))
    assert (body["total_pages"], body["total_results"]) == (500, 12_000)
    assert len(body["results"]) == 20


# --- /changes -------------------------------------------------------------------------------


def test_changes_paginate_100_ids_a_page_without_duplicates(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(catalogue=Catalogue.synthetic(5_000, 0))
    window: dict[str, Any] = {"start_date": "2024-03-01", "end_date": "2024-03-04"}
    first = body_of(get(emulator, "/movie/changes", page=1, **window))
    assert first["total_pages"] > 1
    seen: list[int] = []
    for page in range(1, first["total_pages"] + 1):
        body = body_of(get(emulator, "/movie/changes", page=page, **window))
        if page < first["total_pages"]:
            assert len(body["results"]) == 100
        else:
            assert 0 < len(body["results"]) <= 100
        assert all(item["adult"] is False for item in body["results"])
        seen += [item["id"] for item in body["results"]]
    assert len(seen) == len(set(seen)) == first["total_results"]


def test_changes_window_over_14_days_returns_422_status_code_20(emulator: TmdbEmulator) -> None:
    response = get(emulator, "/tv/changes", start_date="2024-01-01", end_date="2024-01-16")
    assert response.status_code == 422
    assert body_of(response) == {
        "success": False,
        "status_code": 20,
        "status_message": "Invalid date range: Should be a range no longer than 14 days.",
    }


def test_changes_window_of_exactly_14_days_is_accepted(emulator: TmdbEmulator) -> None:
    response = get(emulator, "/tv/changes", start_date="2024-01-01", end_date="2024-01-15")
    assert response.status_code == 200


def test_changed_ids_depend_only_on_seed_and_dates(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    window: dict[str, Any] = {"start_date": "2024-05-01", "end_date": "2024-05-03"}
    a, b, c = make_emulator(seed=7), make_emulator(seed=7), make_emulator(seed=8)
    results = [body_of(get(e, "/movie/changes", **window))["results"] for e in (a, b, c)]
    assert results[0] == results[1]
    assert results[0] != results[2]


# --- rate limit -----------------------------------------------------------------------------


def test_burst_over_the_rate_limit_gets_429_status_code_25_with_retry_after(
    make_emulator: Callable[..., TmdbEmulator], session: requests.Session
) -> None:
    emulator = make_emulator(rate_limit=2.0, retry_after=3)
    responses = [get(emulator, f"/movie/{FIGHT_CLUB[1]}", session) for _ in range(40)]
    limited = [r for r in responses if r.status_code == 429]
    assert limited
    assert body_of(limited[0]) == {
        "success": False,
        "status_code": 25,
        "status_message": "Your request count (#) is over the allowed limit of (40).",
    }
    assert limited[0].headers["Retry-After"] == "3"
    assert emulator.stats().rate_limited == len(limited)


def test_retry_after_is_absent_when_configured_none(
    make_emulator: Callable[..., TmdbEmulator], session: requests.Session
) -> None:
    emulator = make_emulator(rate_limit=2.0, retry_after=None)
    responses = [get(emulator, f"/movie/{FIGHT_CLUB[1]}", session) for _ in range(40)]
    limited = [r for r in responses if r.status_code == 429]
    assert limited
    assert all("Retry-After" not in r.headers for r in limited)


# --- scripted and random faults -------------------------------------------------------------


def test_scripted_statuses_play_in_order_before_normal_answers(
    make_emulator: Callable[..., TmdbEmulator], session: requests.Session
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [500, 503, 429]})
    responses = [get(emulator, "/movie/550", session) for _ in range(4)]
    assert [r.status_code for r in responses] == [500, 503, 429, 200]
    assert body_of(responses[0])["status_code"] == 11
    assert body_of(responses[1])["status_code"] == 9
    assert body_of(responses[1])["status_message"] == (
        "Service offline: This service is temporarily offline, try again later."
    )
    assert responses[2].headers["Retry-After"] == "1"


def test_scripted_statuses_apply_only_to_their_path(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [500]})
    assert get(emulator, "/movie/238").status_code == 200
    assert get(emulator, "/movie/550").status_code == 500


def test_scripted_reset_makes_the_client_see_a_connection_error(
    make_emulator: Callable[..., TmdbEmulator], session: requests.Session
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [0]})
    with pytest.raises(requests.ConnectionError):
        get(emulator, "/movie/550", session)
    assert get(emulator, "/movie/550", session).status_code == 200
    assert emulator.stats().by_status[0] == 1


def test_reset_is_a_tcp_rst_not_a_graceful_close(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [0]})
    conn = http.client.HTTPConnection(*host_and_port(emulator), timeout=30)
    conn.request("GET", f"/3/movie/550?api_key={API_KEY}")
    with pytest.raises(ConnectionResetError):
        conn.getresponse()
    conn.close()


def test_scripted_truncate_makes_the_client_see_an_incomplete_body(
    make_emulator: Callable[..., TmdbEmulator], session: requests.Session
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [1]})
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        get(emulator, "/movie/550", session)
    assert get(emulator, "/movie/550", session).status_code == 200


def test_truncated_reply_announces_the_full_length_but_sends_half(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [1]})
    conn = http.client.HTTPConnection(*host_and_port(emulator), timeout=30)
    conn.request("GET", f"/3/movie/550?api_key={API_KEY}")
    response = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    conn.close()
    announced = int(response.getheader("Content-Length") or 0)
    assert len(caught.value.partial) == announced // 2


def random_fault_statuses(emulator: TmdbEmulator, paths: list[str]) -> list[int | str]:
    outcomes: list[int | str] = []
    with requests.Session() as s:
        for path in paths:
            try:
                outcomes.append(get(emulator, path, s).status_code)
            except requests.RequestException as exc:
                outcomes.append(type(exc).__name__)
    return outcomes


FAULTY = Faults(error_500=0.15, error_503=0.15, reset=0.1, truncate=0.1)
PATHS = [f"/movie/{movie_id}" for movie_id in (550, 238, 598, 666, 7347)] * 8


def test_faults_repeat_exactly_across_emulators_with_the_same_seed(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    first = random_fault_statuses(make_emulator(faults=FAULTY, seed=42), PATHS)
    second = random_fault_statuses(make_emulator(faults=FAULTY, seed=42), PATHS)
    other_seed = random_fault_statuses(make_emulator(faults=FAULTY, seed=43), PATHS)
    assert first == second
    assert first != other_seed
    assert {500, 503, 200} <= set(first)


def test_fault_counts_do_not_depend_on_thread_interleaving(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    faults = Faults(error_500=0.2, error_503=0.2)
    sequential = make_emulator(faults=faults, seed=5)
    random_fault_statuses(sequential, PATHS)
    concurrent = make_emulator(faults=faults, seed=5)
    threads = [
        threading.Thread(target=random_fault_statuses, args=(concurrent, PATHS[i::4]))
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert concurrent.stats().by_status == sequential.stats().by_status


def test_slow_fault_is_counted_and_still_answers(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(faults=Faults(slow=1.0, slow_seconds=0.01))
    assert get(emulator, "/movie/550").status_code == 200
    assert emulator.stats().faults["slow"] == 1


def test_invalid_fault_probability_is_refused() -> None:
    with pytest.raises(ValueError, match="probability"):
        Faults(error_500=1.5)


# --- connections, stats, lifecycle ----------------------------------------------------------


def test_keep_alive_connection_serves_several_requests(emulator: TmdbEmulator) -> None:
    conn = http.client.HTTPConnection(*host_and_port(emulator), timeout=30)
    for movie_id in (550, 238, 598):
        conn.request("GET", f"/3/movie/{movie_id}?api_key={API_KEY}")
        response = conn.getresponse()
        assert json.loads(response.read())["id"] == movie_id
    conn.close()


def test_stats_count_requests_by_status_and_endpoint_without_credentials(
    emulator: TmdbEmulator,
) -> None:
    get(emulator, "/movie/550")
    get(emulator, "/movie/1")
    get(emulator, f"/find/{FIGHT_CLUB[0]}", external_source="imdb_id")
    get(emulator, "/discover/tv")
    get(emulator, "/tv/changes")
    stats = emulator.stats()
    assert stats.total_requests == 5
    assert stats.by_status == Counter({200: 4, 404: 1})
    assert stats.by_endpoint == Counter(movie=2, find=1, discover=1, changes=1)
    assert stats.paths["/3/movie/550"] == 1
    assert not any(API_KEY in r for r in stats.requests)
    assert "/3/find/tt0137523?external_source=imdb_id" in stats.requests


def test_reset_stats_zeroes_counts_and_replays_scripted_statuses(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [503]})
    assert get(emulator, "/movie/550").status_code == 503
    emulator.reset_stats()
    assert emulator.stats().total_requests == 0
    assert get(emulator, "/movie/550").status_code == 503


def test_stop_closes_idle_keep_alive_connections(session: requests.Session) -> None:
    emulator = TmdbEmulator()
    emulator.start()
    assert get(emulator, "/movie/550", session).status_code == 200
    emulator.stop()
    with pytest.raises(requests.ConnectionError):
        get(emulator, "/movie/550", session)


def test_in_process_emulator_prints_nothing(
    emulator: TmdbEmulator, capfd: pytest.CaptureFixture[str]
) -> None:
    get(emulator, "/movie/550")
    requests.get(f"{emulator.base_url}/movie/550", params={"api_key": "wrong"}, timeout=30)
    assert capfd.readouterr() == ("", "")


# --- synthetic catalogue --------------------------------------------------------------------


def test_synthetic_catalogue_has_the_requested_size_and_id_ranges() -> None:
    catalogue = Catalogue.synthetic(5_000, 2_000, seed=3)
    movie_ids = list(catalogue.movie_imdb_ids())
    tv_ids = list(catalogue.tv_imdb_ids())
    assert (catalogue.n_movies, catalogue.n_tv) == (5_000, 2_000)
    assert (movie_ids[0], movie_ids[-1], len(set(movie_ids))) == ("tt9000001", "tt9005000", 5_000)
    assert (tv_ids[0], tv_ids[-1], len(set(tv_ids))) == ("tt8000001", "tt8002000", 2_000)


def test_synthetic_titles_are_found_and_served_deterministically(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    bodies = []
    for _ in range(2):
        emulator = make_emulator(catalogue=Catalogue.synthetic(50_000, 50_000, seed=1))
        found = body_of(get(emulator, "/find/tt9049999", external_source="imdb_id"))
        (movie,) = found["movie_results"]
        bodies.append(get(emulator, f"/movie/{movie['id']}").content)
        show = body_of(get(emulator, "/find/tt8000002", external_source="imdb_id"))["tv_results"]
        assert len(show) == 1
        missing = body_of(get(emulator, "/find/tt9050001", external_source="imdb_id"))
        assert missing["movie_results"] == []
    assert bodies[0] == bodies[1]


# --- module entry point ---------------------------------------------------------------------


def start_cli(*args: str) -> subprocess.Popen[str]:
    src = Path(cinelake.testing.__file__).resolve().parents[2]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-m", "cinelake.testing.tmdb_emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 60)  # a guard, not a timing assertion
    if not ready:
        process.kill()
        pytest.fail("the emulator printed nothing")
    return process.stdout.readline()


def test_module_entry_point_prints_one_line_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    ready_file = tmp_path / "ready"
    process = start_cli("--ready-file", str(ready_file), "--synthetic", "100,50")
    line = first_line(process)
    assert line.startswith("TMDB emulator listening on http://127.0.0.1:")
    base_url = line.removeprefix("TMDB emulator listening on ").strip()
    assert ready_file.read_text().strip() == base_url
    response = requests.get(
        f"{base_url}/find/tt9000100",
        params={"api_key": API_KEY, "external_source": "imdb_id"},
        timeout=30,
    )
    assert len(response.json()["movie_results"]) == 1
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert rest == ""


def test_api_key_and_token_never_appear_in_anything_the_emulator_prints() -> None:
    key, token = f"key-{uuid.uuid4().hex}", f"token-{uuid.uuid4().hex}"
    process = start_cli("--api-key", key, "--read-token", token, "--fault-500", "0.5")
    base_url = first_line(process).removeprefix("TMDB emulator listening on ").strip()
    with requests.Session() as s:
        for path in ("/movie/550", "/movie/1", "/nowhere", "/discover/movie"):
            s.get(base_url + path, params={"api_key": key}, timeout=30)
            s.get(base_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            s.get(base_url + path, params={"api_key": key + "x"}, timeout=30)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0
    for secret in (key, token):
        assert secret not in stdout
        assert secret not in stderr
