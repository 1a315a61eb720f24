"""The lake in real life: tracked titles, `--refresh`, `--daily`, and movies asked by IMDb id.

Tracked titles are the details the lake holds; a refresh fetches exactly those among the ids
TMDB lists as changed; the daily job finishes what earlier dates left and refreshes, and a day
with nothing new is a success.
"""

from __future__ import annotations

import itertools
import json
import signal
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from conftest import S3Endpoint
from test_tmdb_exactly_once import kill_after
from tmdb_fixtures import (  # noqa: F401 - fixtures are found by name
    API_KEY,
    MOVIES_CSV,
    RUN_DATE,
    SERIES_CSV,
    Lake,
    SimulatedKill,
    assert_exactly_once,
    cinelake_process,
    cli,
    emulator_body,
    emulator_fixture,
    expected_from_csv,
    fast_client,
    ingest,
    land_sample_csvs,
    local_lake_fixture,
    make_emulator_fixture,
    make_local_lake,
    make_moto_lake,
    tmdb_argv,
    tmdb_env,
    tmdb_files,
)

from cinelake.aws_lambda.handler import is_daily, request_from_event
from cinelake.lake import layout
from cinelake.testing.tmdb_emulator import TmdbEmulator
from cinelake.tmdb.client import TmdbClient
from cinelake.tmdb.daily import DailyResult, run_daily
from cinelake.tmdb.phase import Deadline
from cinelake.tmdb.plans import changes_windows
from cinelake.tmdb.request import TmdbIngestRequest
from cinelake.tmdb.tracked import tracked_titles

LATER = RUN_DATE + timedelta(days=2)
FIGHT_CLUB_IMDB, FIGHT_CLUB = "tt0137523", "movie:550"
BREAKING_BAD_IMDB, BREAKING_BAD = "tt0903747", "tv:1396"


@pytest.fixture(name="any_lake", params=["local", "moto", "rclone"])
def any_lake_fixture(request: pytest.FixtureRequest, clean_env: Path) -> Lake:
    if request.param == "local":
        return make_local_lake(clean_env / "lake")
    endpoint: S3Endpoint = request.getfixturevalue(f"{request.param}_endpoint")
    return make_moto_lake(endpoint)


def track_sample(lake: Lake, emulator: TmdbEmulator, *, series: bool = True) -> set[str]:
    """Land the sample's titles on RUN_DATE; returns the titles now tracked."""
    manifest = ingest(
        lake,
        emulator,
        plan="from-csv",
        movies_path=MOVIES_CSV,
        series_path=SERIES_CSV if series else None,
    )
    assert manifest.status == "succeeded"
    return set(expected_from_csv(series=SERIES_CSV if series else None).details)


def changed_on_tmdb(emulator: TmdbEmulator, since: date, until: date) -> set[str]:
    """What the emulator lists as changed, asked without cinelake."""
    changed: set[str] = set()
    for kind in ("movie", "tv"):
        for start, end in changes_windows(since, until):
            page, total = 1, 1
            while page <= total:
                body = requests.get(
                    f"{emulator.base_url}/{kind}/changes",
                    params={
                        "start_date": str(start),
                        "end_date": str(end),
                        "page": str(page),
                        "api_key": API_KEY,
                    },
                    timeout=30,
                ).json()
                total = body["total_pages"]
                changed.update(f"{kind}:{r['id']}" for r in body["results"])
                page += 1
    return changed


def refresh(lake: Lake, emulator: TmdbEmulator, day: date = LATER, **request: object) -> object:
    return ingest(lake, emulator, plan="refresh", run_date=day, **request)


def details_landed(lake: Lake, day: date) -> list[str]:
    """`movie:N` / `tv:N` of every details record of the date, duplicates kept."""
    titles = []
    for file in tmdb_files(lake.store, day):
        if file.structure in {"Movies", "Series"}:
            kind = "movie" if file.structure == "Movies" else "tv"
            titles.extend(f"{kind}:{json.loads(line)['id']}" for line in file.lines)
    return titles


