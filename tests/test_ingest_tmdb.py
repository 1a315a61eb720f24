"""`cinelake ingest-tmdb` end to end: each plan on a local lake and on S3 (moto), and what lands."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tmdb_fixtures import (  # noqa: F401 - fixtures are found by name
    API_KEY,
    DAY,
    MOVIES_CSV,
    RUN_DATE,
    SERIES_CSV,
    Lake,
    assert_exactly_once,
    cli,
    emulator_body,
    emulator_fixture,
    expected_from_csv,
    fast_client,
    holds_only_leases,
    ingest,
    lake_fixture,
    land_sample_csvs,
    landed,
    local_lake_fixture,
    make_emulator_fixture,
    manifests,
    same_command,
    tmdb_argv,
    tmdb_env,
    tmdb_files,
)

from cinelake.errors import UsageError
from cinelake.lake import layout
from cinelake.testing.tmdb_emulator import RESET, Catalogue, TmdbEmulator
from cinelake.tmdb import client as client_module
from cinelake.tmdb import rounds as retry_rounds
from cinelake.tmdb.checkpoints import MAX_FILE_BYTES, split_records
from cinelake.tmdb.client import TmdbClient
from cinelake.tmdb.outcomes import Outcome
from cinelake.tmdb.phase import Deadline
from cinelake.tmdb.plans import request_of
from cinelake.tmdb.request import TmdbIngestRequest
from cinelake.tmdb.retry import RetryPolicy
from cinelake.tmdb.service import run_tmdb_ingest

FIGHT_CLUB = "movie:550"
BREAKING_BAD = "tv:1396"
OTHER_MOVIE = "movie:149461"
UNKNOWN_IMDB = "tt0000001"
KEY_PATTERN = re.compile(
    r"^Raw/TMDB/JSON/(Movies|Series|Find|Discover|Changes|Errors)/2025/05/01/"
    r"\d{8}T\d{6}Z-[a-z-]+-[0-9a-f]{12}-(find|details|discover|changes)-\d{6}-\d{2}\.json$"
)


def ingest_json(lake: Lake, emulator: TmdbEmulator, *args: str) -> dict[str, Any]:
    """Run the CLI with `--json`; it must succeed; returns the printed manifest."""
    result = cli([*tmdb_argv(lake, *args), "--json", "-q"], tmdb_env(emulator, lake))
    assert result.code == 0, result.err
    return result.manifest()


# Plans ----------------------------------------------------------------------------------------
def test_from_csv_fetches_the_ids_of_the_csvs_landed_in_the_lake(
    lake: Lake, emulator: TmdbEmulator
) -> None:
    land_sample_csvs(lake, tmdb_env(emulator, lake))
    manifest = ingest_json(lake, emulator)
    expected = expected_from_csv()
    assert manifest["status"] == "succeeded"
    assert manifest["counts"]["requested"] == len(expected.finds) == 200
    assert manifest["counts"]["landed"] == len(expected.details)
    assert manifest["counts"]["not_found"] == len(expected.unknown) > 0
    assert manifest["counts"]["failed"] == 0
    assert_exactly_once(lake.store, expected.records, set(expected.unknown))
    stats = emulator.stats()
    assert stats.by_endpoint["find"] == expected.find_requests
    assert stats.by_endpoint["movie"] + stats.by_endpoint["tv"] == expected.details_requests


def test_from_csv_reads_local_movies_and_series_files(lake: Lake, emulator: TmdbEmulator) -> None:
    manifest = ingest_json(lake, emulator, "--movies", str(MOVIES_CSV), "--series", str(SERIES_CSV))
    expected = expected_from_csv()
    assert manifest["status"] == "succeeded"
    assert_exactly_once(lake.store, expected.records, set(expected.unknown))
    assert not list(lake.store.list("Raw/Local/"))


def test_from_csv_with_only_a_movies_file_looks_up_movies_only(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    ingest_json(local_lake, emulator, "--movies", str(MOVIES_CSV))
    tally = landed(local_lake.store)
    assert tally.records
    assert all(i.startswith(("imdb-movie:", "movie:")) for i in tally.records)


def test_from_csv_without_landed_csvs_is_refused_before_any_request(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    result = cli(tmdb_argv(local_lake), tmdb_env(emulator, local_lake))
    assert result.code == 2
    assert "ingest-csv" in result.err
    assert emulator.stats().total_requests == 0


def test_a_refused_key_leaves_nothing_in_the_lake_not_even_a_plan(
    lake: Lake, emulator: TmdbEmulator
) -> None:
    env = tmdb_env(emulator, lake, TMDB_API_KEY="not-the-key")
    result = cli(tmdb_argv(lake, "--ids", "movie:550,tv:1396"), env)
    assert result.code == 2
    assert "401" in result.err
    assert holds_only_leases(lake.store)


def test_an_unreachable_tmdb_leaves_nothing_in_the_lake_not_even_a_plan(
    local_lake: Lake, emulator: TmdbEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "RetryPolicy", functools.partial(RetryPolicy, base_delay=0))
    env = tmdb_env(emulator, local_lake, TMDB_BASE_URL="http://127.0.0.1:9/3")
    result = cli(tmdb_argv(local_lake, "--ids", "movie:550,tv:1396"), env)
    assert result.code == 2
    assert "cannot reach TMDB" in result.err and "nothing was planned" in result.err
    assert holds_only_leases(local_lake.store)


def test_an_unreachable_tmdb_stopped_by_the_deadline_leaves_nothing_in_the_lake(
    local_lake: Lake,
) -> None:
    client = TmdbClient("http://127.0.0.1:9/3", api_key=API_KEY, policy=RetryPolicy(base_delay=0))
    request = TmdbIngestRequest(plan="ids", run_date=RUN_DATE, ids=(FIGHT_CLUB, BREAKING_BAD))
    with pytest.raises(UsageError, match="cannot reach TMDB"):
        # Inside the 2 s stop margin from the start: the first refusal ends the run.
        run_tmdb_ingest(
            request,
            settings=local_lake.settings,
            store=local_lake.store,
            client=client,
            deadline=Deadline(1.9),
        )
    client.close()
    assert holds_only_leases(local_lake.store)


def test_a_first_title_that_never_answers_is_kept_as_a_failure_not_blamed_on_tmdb(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "RetryPolicy", functools.partial(RetryPolicy, base_delay=0))
    emulator = make_emulator(scripted={"/3/movie/550": [RESET] * 6})
    env = tmdb_env(emulator, local_lake)
    result = cli(tmdb_argv(local_lake, "--ids", "movie:550,tv:1396"), env)
    assert result.code == 1, result.err
    assert "cannot reach TMDB" not in result.err
    assert_exactly_once(local_lake.store, {BREAKING_BAD}, {FIGHT_CLUB})


def test_a_base_url_without_the_api_version_is_refused_before_planning(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    """Every title would come back 404 "not found", and the sealed plan would never ask again."""
    env = tmdb_env(emulator, local_lake, TMDB_BASE_URL=emulator.base_url.removesuffix("/3"))
    result = cli(tmdb_argv(local_lake, "--movies", str(MOVIES_CSV)), env)
    assert result.code == 2
    assert "must end in the API version" in result.err
    assert holds_only_leases(local_lake.store)


def test_the_answer_asked_before_planning_is_not_asked_for_again(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    manifest = ingest_json(local_lake, emulator, "--ids", "movie:550")
    assert manifest["status"] == "succeeded"
    assert emulator.stats().total_requests == 1
    assert_exactly_once(local_lake.store, {FIGHT_CLUB}, set())


def land_csv(lake: Lake, emulator: TmdbEmulator, dataset: str, path: Path) -> None:
    argv = ["ingest-csv", *lake.argv(), "--date", DAY, "--file", f"{dataset}={path}", "-q"]
    result = cli(argv, tmdb_env(emulator, lake))
    assert result.code == 0, result.err


def semicolon_copy(source: Path, folder: Path) -> Path:
    """The same file saved with `;` as its delimiter, as a spreadsheet would."""
    copy = folder / "filmes.csv"
    copy.write_bytes(source.read_bytes().replace(b"|", b";"))
    return copy


def test_a_landed_csv_without_an_id_column_is_skipped_with_a_note_not_fatal(
    local_lake: Lake, emulator: TmdbEmulator, tmp_path: Path
) -> None:
    land_csv(local_lake, emulator, "Movies", semicolon_copy(MOVIES_CSV, tmp_path))
    land_csv(local_lake, emulator, "Series", SERIES_CSV)

    manifest = ingest_json(local_lake, emulator)

    assert manifest["status"] == "succeeded"
    assert any("filmes.csv has no `id` column" in note for note in manifest["notes"])
    assert landed(local_lake.store).records
    assert all(i.startswith(("find-tv:", "tv:")) for i in landed(local_lake.store).records)


def test_a_date_whose_landed_csvs_have_no_id_column_is_refused_before_any_request(
    local_lake: Lake, emulator: TmdbEmulator, tmp_path: Path
) -> None:
    land_csv(local_lake, emulator, "Movies", semicolon_copy(MOVIES_CSV, tmp_path))

    result = cli(tmdb_argv(local_lake), tmdb_env(emulator, local_lake))

    assert result.code == 2
    assert "no landed CSV of 2025-05-01 has ids to look up" in result.err
    assert emulator.stats().total_requests == 0
    assert holds_only_leases(local_lake.store, under="Raw/_state/")


def test_a_csv_landed_later_the_same_day_adds_only_its_new_titles(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    land_csv(local_lake, emulator, "Movies", MOVIES_CSV)
    assert ingest_json(local_lake, emulator)["status"] == "succeeded"
    land_csv(local_lake, emulator, "Series", SERIES_CSV)

    second = ingest_json(local_lake, emulator)

    expected = expected_from_csv()
    movies_only = expected_from_csv(series=None)
    assert second["status"] == "succeeded"
    assert second["counts"]["requested"] == len(expected.finds) - len(movies_only.finds)
    assert any("were already looked up for this date" in note for note in second["notes"])
    assert_exactly_once(local_lake.store, expected.records, set(expected.unknown))
    assert emulator.stats().by_endpoint["find"] == expected.find_requests


def test_the_same_titles_with_another_append_list_are_fetched_again(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    land_csv(local_lake, emulator, "Movies", MOVIES_CSV)
    first = ingest_json(local_lake, emulator)

    second = ingest_json(local_lake, emulator, "--append", "credits,videos")

    assert second["counts"]["requested"] == first["counts"]["requested"] > 0


def test_a_lookup_that_failed_for_good_gets_another_chance_in_the_next_plan(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    first_find = expected_from_csv(series=None).finds[0].partition(":")[2]
    emulator = make_emulator(scripted={f"/3/movie/{first_find}": [422]})
    land_csv(local_lake, emulator, "Movies", MOVIES_CSV)
    sealed = cli([*tmdb_argv(local_lake), "--json", "-q"], tmdb_env(emulator, local_lake))
    assert sealed.manifest()["counts"]["failed"] == 1
    land_csv(local_lake, emulator, "Series", SERIES_CSV)

    second = ingest_json(local_lake, emulator)

    new_titles = len(expected_from_csv().finds) - len(expected_from_csv(series=None).finds)
    assert second["counts"]["requested"] == new_titles + 1
    assert movie_of(first_find) in landed(local_lake.store).records


def test_a_series_id_tmdb_knows_as_a_movie_is_not_looked_up_again_from_the_movies_csv(
    local_lake: Lake, emulator: TmdbEmulator, tmp_path: Path
) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "m").mkdir()
    series = tmp_path / "s" / "series.csv"
    series.write_text("id|tituloPincipal\ntt0137523|Clube da Luta (filed as a series)\n")
    movies = tmp_path / "m" / "movies.csv"
    movies.write_text("id|tituloPincipal\ntt0137523|Clube da Luta\n")
    land_csv(local_lake, emulator, "Series", series)
    first = ingest_json(local_lake, emulator)
    assert (first["counts"]["not_found"], first["counts"]["find_kind_mismatch"]) == (0, 1)
    land_csv(local_lake, emulator, "Movies", movies)

    second = ingest_json(local_lake, emulator)

    assert second["counts"]["requested"] == 0
    assert_exactly_once(local_lake.store, {"find-tv:tt0137523", FIGHT_CLUB}, set())


def test_id_values_that_are_not_imdb_ids_are_not_looked_up(
    local_lake: Lake, emulator: TmdbEmulator, tmp_path: Path
) -> None:
    movies = tmp_path / "movies.csv"
    movies.write_text("id|tituloPincipal\ntt0137523/|garbled\n\\N|null\ntt0137523|Clube da Luta\n")

    manifest = ingest_json(local_lake, emulator, "--movies", str(movies))

    assert manifest["counts"]["requested"] == 1
    assert emulator.stats().paths["/3/movie/tt0137523"] == 1


def test_a_damaged_checkpoint_of_a_sealed_plan_does_not_stop_the_next_csv_plan(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    land_csv(local_lake, emulator, "Movies", MOVIES_CSV)
    sealed = ingest_json(local_lake, emulator)
    plan_key = f"{layout.state_prefix(RUN_DATE, sealed['options']['plan_id'])}plan.json"
    (Path(local_lake.url) / plan_key).write_bytes(b'{"truncated')
    land_csv(local_lake, emulator, "Series", SERIES_CSV)

    second = ingest_json(local_lake, emulator)

    assert second["status"] == "succeeded"
    assert second["counts"]["requested"] == len(expected_from_csv().finds)


def test_titles_of_an_unsealed_plan_are_asked_again_by_the_next_one_not_lost(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan with a retry pending is never resumed once the files changed: nothing is left out."""
    monkeypatch.setattr(client_module, "RetryPolicy", functools.partial(RetryPolicy, base_delay=0))
    first_find = expected_from_csv(series=None).finds[0].partition(":")[2]
    emulator = make_emulator(scripted={f"/3/movie/{first_find}": [500] * 6})
    land_csv(local_lake, emulator, "Movies", MOVIES_CSV)
    unsealed = cli([*tmdb_argv(local_lake), "--json", "-q"], tmdb_env(emulator, local_lake))
    assert unsealed.manifest()["counts"]["failed"] == 1
    land_csv(local_lake, emulator, "Series", SERIES_CSV)

    second = ingest_json(local_lake, emulator)

    expected = expected_from_csv()
    assert second["counts"]["requested"] == len(expected.finds)
    every_title = {*expected.details, movie_of(first_find)}
    assert landed(local_lake.store).records.keys() >= every_title


