"""`/find` as TMDB really answers it: every hit followed in TMDB's kind, each title once a plan.

TMDB may file an IMDb id in the other kind than the CSV's, only as an episode or a season of a
series, in several lists, only as a person, or nowhere. The emulator is set, per test, to
answer in each of these shapes.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from test_tmdb_exactly_once import kill_after, slow_argv
from tmdb_fixtures import (  # noqa: F401 - fixtures are found by name
    MOVIES_CSV,
    SERIES_CSV,
    Lake,
    assert_exactly_once,
    csv_ids,
    ingest,
    local_lake_fixture,
    make_emulator_fixture,
    manifests,
    run_process,
    tmdb_env,
    tmdb_files,
)

from cinelake.testing.tmdb_emulator import Catalogue, FindHit, TmdbEmulator
from cinelake.testing.tmdb_find_shapes import AwkwardFinds, awkward_finds

FIGHT_CLUB = ("tt0137523", 550)
BREAKING_BAD = ("tt0903747", 1396)
EPISODE_ONLY = "tt7000001"
SEASON_ONLY = "tt7000002"


def csvs(folder: Path, movies: list[str], series: list[str]) -> dict[str, Path]:
    """A movies and a series CSV holding these IMDb ids (one row each)."""
    paths = {}
    for name, ids in (("movies_path", movies), ("series_path", series)):
        path = folder / f"{name}.csv"
        path.write_text("id|tituloPincipal\n" + "".join(f"{i}|t\n" for i in ids))
        paths[name] = path
    return paths


def from_csv(lake: Lake, emulator: TmdbEmulator, paths: dict[str, Path], **request: Any) -> Any:
    return ingest(lake, emulator, plan="from-csv", **paths, **request)


def note_naming(manifest: Any, count: str) -> str:
    (note,) = [n for n in manifest.notes if n.startswith(f"{count} ")]
    return str(note)


def test_a_series_csv_id_found_as_a_movie_lands_the_movies_details_under_movies(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], tmp_path: Path
) -> None:
    emulator = make_emulator(
        find_answers={BREAKING_BAD[0]: (FindHit("movie_results", FIGHT_CLUB[1]),)}
    )
    manifest = from_csv(local_lake, emulator, csvs(tmp_path, [], [BREAKING_BAD[0]]))

    assert manifest.status == "succeeded"
    assert (manifest.counts["landed"], manifest.counts["not_found"]) == (1, 0)
    assert manifest.counts["find_kind_mismatch"] == 1
    assert f"{BREAKING_BAD[0]} (series CSV) -> movie:550" in note_naming(
        manifest, "find_kind_mismatch"
    )
    assert_exactly_once(local_lake.store, {f"find-tv:{BREAKING_BAD[0]}", "movie:550"}, set())
    (details,) = [f for f in tmdb_files(local_lake.store) if "movie:550" in f.items]
    assert details.structure == "Movies"


def test_an_episode_only_hit_lands_the_series(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], tmp_path: Path
) -> None:
    emulator = make_emulator(
        find_answers={
            EPISODE_ONLY: (FindHit("tv_episode_results", BREAKING_BAD[1], 4),),
            SEASON_ONLY: (FindHit("tv_season_results", 66732, 2),),
        }
    )
    manifest = from_csv(local_lake, emulator, csvs(tmp_path, [], [EPISODE_ONLY, SEASON_ONLY]))

    assert manifest.counts["find_via_episode_or_season"] == 2
    assert manifest.counts["find_kind_mismatch"] == 0
    assert_exactly_once(
        local_lake.store,
        {f"find-tv:{EPISODE_ONLY}", f"find-tv:{SEASON_ONLY}", "tv:1396", "tv:66732"},
        set(),
    )


def test_two_hits_land_both_and_the_counts_and_notes_say_so(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], tmp_path: Path
) -> None:
    emulator = make_emulator(
        find_answers={
            BREAKING_BAD[0]: (
                FindHit("tv_results", BREAKING_BAD[1]),
                FindHit("movie_results", FIGHT_CLUB[1]),
            )
        }
    )
    manifest = from_csv(local_lake, emulator, csvs(tmp_path, [], [BREAKING_BAD[0]]))

    assert manifest.counts["landed"] == 2
    assert manifest.counts["find_multiple_hits"] == 1
    assert manifest.counts["find_kind_mismatch"] == 1
    assert "tt0903747 (series CSV) -> movie:550, tv:1396" in note_naming(
        manifest, "find_multiple_hits"
    )
    assert_exactly_once(
        local_lake.store, {f"find-tv:{BREAKING_BAD[0]}", "movie:550", "tv:1396"}, set()
    )


def test_a_movie_tmdb_knows_by_its_imdb_id_is_not_looked_up_with_find(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], tmp_path: Path
) -> None:
    """The price of one request per movie: a series carrying the same IMDb id as a movie is
    not followed, since no `/find` is asked (the README says so)."""
    emulator = make_emulator(
        find_answers={
            FIGHT_CLUB[0]: (
                FindHit("movie_results", FIGHT_CLUB[1]),
                FindHit("tv_results", BREAKING_BAD[1]),
            )
        }
    )
    manifest = from_csv(local_lake, emulator, csvs(tmp_path, [FIGHT_CLUB[0]], []))

    assert (manifest.counts["landed"], manifest.counts["find_multiple_hits"]) == (1, 0)
    assert "/3/find/tt0137523" not in emulator.stats().paths
    assert_exactly_once(local_lake.store, {"movie:550"}, set())


def test_a_movie_tmdb_does_not_know_as_a_movie_follows_every_hit_of_its_find(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], tmp_path: Path
) -> None:
    emulator = make_emulator(
        find_answers={
            FIGHT_CLUB[0]: (
                FindHit("tv_results", BREAKING_BAD[1]),
                FindHit("tv_episode_results", 66732, 3),
            )
        }
    )
    manifest = from_csv(local_lake, emulator, csvs(tmp_path, [FIGHT_CLUB[0]], []))

    assert emulator.stats().paths["/3/movie/tt0137523"] == 1
    assert manifest.counts["find_kind_mismatch"] == 1
    assert manifest.counts["find_multiple_hits"] == 1
    assert_exactly_once(
        local_lake.store, {f"imdb-movie:{FIGHT_CLUB[0]}", "tv:1396", "tv:66732"}, set()
    )


def test_a_title_reached_from_several_imdb_ids_is_fetched_once(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], tmp_path: Path
) -> None:
    emulator = make_emulator(
        find_answers={
            BREAKING_BAD[0]: (FindHit("movie_results", FIGHT_CLUB[1]),),
            EPISODE_ONLY: (FindHit("tv_episode_results", BREAKING_BAD[1], 1),),
            SEASON_ONLY: (FindHit("tv_results", BREAKING_BAD[1]),),
        }
    )
    paths = csvs(tmp_path, [FIGHT_CLUB[0]], [BREAKING_BAD[0], EPISODE_ONLY, SEASON_ONLY])

    manifest = from_csv(local_lake, emulator, paths, batch_size=1)

    assert manifest.counts["landed"] == 2
    assert emulator.stats().paths["/3/movie/tt0137523"] == 1, "the movie, by its IMDb id"
    assert "/3/movie/550" not in emulator.stats().paths, "not again, through another IMDb id"
    assert emulator.stats().paths["/3/tv/1396"] == 1
    finds = {f"find-tv:{BREAKING_BAD[0]}", f"find-tv:{EPISODE_ONLY}", f"find-tv:{SEASON_ONLY}"}
    assert_exactly_once(local_lake.store, {*finds, "movie:550", "tv:1396"}, set())


def test_only_an_id_without_any_hit_is_not_found_and_its_error_says_so(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], tmp_path: Path
) -> None:
    emulator = make_emulator(
        find_answers={FIGHT_CLUB[0]: (), BREAKING_BAD[0]: (FindHit("person_results", 287),)}
    )
    manifest = from_csv(local_lake, emulator, csvs(tmp_path, [FIGHT_CLUB[0], BREAKING_BAD[0]], []))

    assert manifest.counts["not_found"] == 1
    assert manifest.counts["find_person_only"] == 1
    tally = assert_exactly_once(
        local_lake.store,
        {f"imdb-movie:{FIGHT_CLUB[0]}", f"imdb-movie:{BREAKING_BAD[0]}"},
        {f"imdb-movie:{FIGHT_CLUB[0]}"},
    )
    error = tally.error_lines[f"imdb-movie:{FIGHT_CLUB[0]}"]
    assert (error["reason"], error["http_status"]) == ("not found", 200)
    assert "no hit at all" in error["status_message"]
    person_answer = json.loads(tally.bodies[f"imdb-movie:{BREAKING_BAD[0]}"])
    assert [p["id"] for p in person_answer["person_results"]] == [287], "kept in the Find record"


def test_an_ids_plan_follows_every_hit_of_an_imdb_id(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    emulator = make_emulator(
        find_answers={
            FIGHT_CLUB[0]: (
                FindHit("movie_results", FIGHT_CLUB[1]),
                FindHit("tv_results", BREAKING_BAD[1]),
            )
        }
    )
    manifest = ingest(local_lake, emulator, plan="ids", ids=(FIGHT_CLUB[0],))

    assert (manifest.counts["find_multiple_hits"], manifest.counts["find_kind_mismatch"]) == (1, 0)
    assert_exactly_once(local_lake.store, {f"find:{FIGHT_CLUB[0]}", "movie:550", "tv:1396"}, set())


# Every shape at once, on the sample CSVs -----------------------------------------------------
def expected_records(awkward: AwkwardFinds) -> tuple[set[str], set[str]]:
    """Records and errors of a from-csv run over the sample, worked out from the hits given.

    A movies-CSV id that TMDB answers by IMDb id as a movie lands that movie's details and no
    `/find` answer; any other id lands its `/find` answer and every title it names.
    """
    records: set[str] = set()
    errors: set[str] = set()
    seen: set[str] = set()
    for path, kind in ((MOVIES_CSV, "movie"), (SERIES_CSV, "tv")):
        for imdb_id in csv_ids(path):
            if imdb_id in seen:
                continue
            seen.add(imdb_id)
            hits = awkward.find_answers.get(imdb_id)
            if hits is None:
                found = [awkward.catalogue.by_imdb_id(k, imdb_id) for k in ("movie", "tv")]
                titles = [f"{t.kind}:{t.tmdb_id}" for t in found if t is not None]
                hits = ()
            else:
                titles = [
                    f"{'movie' if h.list_name == 'movie_results' else 'tv'}:{h.tmdb_id}"
                    for h in hits
                    if h.list_name != "person_results"
                ]
            movies = [t for t in titles if t.startswith("movie:")]
            if kind == "movie" and movies:
                records.add(movies[0])
                continue
            item = f"{'imdb-movie' if kind == 'movie' else 'find-tv'}:{imdb_id}"
            records.add(item)
            records |= set(titles)
            if not titles and not hits:
                errors.add(item)
    return records, errors


def test_kills_and_reruns_over_every_shape_land_each_title_exactly_once(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], tmp_path: Path
) -> None:
    awkward = awkward_finds(Catalogue.sample())
    emulator = make_emulator(
        catalogue=awkward.catalogue,
        find_answers=awkward.find_answers,
        latency_ms=10,
        gzip=True,
    )
    env = tmdb_env(emulator, local_lake)
    argv = slow_argv(local_lake)
    codes = [kill_after(argv, env, tmp_path, emulator, n) for n in (30, 150)]
    assert codes == [-signal.SIGKILL] * 2

    final = run_process(argv, env, tmp_path)

    assert final.code == 0, final.err
    records, errors = expected_records(awkward)
    assert_exactly_once(local_lake.store, records, errors)
    counts = manifests(local_lake.store)[-1]["counts"]
    assert (
        counts.items()
        >= {
            # The one id of several hits is a movies-CSV id TMDB answers as a movie by its
            # IMDb id: no /find is asked for it, so neither its other hit nor the kind is seen.
            "find_kind_mismatch": 4,
            "find_multiple_hits": 0,
            "find_via_episode_or_season": 2,
            "find_person_only": 1,
        }.items()
    )
    asked = emulator.stats().total_requests
    assert run_process(argv, env, tmp_path).code == 0
    assert emulator.stats().total_requests == asked, "a re-run after success asks nothing"