def changes_asked(emulator: TmdbEmulator, kind: str = "movie") -> list[tuple[str, str]]:
    windows = []
    for request in emulator.stats().requests:
        path, _, query = request.partition("?")
        if path == f"/3/{kind}/changes":
            params = dict(pair.split("=") for pair in query.split("&"))
            if params["page"] == "1":
                windows.append((params["start_date"], params["end_date"]))
    return windows


# Tracked titles -------------------------------------------------------------------------------
def test_tracked_titles_are_every_details_landed_on_any_date_however_asked(
    any_lake: Lake, emulator: TmdbEmulator
) -> None:
    tracked = track_sample(any_lake, emulator)
    ingest(any_lake, emulator, plan="ids", ids=(BREAKING_BAD, "movie:680"), run_date=LATER)

    found = tracked_titles(any_lake.store)

    assert {f"movie:{i}" for i in found.movie} | {f"tv:{i}" for i in found.tv} == {
        *tracked,
        BREAKING_BAD,
        "movie:680",
    }


# Refresh --------------------------------------------------------------------------------------
def test_refresh_fetches_exactly_the_tracked_titles_that_changed(
    any_lake: Lake, emulator: TmdbEmulator
) -> None:
    tracked = track_sample(any_lake, emulator, series=False)
    emulator.reset_stats()

    manifest = refresh(any_lake, emulator)

    wanted = tracked & changed_on_tmdb(emulator, RUN_DATE, LATER)
    assert wanted, "the emulator lists some tracked movies as changed"
    assert manifest.status == "succeeded"
    assert sorted(details_landed(any_lake, LATER)) == sorted(wanted)
    assert manifest.counts["requested"] == manifest.counts["landed"] == len(wanted)
    assert manifest.counts["tracked"] == len(tracked)
    assert manifest.counts["changed"] > len(wanted), "changed series are not tracked here"
    asked = {p for p in emulator.stats().paths if p.count("/") == 3 and "changes" not in p}
    assert asked == {f"/3/{title.replace(':', '/')}" for title in wanted}


