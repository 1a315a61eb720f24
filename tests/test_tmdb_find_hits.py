"""Which titles a `/find` answer leads to, and what it counts: plain data in, plain data out."""

from __future__ import annotations

from typing import Any

import pytest

from cinelake.tmdb.find_hits import (
    FIND_COUNTS,
    KIND_MISMATCH,
    MULTIPLE_HITS,
    PERSON_ONLY,
    VIA_EPISODE_OR_SEASON,
    FindTally,
    csv_kind_of,
    find_hits,
)


def answer(**lists: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    names = ("movie_results", "person_results", "tv_results", "tv_episode_results")
    body = {name: [] for name in (*names, "tv_season_results")}
    body.update(lists)
    return body


def test_a_hit_of_the_csvs_kind_is_followed_and_counts_nothing() -> None:
    hits = find_hits(answer(movie_results=[{"id": 550}]), "movie")
    assert (hits.titles, hits.counts, hits.no_hit) == (("movie:550",), (), False)


def test_a_series_id_found_as_a_movie_is_followed_as_a_movie() -> None:
    hits = find_hits(answer(movie_results=[{"id": 12}]), "tv")
    assert hits.titles == ("movie:12",)
    assert hits.counts == (KIND_MISMATCH,)


def test_an_episode_hit_leads_to_its_series() -> None:
    hits = find_hits(answer(tv_episode_results=[{"id": 62085, "show_id": 1396}]), "tv")
    assert hits.titles == ("tv:1396",)
    assert hits.counts == (VIA_EPISODE_OR_SEASON,)


def test_a_season_hit_leads_to_its_series() -> None:
    hits = find_hits(answer(tv_season_results=[{"id": 3572, "show_id": 1396}]), None)
    assert (hits.titles, hits.counts) == (("tv:1396",), (VIA_EPISODE_OR_SEASON,))


def test_a_movies_csv_id_found_only_as_an_episode_is_of_the_other_kind() -> None:
    hits = find_hits(answer(tv_episode_results=[{"id": 1, "show_id": 1396}]), "movie")
    assert set(hits.counts) == {KIND_MISMATCH, VIA_EPISODE_OR_SEASON}


def test_a_series_and_an_episode_of_it_are_one_title() -> None:
    hits = find_hits(
        answer(tv_results=[{"id": 1396}], tv_episode_results=[{"id": 62085, "show_id": 1396}]),
        "tv",
    )
    assert (hits.titles, hits.counts) == (("tv:1396",), ())


def test_a_movie_and_a_series_with_the_same_imdb_id_are_both_followed() -> None:
    hits = find_hits(answer(movie_results=[{"id": 12}], tv_results=[{"id": 1399}]), "movie")
    assert hits.titles == ("movie:12", "tv:1399")
    assert hits.counts == (KIND_MISMATCH, MULTIPLE_HITS)


def test_without_a_csv_kind_nothing_is_of_the_other_kind() -> None:
    hits = find_hits(answer(movie_results=[{"id": 12}], tv_results=[{"id": 1399}]), None)
    assert hits.counts == (MULTIPLE_HITS,)


def test_titles_come_in_a_fixed_order_whatever_the_lists_order() -> None:
    body = {"tv_results": [{"id": 2}], "movie_results": [{"id": 9}, {"id": 3}]}
    assert find_hits(body, None).titles == ("movie:9", "movie:3", "tv:2")


def test_a_person_hit_is_not_followed_and_is_not_not_found() -> None:
    hits = find_hits(answer(person_results=[{"id": 287}]), "movie")
    assert (hits.titles, hits.counts, hits.no_hit) == ((), (PERSON_ONLY,), False)


def test_a_person_beside_a_title_counts_nothing() -> None:
    hits = find_hits(answer(movie_results=[{"id": 5}], person_results=[{"id": 287}]), "movie")
    assert (hits.titles, hits.counts) == (("movie:5",), ())


def test_empty_lists_are_no_hit_at_all() -> None:
    hits = find_hits(answer(), "tv")
    assert (hits.titles, hits.counts, hits.no_hit) == ((), (), True)


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"movie_results": None},
        {"movie_results": [None, "x", {"id": "550"}, {"id": True}, {"id": -1}, {}]},
        {"tv_episode_results": [{"id": 7}]},
    ],
)
def test_malformed_hits_lead_nowhere_instead_of_failing(body: Any) -> None:
    assert find_hits(body, "movie").titles == ()


@pytest.mark.parametrize(
    ("item", "kind"),
    [("find-movie:tt1", "movie"), ("find-tv:tt1", "tv"), ("find:tt1", None)],
)
def test_the_csv_kind_comes_from_the_item(item: str, kind: str | None) -> None:
    assert csv_kind_of(item) == kind


def test_a_tally_counts_each_lookup_once_and_keeps_three_examples() -> None:
    tally = FindTally()
    for n in range(5):
        tally.add(f"find-tv:tt000000{n}", (KIND_MISMATCH,), [f"movie:{n}"])
    assert tally.manifest_counts() == {name: 5 * (name == KIND_MISMATCH) for name in FIND_COUNTS}
    (note,) = tally.notes()
    assert note.startswith("find_kind_mismatch 5: IMDb ids TMDB found in the other kind")
    assert "tt0000000 (series CSV) -> movie:0" in note and "tt0000003" not in note


def test_merged_tallies_add_up_and_keep_the_first_examples() -> None:
    first, second = FindTally(), FindTally()
    first.add("find:tt1", (MULTIPLE_HITS,), ["movie:1", "tv:1"])
    second.add("find:tt2", (MULTIPLE_HITS,), ["movie:2", "tv:2"])
    first.merge(second)
    assert first.counts[MULTIPLE_HITS] == 2
    assert first.examples[MULTIPLE_HITS] == ["tt1 -> movie:1, tv:1", "tt2 -> movie:2, tv:2"]


def test_a_tally_without_findings_has_no_notes() -> None:
    assert FindTally().notes() == []