def test_ids_plan_resolves_imdb_ids_and_fetches_each_title_once(
    lake: Lake, emulator: TmdbEmulator
) -> None:
    manifest = ingest_json(lake, emulator, "--ids", "movie:550,tv:1396,tt0137523")
    assert manifest["status"] == "succeeded"
    assert_exactly_once(lake.store, {"find:tt0137523", FIGHT_CLUB, BREAKING_BAD}, set())
    paths = emulator.stats().paths
    assert paths["/3/find/tt0137523"] == 1
    assert paths["/3/movie/550"] == 1, "tt0137523 is movie 550: fetched once, not twice"
    assert paths["/3/tv/1396"] == 1
    structures = {f.structure: f.items for f in tmdb_files(lake.store)}
    assert structures == {
        "Find": ["find:tt0137523"],
        "Movies": [FIGHT_CLUB],
        "Series": [BREAKING_BAD],
    }


def test_ids_file_plan_reads_one_id_a_line(
    lake: Lake, emulator: TmdbEmulator, tmp_path: Path
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text(
        "# titles to refresh\nmovie:550\n\ntv:1396\ntt0903747\nmovie:550\n", encoding="utf-8"
    )
    manifest = ingest_json(lake, emulator, "--ids-file", str(ids))
    assert manifest["status"] == "succeeded"
    assert_exactly_once(lake.store, {"find:tt0903747", FIGHT_CLUB, BREAKING_BAD}, set())
    assert emulator.stats().paths["/3/tv/1396"] == 1


def test_discover_lands_the_pages_themselves(lake: Lake, emulator: TmdbEmulator) -> None:
    manifest = ingest_json(
        lake,
        emulator,
        "--discover",
        "movie",
        "--max-pages",
        "3",
        "--param",
        "sort_by=popularity.desc",
    )
    assert manifest["status"] == "succeeded"
    pages = {f"discover-movie:{n}" for n in (1, 2, 3)}
    tally = assert_exactly_once(lake.store, pages, set())
    stats = emulator.stats()
    assert stats.paths == {"/3/discover/movie": 3}
    assert all("sort_by=popularity.desc" in r for r in stats.requests)
    for item in pages:
        path, params = request_of(item, (), {"sort_by": "popularity.desc"})
        body = emulator_body_for(emulator, path, params)
        assert tally.bodies[item] == body
    assert {f.structure for f in tmdb_files(lake.store)} == {"Discover"}


def test_discover_with_more_pages_on_the_same_date_fetches_the_extra_pages(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    first = ingest(local_lake, emulator, plan="discover", kind="movie", max_pages=2)
    assert first.counts["landed"] == 2
    second = ingest(local_lake, emulator, plan="discover", kind="movie", max_pages=4)
    assert second.status == "succeeded"
    assert second.counts["landed"] == 4
    pages = [f"discover-movie:{n}" for n in range(1, 5)]
    tally = landed(local_lake.store)
    assert set(pages) <= set(tally.records)


def emulator_body_for(emulator: TmdbEmulator, path: str, params: dict[str, str]) -> bytes:
    import requests

    response = requests.get(
        emulator.base_url + path, params={**params, "api_key": API_KEY}, timeout=30
    )
    return response.content


def test_discover_stops_at_page_500_and_never_asks_for_page_501(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    emulator = make_emulator(catalogue=Catalogue.synthetic(10_500, 0))
    manifest = ingest(local_lake, emulator, plan="discover", kind="movie")
    assert manifest.status == "succeeded"
    stats = emulator.stats()
    pages = [int(re.search(r"page=(\d+)", r).group(1)) for r in stats.requests]  # type: ignore[union-attr]
    assert max(pages) == 500
    assert 501 not in pages
    assert stats.paths["/3/discover/movie"] == 500
    assert stats.by_status[400] == 0
    assert manifest.counts["landed"] == 500


def test_changes_lands_change_pages_then_the_details_of_the_changed_titles(
    lake: Lake, emulator: TmdbEmulator
) -> None:
    since = RUN_DATE - timedelta(days=20)
    manifest = ingest_json(lake, emulator, "--changes", "movie", "--since", since.isoformat())
    assert manifest["status"] == "succeeded"
    stats = emulator.stats()
    windows = sorted(
        {
            (
                re.search(r"start_date=([\d-]+)", r).group(1),
                re.search(r"end_date=([\d-]+)", r).group(1),
            )  # type: ignore[union-attr]
            for r in stats.requests
            if r.startswith("/3/movie/changes")
        }
    )
    assert windows[0][0] == since.isoformat()
    assert windows[-1][1] == DAY
    for start, end in windows:
        assert (datetime.fromisoformat(end) - datetime.fromisoformat(start)).days < 14
    assert stats.by_status[422] == 0
    files = tmdb_files(lake.store)
    change_items = {i for f in files if f.structure == "Changes" for i in f.items}
    assert {i.rsplit(":", 1)[0] for i in change_items} == {
        f"changes-movie:{start}:{end}" for start, end in windows
    }
    changed: set[str] = set()
    for f in files:
        if f.structure == "Changes":
            for line in f.lines:
                changed.update(f"movie:{r['id']}" for r in json.loads(line)["results"])
    assert changed
    assert_exactly_once(lake.store, change_items | changed, set())
    assert {f.structure for f in files} == {"Changes", "Movies"}
    assert manifest["counts"]["landed"] == len(changed)


# What lands -----------------------------------------------------------------------------------
def test_every_record_is_the_emulators_body_byte_for_byte(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    manifest = ingest(
        local_lake, emulator, plan="from-csv", movies_path=MOVIES_CSV, series_path=SERIES_CSV
    )
    assert manifest.status == "succeeded"
    tally = landed(local_lake.store)
    assert len(tally.bodies) == len(expected_from_csv().records)
    for item, record in tally.bodies.items():
        asked = f"find:{item.partition(':')[2]}" if item.startswith("imdb-movie:") else item
        assert record == emulator_body(emulator, asked), item


def test_each_file_holds_one_structure_and_at_most_batch_size_records(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    ingest(
        local_lake,
        emulator,
        plan="from-csv",
        movies_path=MOVIES_CSV,
        series_path=SERIES_CSV,
        batch_size=7,
    )
    structure_of = {"movie": "Movies", "tv": "Series", "find-movie": "Find", "find-tv": "Find"}
    files = tmdb_files(local_lake.store)
    assert len(files) > 200 / 7
    for file in files:
        assert KEY_PATTERN.match(file.key), file.key
        assert 1 <= len(file.lines) <= 7
        if file.structure != "Errors":
            # A movie asked by IMDb id lands its details, or the /find answer TMDB gave.
            structure_of["imdb-movie"] = "Find" if file.structure == "Find" else "Movies"
            kinds = {structure_of[i.partition(":")[0]] for i in file.items}
            assert kinds == {file.structure}, file.key


def test_file_names_sort_in_fetch_order_and_differ_between_plans(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    ingest(local_lake, emulator, plan="ids", ids=("movie:550",), batch_size=1)
    order = ("movie:519331", "movie:550", "movie:149461")
    ingest(local_lake, emulator, plan="ids", ids=order, batch_size=1)
    movies = [f for f in tmdb_files(local_lake.store) if f.structure == "Movies"]
    assert len(movies) == 4
    by_plan: dict[str, list[tuple[str, str]]] = {}
    for file in movies:
        plan_prefix = file.key.rsplit("/", 1)[1].split("-details-")[0]
        by_plan.setdefault(plan_prefix, []).append((file.key, file.items[0]))
    assert len(by_plan) == 2, "two plans on the same date must never share a file name"
    second = next(files for files in by_plan.values() if len(files) == 3)
    assert [item for _, item in sorted(second)] == list(order)


def test_a_body_with_raw_line_breaks_is_compacted_and_flagged(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    emulator = make_emulator(raw_newline_ids=frozenset({550}))
    manifest = ingest(local_lake, emulator, plan="ids", ids=(FIGHT_CLUB, OTHER_MOVIE))
    assert manifest.counts["compacted_records"] == 1
    assert any("line breaks" in note for note in manifest.notes)
    tally = landed(local_lake.store)
    pretty = emulator_body(emulator, FIGHT_CLUB)
    assert b"\n" in pretty
    compact = json.dumps(json.loads(pretty), ensure_ascii=False, separators=(",", ":")).encode()
    assert tally.bodies[FIGHT_CLUB] == compact
    assert json.loads(tally.bodies[FIGHT_CLUB]) == json.loads(pretty)
    assert tally.bodies[OTHER_MOVIE] == emulator_body(emulator, OTHER_MOVIE)


def _big(item: str, size: int) -> Outcome:
    return Outcome(item, "landed", record=b"x" * size)


def test_split_keeps_every_file_within_ten_megabytes() -> None:
    outcomes = [_big(f"movie:{n}", 3_000_000) for n in range(10)]
    chunks = list(split_records(outcomes, 100))
    assert [o for chunk in chunks for o in chunk] == outcomes
    assert len(chunks) == 4
    for chunk in chunks:
        assert sum(len(o.record or b"") + 1 for o in chunk) <= MAX_FILE_BYTES


def test_split_keeps_every_file_within_the_batch_size() -> None:
    outcomes = [_big(f"movie:{n}", 10) for n in range(23)]
    chunks = list(split_records(outcomes, 7))
    assert [len(c) for c in chunks] == [7, 7, 7, 2]


def test_split_puts_a_record_larger_than_the_limit_alone_in_its_file() -> None:
    outcomes = [_big("movie:1", 100), _big("movie:2", MAX_FILE_BYTES + 5), _big("movie:3", 100)]
    chunks = list(split_records(outcomes, 100))
    assert [[o.item for o in c] for c in chunks] == [["movie:1"], ["movie:2"], ["movie:3"]]


def test_files_over_ten_megabytes_are_split_when_landing(
    local_lake: Lake, emulator: TmdbEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same rule, scaled down: with a 5 KB limit, a batch of details spreads over parts."""
    from cinelake.tmdb import checkpoints

    monkeypatch.setattr(checkpoints, "MAX_FILE_BYTES", 5_000)
    manifest = ingest(
        local_lake, emulator, plan="ids", ids=(FIGHT_CLUB, OTHER_MOVIE, "movie:519331")
    )
    assert manifest.status == "succeeded"
    movies = [f for f in tmdb_files(local_lake.store) if f.structure == "Movies"]
    assert len(movies) >= 2
    for file in movies:
        assert len(file.data) <= 5_000 or len(file.lines) == 1


def test_unknown_imdb_ids_and_404s_land_in_the_errors_file(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    manifest = ingest_json(
        local_lake, emulator, "--ids", f"{UNKNOWN_IMDB},movie:999999999,movie:550"
    )
    assert manifest["status"] == "succeeded"
    assert manifest["counts"]["not_found"] == 2
    assert manifest["counts"]["failed"] == 0
    tally = assert_exactly_once(
        local_lake.store,
        {f"find:{UNKNOWN_IMDB}", FIGHT_CLUB},
        {f"find:{UNKNOWN_IMDB}", "movie:999999999"},
    )
    unknown = tally.error_lines[f"find:{UNKNOWN_IMDB}"]
    assert unknown["endpoint"] == f"/find/{UNKNOWN_IMDB}?external_source=imdb_id"
    assert unknown["http_status"] == 200
    assert unknown["status_code"] is None
    assert "no hit at all" in unknown["status_message"]
    missing = tally.error_lines["movie:999999999"]
    assert (
        missing["endpoint"] == "/movie/999999999?append_to_response=credits,external_ids,keywords"
    )
    assert missing["http_status"] == 404
    assert missing["status_code"] == 34
    assert missing["status_message"] == "The resource you requested could not be found."
    assert missing["attempts"] == 1
    for error in (unknown, missing):
        assert set(error) >= {
            "item",
            "endpoint",
            "http_status",
            "status_code",
            "status_message",
            "attempts",
            "time",
        }
        assert "api_key" not in error["endpoint"] and API_KEY not in json.dumps(error)
        datetime.fromisoformat(error["time"].replace("Z", "+00:00"))
    errors_files = [o["key"] for o in manifest["objects"] if o["structure"] == "Errors"]
    assert errors_files and manifest["options"]["errors_files"] == errors_files
    assert all(k.startswith("Raw/TMDB/JSON/Errors/2025/05/01/") for k in errors_files)


def test_items_whose_retries_ran_out_land_in_the_errors_file(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [500] * 3})
    client = fast_client(emulator, policy=RetryPolicy(max_attempts=3, base_delay=0))
    manifest = ingest(local_lake, emulator, client, plan="ids", ids=(FIGHT_CLUB, BREAKING_BAD))
    client.close()
    assert manifest.status == "partial"
    assert manifest.counts["failed"] == 1
    tally = assert_exactly_once(local_lake.store, {BREAKING_BAD}, {FIGHT_CLUB})
    error = tally.error_lines[FIGHT_CLUB]
    assert error["http_status"] == 500
    assert error["status_code"] == 11
    assert error["attempts"] == 3
    assert error["endpoint"].startswith("/movie/550")


# A later run asks again for what failed --------------------------------------------------------
def test_a_rerun_asks_again_for_items_whose_retries_ran_out_and_lands_them_once(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [500] * 3})
    run = same_command(local_lake, emulator, FIGHT_CLUB, BREAKING_BAD)

    first = run()
    second = run()

    assert (first.status, first.counts["failed"]) == ("partial", 1)
    assert (second.status, second.counts["failed"], second.counts["landed"]) == ("succeeded", 0, 2)
    assert second.counts["retry_rounds"] == 1
    assert emulator.stats().paths["/3/movie/550"] == 4, "3 failed attempts, then one more run"
    assert emulator.stats().paths["/3/tv/1396"] == 1
    tally = assert_exactly_once(local_lake.store, {FIGHT_CLUB, BREAKING_BAD}, {FIGHT_CLUB})
    assert tally.error_lines[FIGHT_CLUB]["http_status"] == 500, "the failure stays on record"
    requests = emulator.stats().total_requests
    third = run()
    assert third.status == "succeeded"
    assert emulator.stats().total_requests == requests


def test_a_lookup_that_failed_is_asked_again_and_its_title_then_fetched(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    emulator = make_emulator(scripted={"/3/find/tt0137523": [500] * 3})
    run = same_command(local_lake, emulator, "tt0137523")

    first = run()
    second = run()

    assert (first.status, first.counts["landed"]) == ("partial", 0)
    assert (second.status, second.counts["landed"]) == ("succeeded", 1)
    assert emulator.stats().paths["/3/movie/550"] == 1
    assert_exactly_once(local_lake.store, {"find:tt0137523", FIGHT_CLUB}, {"find:tt0137523"})


def test_an_item_that_keeps_failing_is_asked_once_more_per_run_with_each_failure_kept(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [500] * 6})
    run = same_command(local_lake, emulator, FIGHT_CLUB)

    statuses = [run().status for _ in range(3)]

    assert statuses == ["partial", "partial", "succeeded"]
    assert emulator.stats().paths["/3/movie/550"] == 7
    tally = landed(local_lake.store)
    assert tally.records == {FIGHT_CLUB: 1}
    assert tally.errors == {FIGHT_CLUB: 2}, "one error line per round that failed"


def test_a_refusal_other_than_not_found_is_final_and_not_asked_again(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [422] * 5})
    run = same_command(local_lake, emulator, FIGHT_CLUB, BREAKING_BAD)

    first, second = run(), run()

    assert (first.status, first.counts["failed"]) == ("partial", 1)
    assert (second.status, second.counts["failed"]) == ("partial", 1)
    assert emulator.stats().paths["/3/movie/550"] == 1
    assert any("failed for good" in note for note in first.notes)


def test_items_still_failing_after_the_last_retry_round_are_final(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    rounds = retry_rounds.MAX_RETRY_ROUNDS
    emulator = make_emulator(scripted={"/3/movie/550": [500] * 3 * (rounds + 2)})
    run = same_command(local_lake, emulator, FIGHT_CLUB)

    manifests = [run() for _ in range(rounds + 2)]

    assert [m.status for m in manifests] == ["partial"] * (rounds + 2)
    assert emulator.stats().paths["/3/movie/550"] == 3 * (rounds + 1)
    assert manifests[-2].counts["retry_rounds"] == rounds
    assert any("failed for good" in note for note in manifests[-2].notes)
    assert manifests[-1].counts["http_requests"] == 0


def test_the_manifest_lists_every_file_with_records_bytes_and_sha256(
    lake: Lake, emulator: TmdbEmulator
) -> None:
    printed = ingest_json(
        lake,
        emulator,
        "--movies",
        str(MOVIES_CSV),
        "--series",
        str(SERIES_CSV),
        "--batch-size",
        "40" if lake.name == "local" else "100",
    )
    stored = manifests(lake.store)
    assert len(stored) == 1
    assert stored[0] == printed
    assert printed["schema"] == "cinelake.run-manifest/1"
    assert (
        printed["run_id"] in lake.store.head(layout.manifest_key(RUN_DATE, printed["run_id"])).key
    )  # type: ignore[union-attr]
    files = {f.key: f for f in tmdb_files(lake.store)}
    listed = {o["key"]: o for o in printed["objects"]}
    assert set(listed) == set(files)
    for key, obj in listed.items():
        data = files[key].data
        assert obj["records"] == data.count(b"\n")
        assert obj["bytes"] == len(data)
        assert obj["sha256"] == hashlib.sha256(data).hexdigest()
        assert obj["structure"] == files[key].structure
    for name in (
        "requested",
        "landed",
        "not_found",
        "failed",
        "http_requests",
        "http_retries",
        "http_429",
    ):
        assert name in printed["counts"]
    assert printed["counts"]["http_requests"] == emulator.stats().total_requests


def test_a_bearer_read_token_alone_is_enough(local_lake: Lake, emulator: TmdbEmulator) -> None:
    from tmdb_fixtures import READ_TOKEN

    env = tmdb_env(emulator, local_lake, TMDB_READ_ACCESS_TOKEN=READ_TOKEN)
    del env["TMDB_API_KEY"]
    result = cli([*tmdb_argv(local_lake, "--ids", "movie:550"), "--json", "-q"], env)
    assert result.code == 0, result.err
    assert_exactly_once(local_lake.store, {FIGHT_CLUB}, set())


def test_a_retry_round_stopped_midway_leaves_the_earlier_counts_standing() -> None:
    from collections import Counter

    from cinelake.tmdb.phase import PhaseResult

    find = PhaseResult(state_counts=Counter(landed=2, failed=3), items=5)
    stopped = PhaseResult(state_counts=Counter(landed=1), items=1, complete=False)
    finished = PhaseResult(state_counts=Counter(landed=2, failed=1), items=3)

    def tally(result: PhaseResult) -> Any:
        rounds = [retry_rounds.RetryRound(1, "retry1-find", "find", result, replaced=3)]
        return retry_rounds.fold_rounds([("find", find)], rounds)["find"]

    assert (tally(stopped).state_counts["failed"], tally(stopped).items) == (3, 5)
    assert tally(finished).state_counts == Counter(landed=4, failed=1)
    assert tally(finished).items == 5


@pytest.mark.parametrize(
    ("status", "error", "again"),
    [
        (200, "truncated or malformed JSON body", True),
        (None, "ConnectionError", True),
        (503, "Service Unavailable", True),
        (429, "Too Many Requests", True),
        (400, "Bad Request", False),
        (422, "Unprocessable Entity", False),
    ],
)
def test_only_a_4xx_refusal_is_final(status: int | None, error: str, again: bool) -> None:
    from cinelake.tmdb.client import TmdbAnswer
    from cinelake.tmdb.outcomes import classify

    body = b'{"id": 5' if status == 200 else b""
    outcome = classify(FIGHT_CLUB, TmdbAnswer("/movie/550", status, body, 3, error))

    assert outcome.state == "failed"
    assert outcome.worth_asking_again is again


def test_a_sealed_plan_still_reports_its_retry_rounds(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [500] * 3})
    run = same_command(local_lake, emulator, FIGHT_CLUB)

    first, sealing, after = run(), run(), run()

    assert (first.counts["retry_rounds"], sealing.counts["retry_rounds"]) == (0, 1)
    assert after.counts["retry_rounds"] == 1
    assert after.counts["http_requests"] == 0


def movie_of(imdb_id: str) -> str:
    title = Catalogue.sample().by_imdb_id("movie", imdb_id)
    assert title is not None
    return f"movie:{title.tmdb_id}"
