"""`ingest-tmdb` against TMDB's other real-world shapes: gzip, `/changes` items whose `adult` is
true, false or null, and the documented `append_to_response` names with a slash."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

from tmdb_fixtures import (  # noqa: F401 - fixtures are found by name
    RUN_DATE,
    Lake,
    assert_exactly_once,
    cli,
    emulator_body,
    ingest,
    landed,
    local_lake_fixture,
    make_emulator_fixture,
    tmdb_argv,
    tmdb_env,
    tmdb_files,
)

from cinelake.testing.tmdb_emulator import TmdbEmulator


def test_gzip_encoded_answers_land_as_the_bytes_tmdb_meant(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    emulator = make_emulator(gzip=True)

    ingest(local_lake, emulator, plan="ids", ids=("movie:550", "tv:1396", "tt0137523"))

    tally = landed(local_lake.store)
    for item in ("movie:550", "tv:1396", "find:tt0137523"):
        assert tally.bodies[item] == emulator_body(emulator, item), item


def test_changed_titles_are_fetched_whatever_their_adult_flag(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    emulator = make_emulator(changes_adult=(True, False, None))

    manifest = ingest(
        local_lake, emulator, plan="changes", kind="movie", since=RUN_DATE - timedelta(days=6)
    )

    pages = [f for f in tmdb_files(local_lake.store) if f.structure == "Changes"]
    results = [r for page in pages for line in page.lines for r in json.loads(line)["results"]]
    assert {r["adult"] for r in results} == {True, False, None}
    assert manifest.counts["landed"] == len({r["id"] for r in results})


def test_watch_providers_can_be_appended_and_land_under_their_own_key(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    emulator = make_emulator()
    argv = tmdb_argv(local_lake, "--ids", "movie:550", "--append", "credits,watch/providers")

    result = cli([*argv, "--json", "-q"], tmdb_env(emulator, local_lake))

    assert result.code == 0, result.err
    assert result.manifest()["options"]["append"] == ["credits", "watch/providers"]
    tally = assert_exactly_once(local_lake.store, {"movie:550"}, set())
    body = json.loads(tally.bodies["movie:550"])
    assert body["watch/providers"]["results"]
    assert tally.bodies["movie:550"] == emulator_body(
        emulator, "movie:550", append=("credits", "watch/providers")
    )
