"""The emulator answers in the shapes real TMDB uses, each one switchable per test.

`/find` hits of the other kind, episode and season hits with `show_id`, several hits, person
hits, empty answers; `/changes` items with `adult` true, false or null; gzip; every 401 body
TMDB documents; appended sub-objects without a top-level `id`.
"""

from __future__ import annotations

import gzip
import http.client
from collections.abc import Callable
from typing import Any

import pytest
import requests
from tmdb_fixtures import make_emulator_fixture  # noqa: F401 - fixtures are found by name

from cinelake.testing.tmdb_emulator import (
    AUTH_ERRORS,
    Catalogue,
    EmulatorConfig,
    FindHit,
    TmdbEmulator,
    main,
)
from cinelake.testing.tmdb_find_shapes import awkward_finds

API_KEY = EmulatorConfig().api_key
FIGHT_CLUB = ("tt0137523", 550)
BREAKING_BAD = ("tt0903747", 1396)
LISTS = ("movie_results", "person_results", "tv_results", "tv_episode_results", "tv_season_results")


def get_json(emulator: TmdbEmulator, path: str, **params: str) -> Any:
    response = requests.get(
        emulator.base_url + path, params={"api_key": API_KEY, **params}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def find(emulator: TmdbEmulator, imdb_id: str) -> dict[str, list[dict[str, Any]]]:
    body = get_json(emulator, f"/find/{imdb_id}", external_source="imdb_id")
    assert tuple(body) == LISTS
    return {name: body[name] for name in LISTS}


# /find ----------------------------------------------------------------------------------------
def test_a_series_id_can_be_answered_as_a_movie_hit(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(
        find_answers={BREAKING_BAD[0]: (FindHit("movie_results", FIGHT_CLUB[1]),)}
    )
    lists = find(emulator, BREAKING_BAD[0])
    assert [hit["id"] for hit in lists["movie_results"]] == [FIGHT_CLUB[1]]
    assert lists["movie_results"][0]["media_type"] == "movie"
    assert lists["tv_results"] == []


def test_episode_and_season_hits_carry_the_series_in_show_id(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(
        find_answers={
            "tt0000101": (FindHit("tv_episode_results", BREAKING_BAD[1], 3),),
            "tt0000102": (FindHit("tv_season_results", BREAKING_BAD[1], 2),),
        }
    )
    episode = find(emulator, "tt0000101")["tv_episode_results"][0]
    season = find(emulator, "tt0000102")["tv_season_results"][0]
    assert (episode["show_id"], episode["episode_number"], episode["media_type"]) == (
        BREAKING_BAD[1],
        3,
        "tv_episode",
    )
    assert (season["show_id"], season["season_number"], season["media_type"]) == (
        BREAKING_BAD[1],
        2,
        "tv_season",
    )
    assert episode["id"] != BREAKING_BAD[1] and season["id"] != BREAKING_BAD[1]


def test_one_id_can_hold_hits_in_several_lists(make_emulator: Callable[..., TmdbEmulator]) -> None:
    emulator = make_emulator(
        find_answers={
            FIGHT_CLUB[0]: (
                FindHit("movie_results", FIGHT_CLUB[1]),
                FindHit("tv_results", BREAKING_BAD[1]),
                FindHit("person_results", 287),
            )
        }
    )
    lists = find(emulator, FIGHT_CLUB[0])
    assert [len(lists[name]) for name in LISTS] == [1, 1, 1, 0, 0]
    assert lists["person_results"][0]["media_type"] == "person"


def test_a_known_id_can_be_answered_with_empty_lists(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(find_answers={FIGHT_CLUB[0]: ()})
    assert all(hits == [] for hits in find(emulator, FIGHT_CLUB[0]).values())


def test_a_hit_on_a_title_the_catalogue_lacks_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="no title"):
        TmdbEmulator(EmulatorConfig(find_answers={"tt0000101": (FindHit("tv_results", 1),)}))


def test_a_reclassified_series_is_found_and_served_as_a_movie(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(catalogue=Catalogue.sample().reclassified([BREAKING_BAD[0]]))
    lists = find(emulator, BREAKING_BAD[0])
    assert ([h["id"] for h in lists["movie_results"]], lists["tv_results"]) == ([1396], [])
    assert get_json(emulator, "/movie/1396")["imdb_id"] == BREAKING_BAD[0]
    assert requests.get(emulator.base_url + "/tv/1396", timeout=30).status_code == 401
    missing = requests.get(emulator.base_url + "/tv/1396", params={"api_key": API_KEY}, timeout=30)
    assert missing.status_code == 404


def test_awkward_finds_hold_every_shape() -> None:
    awkward = awkward_finds(Catalogue.sample())
    lists_used = {hit.list_name for hits in awkward.find_answers.values() for hit in hits}
    assert lists_used == set(LISTS)
    assert () in awkward.find_answers.values()
    assert any(len({h.list_name for h in hits}) > 1 for hits in awkward.find_answers.values())
    moved = list(Catalogue.sample().tv_imdb_ids())[:3]
    assert all(awkward.catalogue.by_imdb_id("movie", imdb_id) for imdb_id in moved)


def test_the_command_line_refuses_an_adult_value_tmdb_never_sends(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--awkward-finds", "--changes-adult", "maybe"]) == 2
    assert "--changes-adult" in capsys.readouterr().err


# /changes -------------------------------------------------------------------------------------
def test_changes_items_carry_adult_true_false_or_null(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(changes_adult=(True, False, None))
    body = get_json(emulator, "/movie/changes", start_date="2025-04-20", end_date="2025-05-01")
    assert {item["adult"] for item in body["results"]} == {True, False, None}
    assert all(set(item) == {"id", "adult"} for item in body["results"])


# gzip -----------------------------------------------------------------------------------------
def raw_get(emulator: TmdbEmulator, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    host, _, port = emulator.base_url.split("//")[1].split("/")[0].partition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("GET", f"/3{path}?api_key={API_KEY}", headers=headers)
    return connection.getresponse()


def test_gzip_answers_are_encoded_only_for_clients_that_accept_them(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator(gzip=True)
    encoded = raw_get(emulator, "/movie/550", {"Accept-Encoding": "gzip"})
    wire = encoded.read()
    plain = raw_get(emulator, "/movie/550", {"Accept-Encoding": "identity"})
    assert encoded.getheader("Content-Encoding") == "gzip"
    assert int(encoded.getheader("Content-Length") or 0) == len(wire)
    assert plain.getheader("Content-Encoding") is None
    assert gzip.decompress(wire) == plain.read()


# 401 ------------------------------------------------------------------------------------------
def test_every_401_tmdb_documents_is_listed() -> None:
    assert sorted(AUTH_ERRORS) == [3, 7, 10, 14, 16, 17, 30, 31, 32, 33, 35, 36, 38, 39]


@pytest.mark.parametrize("code", sorted(AUTH_ERRORS))
def test_a_refused_credential_gets_the_chosen_documented_401_body(
    make_emulator: Callable[..., TmdbEmulator], code: int
) -> None:
    emulator = make_emulator(auth_error=code)
    response = requests.get(emulator.base_url + "/movie/550", timeout=30)
    assert response.status_code == 401
    assert response.json() == {
        "status_code": code,
        "status_message": AUTH_ERRORS[code],
        "success": False,
    }


def test_a_scripted_401_uses_the_chosen_body(make_emulator: Callable[..., TmdbEmulator]) -> None:
    emulator = make_emulator(auth_error=10, scripted={"/3/movie/550": [401]})
    response = requests.get(
        emulator.base_url + "/movie/550", params={"api_key": API_KEY}, timeout=30
    )
    assert (response.status_code, response.json()["status_code"]) == (401, 10)


def test_an_auth_error_code_tmdb_does_not_document_for_401_is_refused() -> None:
    with pytest.raises(ValueError, match="401"):
        EmulatorConfig(auth_error=34)


# append_to_response ---------------------------------------------------------------------------
def test_appended_sub_objects_carry_no_top_level_id(
    make_emulator: Callable[..., TmdbEmulator],
) -> None:
    emulator = make_emulator()
    appended = "credits,external_ids,keywords,videos,watch/providers"
    body = get_json(emulator, "/movie/550", append_to_response=appended)
    for name in appended.split(","):
        assert isinstance(body[name], dict) and "id" not in body[name], name
    assert body["external_ids"]["imdb_id"] == FIGHT_CLUB[0]


@pytest.mark.parametrize("name", ["credits", "external_ids", "keywords", "watch/providers"])
def test_a_sub_resource_asked_on_its_own_path_carries_the_title_id(
    make_emulator: Callable[..., TmdbEmulator], name: str
) -> None:
    assert get_json(make_emulator(), f"/tv/1396/{name}")["id"] == 1396


def test_watch_providers_are_keyed_by_country(make_emulator: Callable[..., TmdbEmulator]) -> None:
    body = get_json(make_emulator(), "/movie/550", append_to_response="watch/providers")
    (country, offer), *_ = body["watch/providers"]["results"].items()
    assert len(country) == 2 and offer["flatrate"][0]["provider_name"]