def test_refresh_lands_every_changes_page_as_received(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    track_sample(local_lake, emulator)

    refresh(local_lake, emulator)

    pages = [f for f in tmdb_files(local_lake.store, LATER) if f.structure == "Changes"]
    items = [item for f in pages for item in f.items]
    assert sorted(items) == [f"refresh-{k}:{RUN_DATE}:{LATER}:1" for k in ("movie", "tv")]
    for file in pages:
        for item, line in zip(file.items, file.lines, strict=True):
            assert line == emulator_body(emulator, item.replace("refresh-", "changes-"))


def test_a_window_over_14_days_is_asked_in_windows_of_at_most_14_days(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    track_sample(local_lake, emulator)
    emulator.reset_stats()

    manifest = refresh(local_lake, emulator, date(2025, 5, 31))

    assert manifest.status == "succeeded"
    assert changes_asked(emulator) == [
        ("2025-05-01", "2025-05-14"),
        ("2025-05-15", "2025-05-28"),
        ("2025-05-29", "2025-05-31"),
    ]


def test_a_tracked_title_deleted_on_tmdb_is_kept_as_not_found(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    tracked = track_sample(local_lake, make_emulator())
    probe = make_emulator()
    deleted = sorted(tracked & changed_on_tmdb(probe, RUN_DATE, LATER))[0]
    emulator = make_emulator(scripted={f"/3/{deleted.replace(':', '/')}": [404]})

    manifest = refresh(local_lake, emulator)

    errors = [
        json.loads(line)
        for f in tmdb_files(local_lake.store, LATER)
        if f.structure == "Errors"
        for line in f.lines
    ]
    assert [(e["item"], e["reason"], e["http_status"]) for e in errors] == [
        (deleted, "not found", 404)
    ]
    assert manifest.counts["not_found"] == 1
    assert deleted not in details_landed(local_lake, LATER)


def test_a_refresh_run_again_after_success_asks_nothing(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    track_sample(local_lake, emulator)
    first = refresh(local_lake, emulator)
    emulator.reset_stats()

    again = refresh(local_lake, emulator)

    assert emulator.stats().total_requests == 0
    assert again.counts["http_requests"] == 0
    assert again.counts["landed"] == first.counts["landed"]


def test_the_next_refresh_starts_on_the_day_the_last_one_ran(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    track_sample(local_lake, emulator)
    refresh(local_lake, emulator, LATER)
    emulator.reset_stats()

    refresh(local_lake, emulator, LATER + timedelta(days=3))

    assert changes_asked(emulator) == [(str(LATER), str(LATER + timedelta(days=3)))]


def test_a_refresh_of_a_lake_without_titles_succeeds_without_a_request(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    manifest = refresh(local_lake, emulator)

    assert manifest.status == "succeeded"
    assert emulator.stats().total_requests == 0
    assert any("nothing to refresh" in note for note in manifest.notes)


def test_kill_9_during_a_refresh_loses_and_duplicates_nothing(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], tmp_path: Path
) -> None:
    tracked = track_sample(local_lake, make_emulator())
    emulator = make_emulator(latency_ms=10)
    since = RUN_DATE - timedelta(days=30)
    argv = tmdb_argv(local_lake, "--refresh", "--since", str(since), "--batch-size", "7", "-q")
    argv[argv.index("--date") + 1] = str(LATER)
    argv[argv.index("--rate") + 1] = "150"
    env = tmdb_env(emulator, local_lake)

    codes = [kill_after(argv, env, tmp_path, emulator, n) for n in (12, 40)]
    last = cli([*argv, "--json"], env)

    assert codes == [-signal.SIGKILL] * 2
    assert last.code == 0, last.err
    wanted = tracked & changed_on_tmdb(emulator, since, LATER)
    pages = {
        f"refresh-{kind}:{start}:{end}:1"
        for kind in ("movie", "tv")
        for start, end in changes_windows(since, LATER)
    }
    assert_exactly_once(local_lake.store, wanted | pages, set(), LATER)
    assert last.manifest()["counts"]["landed"] == len(wanted)


# Daily ----------------------------------------------------------------------------------------
def test_daily_with_no_csv_landed_today_succeeds(local_lake: Lake, emulator: TmdbEmulator) -> None:
    env = tmdb_env(emulator, local_lake)

    result = cli([*tmdb_argv(local_lake, "--daily", date_=str(LATER)), "--json", "-q"], env)

    assert result.code == 0, result.err
    printed = json.loads(result.out)
    assert printed["status"] == "succeeded"
    assert [run["command"] for run in printed["runs"]] == ["ingest-tmdb --refresh"]
    assert printed["runs"][0]["status"] == "succeeded"
    assert any("nothing to refresh" in note for note in printed["runs"][0]["notes"])


def test_daily_the_day_after_a_finished_backfill_only_refreshes(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    env = tmdb_env(emulator, local_lake)
    land_sample_csvs(local_lake, env)
    first = cli([*tmdb_argv(local_lake, "--daily"), "--json", "-q"], env)
    assert first.code == 0, first.err

    second = cli([*tmdb_argv(local_lake, "--daily", date_=str(LATER)), "--json", "-q"], env)

    assert second.code == 0, second.err
    runs = json.loads(second.out)["runs"]
    assert [(r["command"], r["partition_date"]) for r in runs] == [
        ("ingest-tmdb --refresh", str(LATER))
    ]


def test_daily_finishes_an_unfinished_backfill_of_an_earlier_date_hop_by_hop(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    land_sample_csvs(local_lake, tmdb_env(emulator, local_lake))
    hops = []
    client = fast_client(emulator)
    try:
        while not hops or hops[-1].work_remains:
            assert len(hops) < 50, "each hop must make progress"
            hops.append(
                run_daily(
                    TmdbIngestRequest(plan="refresh", run_date=LATER, batch_size=10),
                    settings=local_lake.settings,
                    store=local_lake.store,
                    client=client,
                    deadline=short_hop(),
                )
            )
    finally:
        client.close()

    assert len(hops) > 1, "the backfill took several hops"
    assert hops[0].manifests[0].command == "ingest-tmdb --from-csv"
    assert hops[0].manifests[0].partition_date == RUN_DATE
    assert hops[-1].status == "succeeded"
    assert hops[-1].manifests[-1].command == "ingest-tmdb --refresh"
    expected = expected_from_csv()
    assert_exactly_once(local_lake.store, expected.records, set(expected.unknown), RUN_DATE)


def test_daily_skips_a_date_whose_csv_has_no_ids_with_a_note_and_goes_on(
    local_lake: Lake, emulator: TmdbEmulator, tmp_path: Path
) -> None:
    spreadsheet = tmp_path / "filmes.csv"
    spreadsheet.write_bytes(MOVIES_CSV.read_bytes().replace(b"|", b";"))
    env = tmdb_env(emulator, local_lake)
    landing = ["ingest-csv", *local_lake.argv(), "--date", str(RUN_DATE), "-q"]
    assert cli([*landing, "--file", f"Movies={spreadsheet}"], env).code == 0

    result = cli([*tmdb_argv(local_lake, "--daily", date_=str(LATER)), "--json", "-q"], env)

    assert result.code == 0, result.err
    printed = json.loads(result.out)
    assert any(f"from-csv {RUN_DATE} skipped" in note for note in printed["notes"])
    assert [run["command"] for run in printed["runs"]] == ["ingest-tmdb --refresh"]


def test_a_hop_out_of_time_while_the_refresh_is_planned_leaves_it_to_the_next_hop(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    ingest(local_lake, emulator, plan="ids", ids=(FIGHT_CLUB,))
    request = TmdbIngestRequest(plan="refresh", run_date=LATER, since=LATER - timedelta(days=400))
    ticks = itertools.count()
    almost_over = Deadline(5, clock=lambda: float(next(ticks)))  # 3 looks past the margin

    def hop(client: TmdbClient, deadline: Deadline | None) -> DailyResult:
        try:
            return run_daily(
                request,
                settings=local_lake.settings,
                store=local_lake.store,
                client=client,
                deadline=deadline,
            )
        finally:
            client.close()

    first = hop(fast_client(emulator, rate=2.0), almost_over)  # a page waits for its token
    planned = list(local_lake.store.list(layout.state_day_prefix(LATER)))
    second = hop(fast_client(emulator), None)

    assert first.work_remains
    assert first.manifests == []
    assert planned == [], "nothing was planned, so the next hop plans afresh"
    assert not second.work_remains
    assert second.status == "succeeded"


def short_hop() -> Deadline:
    """A deadline that runs out after a fixed number of looks at the clock, not of seconds."""
    ticks = itertools.count()
    return Deadline(40, clock=lambda: float(next(ticks)))


def test_a_scheduled_event_runs_the_daily_job_for_the_day_it_fired() -> None:
    event = {
        "source": "aws.events",
        "detail-type": "Scheduled Event",
        "time": "2025-05-03T06:00:00Z",
    }

    request = request_from_event(event, today=date(2025, 5, 4))

    assert is_daily(event)
    assert is_daily({})
    assert not is_daily({"plan": "from-csv"})
    assert request.run_date == date(2025, 5, 3)


# Movies by IMDb id ----------------------------------------------------------------------------
def test_a_movie_of_movies_csv_costs_one_request(
    local_lake: Lake, emulator: TmdbEmulator, tmp_path: Path
) -> None:
    movies = tmp_path / "movies.csv"
    movies.write_text(f"id|tituloPincipal\n{FIGHT_CLUB_IMDB}|Clube da Luta\n")

    manifest = ingest(local_lake, emulator, plan="from-csv", movies_path=movies)

    assert manifest.counts["landed"] == 1
    assert dict(emulator.stats().paths) == {f"/3/movie/{FIGHT_CLUB_IMDB}": 1}
    assert details_landed(local_lake, RUN_DATE) == [FIGHT_CLUB]
    records = [f for f in tmdb_files(local_lake.store) if f.structure == "Movies"]
    assert records[0].lines == [emulator_body(emulator, FIGHT_CLUB)]
    assert tracked_titles(local_lake.store).movie == {550}


def test_a_movies_csv_title_tmdb_holds_as_a_series_is_found_by_find(
    local_lake: Lake, emulator: TmdbEmulator, tmp_path: Path
) -> None:
    movies = tmp_path / "movies.csv"
    movies.write_text(f"id|tituloPincipal\n{BREAKING_BAD_IMDB}|Breaking Bad (filed as a movie)\n")

    manifest = ingest(local_lake, emulator, plan="from-csv", movies_path=movies)

    assert manifest.status == "succeeded"
    assert manifest.counts["landed"] == 1
    assert dict(emulator.stats().paths) == {
        f"/3/movie/{BREAKING_BAD_IMDB}": 1,
        f"/3/find/{BREAKING_BAD_IMDB}": 1,
        "/3/tv/1396": 1,
    }
    structures = {f.structure: f.items for f in tmdb_files(local_lake.store)}
    assert structures == {
        "Find": [f"imdb-movie:{BREAKING_BAD_IMDB}"],
        "Series": [BREAKING_BAD],
    }


def test_a_kill_after_a_find_fallback_landed_resumes_without_asking_again(
    local_lake: Lake, emulator: TmdbEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The /find answer of a fallback is adopted from its file, read back as a /find answer."""
    from cinelake.tmdb import engine

    movies = tmp_path / "movies.csv"
    movies.write_text(f"id|tituloPincipal\n{BREAKING_BAD_IMDB}|Breaking Bad\n")
    real_write = engine.PhaseRunner._write

    def die_after_write(self: engine.PhaseRunner, *args: object, **kwargs: object) -> object:
        real_write(self, *args, **kwargs)  # type: ignore[arg-type]
        raise SimulatedKill

    monkeypatch.setattr(engine.PhaseRunner, "_write", die_after_write)
    with pytest.raises(SimulatedKill):
        ingest(local_lake, emulator, plan="from-csv", movies_path=movies)
    monkeypatch.undo()
    emulator.reset_stats()

    manifest = ingest(local_lake, emulator, plan="from-csv", movies_path=movies)

    assert manifest.status == "succeeded"
    assert dict(emulator.stats().paths) == {"/3/tv/1396": 1}
    assert_exactly_once(local_lake.store, {f"imdb-movie:{BREAKING_BAD_IMDB}", BREAKING_BAD}, set())


def test_the_emulator_answers_a_movie_by_its_imdb_id_and_never_a_series(
    emulator: TmdbEmulator,
) -> None:
    by_imdb = emulator_body(emulator, f"imdb-movie:{FIGHT_CLUB_IMDB}")
    series = requests.get(
        f"{emulator.base_url}/tv/{BREAKING_BAD_IMDB}", params={"api_key": API_KEY}, timeout=30
    )

    assert by_imdb == emulator_body(emulator, FIGHT_CLUB)
    assert series.status_code == 404
    assert series.json()["status_code"] == 34


# Flags ----------------------------------------------------------------------------------------
def test_refresh_since_after_the_run_date_is_refused_before_any_request(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    argv = tmdb_argv(local_lake, "--refresh", "--since", str(LATER))

    result = cli(argv, tmdb_env(emulator, local_lake))

    assert result.code == 2
    assert f"--since {LATER} is after the run date {RUN_DATE}" in result.err
    assert emulator.stats().total_requests == 0


def test_movies_a_sealed_plan_found_with_find_are_not_asked_again_by_imdb_id(
    local_lake: Lake, emulator: TmdbEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upgrading mid-day: a plan sealed by a cinelake that used /find for movies still counts."""
    from cinelake.tmdb import planning

    env = tmdb_env(emulator, local_lake)
    landing = ["ingest-csv", *local_lake.argv(), "--date", str(RUN_DATE), "-q"]
    assert cli([*landing, "--file", f"Movies={MOVIES_CSV}"], env).code == 0
    real_id_items = planning.id_items

    def as_before(*args: object) -> tuple[list[str], list[str], list[str]]:
        finds, direct, skipped = real_id_items(*args)  # type: ignore[arg-type]
        return [f.replace("imdb-movie:", "find-movie:") for f in finds], direct, skipped

    monkeypatch.setattr(planning, "id_items", as_before)
    assert ingest(local_lake, emulator, plan="from-csv").status == "succeeded"
    monkeypatch.undo()
    assert cli([*landing, "--file", f"Series={SERIES_CSV}"], env).code == 0
    emulator.reset_stats()

    second = ingest(local_lake, emulator, plan="from-csv")

    assert second.counts["requested"] == len(expected_from_csv(movies=None).finds)
    assert not [p for p in emulator.stats().paths if p.startswith("/3/movie/tt")]
