"""A refused credential tells TMDB's own words, and what it does depends on what had landed.

Refused before anything landed: exit 2, nothing in the lake. Refused after files landed: a
failed run (exit 1) with a `partial` manifest whose counts are whole, and the same command
resumes once the credential is fixed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tmdb_fixtures import (  # noqa: F401 - fixtures are found by name
    API_KEY,
    Lake,
    assert_exactly_once,
    cli,
    holds_only_leases,
    lake_fixture,
    local_lake_fixture,
    make_emulator_fixture,
    manifests,
    tmdb_argv,
    tmdb_env,
)

from cinelake.lake import lease
from cinelake.testing.tmdb_emulator import AUTH_ERRORS, Catalogue, TmdbEmulator

MOVIES = [f"movie:{Catalogue.sample().at('movie', i).tmdb_id}" for i in range(6)]
SUSPENDED = 10


def refused_at_the_fifth_title(make_emulator: Callable[..., TmdbEmulator]) -> TmdbEmulator:
    """Titles 1-4 answer; the 5th gets a 401 once (a key suspended, then restored)."""
    fifth = MOVIES[4].partition(":")[2]
    return make_emulator(auth_error=SUSPENDED, scripted={f"/3/movie/{fifth}": [401]})


def landed_keys(lake: Lake) -> set[str]:
    """Every key but the leases, which each run takes and releases whatever it lands."""
    return {o.key for o in lake.store.list("") if not o.key.startswith(f"{lease.LEASES}/")}


def one_by_one(lake: Lake, *extra: str) -> list[str]:
    """Two titles a batch, one request at a time: the refusal comes after two batches landed."""
    ids = ",".join(MOVIES)
    return tmdb_argv(lake, "--ids", ids, "--batch-size", "2", "--workers", "1", *extra)


def test_a_credential_refused_after_files_landed_fails_the_run_with_exit_1(
    lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    emulator = refused_at_the_fifth_title(make_emulator)

    result = cli(one_by_one(lake), tmdb_env(emulator, lake))

    assert result.code == 1, result.err
    (line,) = result.err.strip().splitlines()
    assert f"status_code {SUSPENDED}" in line and AUTH_ERRORS[SUSPENDED] in line
    assert "partial manifest" in line and "run the same command to resume" in line
    assert API_KEY not in result.err


def test_the_partial_manifest_of_a_refused_run_has_whole_counts(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    emulator = refused_at_the_fifth_title(make_emulator)

    cli(one_by_one(local_lake), tmdb_env(emulator, local_lake))

    (manifest,) = manifests(local_lake.store)
    assert manifest["status"] == "partial"
    counts = manifest["counts"]
    assert (counts["requested"], counts["landed"]) == (6, 4)
    assert (counts["not_found"], counts["failed"], counts["stopped_early"]) == (0, 0, 1)
    assert any(f"status_code {SUSPENDED}" in note for note in manifest["notes"])
    assert {o["structure"] for o in manifest["objects"]} == {"Movies"}


def test_the_same_command_resumes_a_refused_run_once_the_credential_works(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    emulator = refused_at_the_fifth_title(make_emulator)
    env = tmdb_env(emulator, local_lake)
    assert cli(one_by_one(local_lake), env).code == 1

    resumed = cli([*one_by_one(local_lake), "--json", "-q"], env)

    assert resumed.code == 0, resumed.err
    assert resumed.manifest()["counts"]["landed"] == 6
    assert_exactly_once(local_lake.store, set(MOVIES), set())
    assert all(emulator.stats().paths[f"/3/movie/{m.partition(':')[2]}"] <= 2 for m in MOVIES)


def test_a_plan_refused_again_before_landing_anything_exits_2_and_writes_nothing(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    emulator = refused_at_the_fifth_title(make_emulator)
    assert cli(one_by_one(local_lake), tmdb_env(emulator, local_lake)).code == 1
    before = landed_keys(local_lake)

    again = cli(one_by_one(local_lake), tmdb_env(emulator, local_lake, TMDB_API_KEY="revoked"))

    assert again.code == 2
    assert landed_keys(local_lake) == before


@pytest.mark.parametrize("code", [3, 7, 10, 35])
def test_a_refusal_before_anything_landed_quotes_tmdbs_status_and_lands_nothing(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], code: int
) -> None:
    emulator = make_emulator(auth_error=code)

    result = cli(one_by_one(local_lake), tmdb_env(emulator, local_lake, TMDB_API_KEY="wrong-key"))

    assert result.code == 2
    assert f"status_code {code}, status_message {AUTH_ERRORS[code]!r}" in result.err
    assert "wrong-key" not in result.err
    assert holds_only_leases(local_lake.store)


def test_a_refusal_never_quotes_the_credential_even_if_tmdbs_words_contain_it(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    """A proxy could echo the request back; here the key is simply a word of TMDB's message.

    The manifest's notes are not scrubbed by the shell's log filter, so the client must do it.
    """
    fifth = MOVIES[4].partition(":")[2]
    emulator = make_emulator(api_key="Invalid", auth_error=7, scripted={f"/3/movie/{fifth}": [401]})

    result = cli(one_by_one(local_lake), tmdb_env(emulator, local_lake, TMDB_API_KEY="Invalid"))

    assert result.code == 1
    (manifest,) = manifests(local_lake.store)
    (note,) = [n for n in manifest["notes"] if "status_code 7" in n]
    assert "'*** API key: You must be granted a valid key.'" in note
    assert "Invalid" not in note
