"""Exactly once: faults, `kill -9` at any moment, deadlines and other machines never lose or
duplicate an item across all the files of a date."""

from __future__ import annotations

import json
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import signal_self_first
from tmdb_fixtures import (  # noqa: F401 - fixtures are found by name
    DAY,
    FAST,
    MOVIES_CSV,
    RUN_DATE,
    SERIES_CSV,
    Lake,
    SimulatedKill,
    assert_exactly_once,
    cinelake_process,
    cli,
    data_keys,
    emulator_fixture,
    expected_from_csv,
    fast_client,
    ingest,
    lake_fixture,
    landed,
    local_lake_fixture,
    make_emulator_fixture,
    manifests,
    moto_lake_fixture,
    run_process,
    same_command,
    tmdb_argv,
    tmdb_env,
    tmdb_files,
)

from cinelake.lake.manifest import new_run_id
from cinelake.lake.status import lake_status
from cinelake.store.local import LocalDirStore
from cinelake.testing.tmdb_emulator import Faults, TmdbEmulator
from cinelake.tmdb.request import TmdbIngestRequest
from cinelake.tmdb.retry import RetryPolicy
from cinelake.tmdb.service import run_tmdb_ingest

FAULTS = Faults(error_500=0.03, error_503=0.02, reset=0.02, truncate=0.02)
LOCAL_CSVS = ("--movies", str(MOVIES_CSV), "--series", str(SERIES_CSV))
MOVIES_ONLY = ("--movies", str(MOVIES_CSV))


def slow_argv(
    lake: Lake, *extra: str, batch_size: int = 7, csvs: tuple[str, ...] = LOCAL_CSVS
) -> list[str]:
    """A run that lasts a few seconds against a 10 ms emulator: room to kill it mid-flight."""
    argv = tmdb_argv(lake, *csvs, "--batch-size", str(batch_size), "-q", *extra)
    argv[argv.index("--rate") + 1] = "150"
    return argv


def kill_after(
    argv: list[str], env: dict[str, str], cwd: Path, emulator: TmdbEmulator, requests: int
) -> int:
    """Start `python -m cinelake`, SIGKILL it once the emulator saw `requests` more requests."""
    start = emulator.stats().total_requests
    proc = cinelake_process(argv, env, cwd)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if emulator.stats().total_requests - start >= requests:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.communicate(timeout=30)
    return proc.returncode


def batch_runs(lake: Lake) -> set[str]:
    """The run ids that committed the batch markers of the date."""
    markers = [o.key for o in lake.store.list(f"Raw/_state/tmdb/{DAY.replace('-', '/')}/")]
    return {
        json.loads(lake.store.get_bytes(key))["run_id"] for key in markers if "/batches/" in key
    }


def test_the_exactly_once_check_catches_a_duplicated_record(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    """The rig itself: a copy of a landed file under another name must be reported."""
    ingest(local_lake, emulator, plan="ids", ids=("movie:550", "tv:1396"))
    assert_exactly_once(local_lake.store, {"movie:550", "tv:1396"}, set())
    original = next(f for f in tmdb_files(local_lake.store) if f.structure == "Movies")
    head = local_lake.store.head(original.key)
    assert head is not None
    copy = original.key.replace("-00.json", "-07.json")
    local_lake.store.put_bytes(copy, original.data, dict(head.metadata))
    with pytest.raises(AssertionError, match="more than once"):
        assert_exactly_once(local_lake.store, {"movie:550", "tv:1396"}, set())


# (a) Injected faults --------------------------------------------------------------------------
def test_every_item_lands_exactly_once_despite_injected_faults(
    lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    emulator = make_emulator(faults=FAULTS, seed=11)
    manifest = ingest(
        lake,
        emulator,
        plan="from-csv",
        movies_path=MOVIES_CSV,
        series_path=SERIES_CSV,
        batch_size=7 if lake.name == "local" else 25,
    )
    stats = emulator.stats()
    assert sum(stats.faults.values()) > 10, "the faults must actually have been injected"
    assert manifest.status == "succeeded"
    assert manifest.counts["failed"] == 0
    assert manifest.counts["http_retries"] >= sum(stats.faults.values())
    assert manifest.counts["http_requests"] == stats.total_requests
    expected = expected_from_csv()
    assert_exactly_once(lake.store, expected.records, set(expected.unknown))


# (b) kill -9 ----------------------------------------------------------------------------------
def test_kill_9_at_several_moments_then_a_rerun_lands_everything_exactly_once(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], tmp_path: Path
) -> None:
    emulator = make_emulator(latency_ms=10, latency_jitter_ms=5)
    env = tmdb_env(emulator, local_lake)
    argv = slow_argv(local_lake)
    kill_points = [5, 40, 150, random.randint(1, 120)]  # noqa: S311 - a test's kill moment
    codes = [kill_after(argv, env, tmp_path, emulator, n) for n in kill_points]
    assert codes[:3] == [-signal.SIGKILL] * 3, f"kill points {kill_points}: exit codes {codes}"
    final = run_process(argv, env, tmp_path)
    assert final.code == 0, final.err
    expected = expected_from_csv()
    assert_exactly_once(local_lake.store, expected.records, set(expected.unknown))
    assert len(batch_runs(local_lake)) >= 2, "the batches were landed by several processes"
    last = manifests(local_lake.store)[-1]
    assert last["status"] == "succeeded", f"kill points {kill_points}"
    assert last["counts"]["landed"] == len(expected.details)
    assert last["counts"]["not_found"] == len(expected.unknown)
    listed = {o["key"] for m in manifests(local_lake.store) for o in m["objects"]}
    assert listed == {f.key for f in tmdb_files(local_lake.store)}, "every file is in a manifest"


def test_kill_9_on_s3_then_a_rerun_lands_everything_exactly_once(
    moto_lake: Lake, make_emulator: Callable[..., TmdbEmulator], tmp_path: Path
) -> None:
    emulator = make_emulator(latency_ms=10)
    env = tmdb_env(emulator, moto_lake)
    argv = slow_argv(moto_lake, batch_size=10, csvs=MOVIES_ONLY)
    # Movies only: about one request a title, so both kills land well before the end.
    codes = [kill_after(argv, env, tmp_path, emulator, n) for n in (25, 60)]
    assert codes == [-signal.SIGKILL] * 2
    final = run_process(argv, env, tmp_path)
    assert final.code == 0, final.err
    expected = expected_from_csv(series=None)
    assert_exactly_once(moto_lake.store, expected.records, set(expected.unknown))


def test_a_crash_between_landing_a_file_and_its_marker_is_adopted_not_refetched(
    local_lake: Lake, emulator: TmdbEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The instant a `kill -9` hurts most: a batch's record file is landed, its marker is not."""
    real_put = local_lake.store.put_bytes
    writes: list[str] = []

    def put_then_die(key: str, data: bytes, metadata: object = None, **kw: object) -> object:
        if "/batches/" in key and writes:
            raise SimulatedKill
        landed = real_put(key, data, metadata, **kw)  # type: ignore[arg-type]
        if key.startswith("Raw/TMDB/JSON/Movies/"):
            writes.append(key)
        return landed

    monkeypatch.setattr(local_lake.store, "put_bytes", put_then_die)
    with pytest.raises(SimulatedKill):
        ingest(local_lake, emulator, plan="ids", ids=("movie:550", "movie:149461"))
    monkeypatch.setattr(local_lake.store, "put_bytes", real_put)
    assert writes
    before = emulator.stats().paths
    manifest = ingest(local_lake, emulator, plan="ids", ids=("movie:550", "movie:149461"))
    assert manifest.status == "succeeded"
    after = emulator.stats().paths
    assert after == before, "landed records are adopted from the lake, not fetched again"
    assert_exactly_once(local_lake.store, {"movie:550", "movie:149461"}, set())


def test_a_crash_after_the_last_batch_but_before_the_manifest_still_lists_every_file(
    local_lake: Lake, emulator: TmdbEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Readers trust manifests: a plan must not be marked complete before one lists its files."""
    from cinelake.lake.manifest import RunManifest

    real_write = RunManifest.write

    def die(self: RunManifest, store: object) -> None:
        raise SimulatedKill  # just before the manifest is written

    monkeypatch.setattr(RunManifest, "write", die)
    with pytest.raises(SimulatedKill):
        ingest(local_lake, emulator, plan="ids", ids=("movie:550", "tv:1396"))
    monkeypatch.setattr(RunManifest, "write", real_write)
    requests_before = emulator.stats().total_requests
    manifest = ingest(local_lake, emulator, plan="ids", ids=("movie:550", "tv:1396"))
    assert manifest.status == "succeeded"
    assert emulator.stats().total_requests == requests_before
    listed = {o["key"] for m in manifests(local_lake.store) for o in m["objects"]}
    assert listed == {f.key for f in tmdb_files(local_lake.store)}
    assert_exactly_once(local_lake.store, {"movie:550", "tv:1396"}, set())


def test_a_kill_right_after_a_local_file_is_published_is_still_resumable(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [500] * 3})
    store = local_lake.store
    assert isinstance(store, LocalDirStore)
    real_publish = store._publish

    def die_once_published(key: str, *args: object, **kwargs: object) -> None:
        real_publish(key, *args, **kwargs)  # type: ignore[arg-type]
        if key.startswith("Raw/TMDB/JSON/Movies/"):
            raise SimulatedKill  # the bytes (and their sidecar) are visible; no marker yet

    from cinelake.tmdb.retry import RetryPolicy

    monkeypatch.setattr(store, "_publish", die_once_published)
    client = fast_client(emulator, policy=RetryPolicy(max_attempts=3, base_delay=0))
    with pytest.raises(SimulatedKill):
        ingest(local_lake, emulator, client, plan="ids", ids=("movie:550", "movie:149461"))
    client.close()
    monkeypatch.setattr(store, "_publish", real_publish)
    manifest = ingest(local_lake, emulator, plan="ids", ids=("movie:550", "movie:149461"))
    assert manifest.status == "succeeded"
    assert_exactly_once(store, {"movie:550", "movie:149461"}, set())


# (c) Re-run after success ----------------------------------------------------------------------
def test_a_rerun_after_success_makes_no_request_and_lands_nothing(
    lake: Lake, emulator: TmdbEmulator
) -> None:
    env = tmdb_env(emulator, lake)
    argv = [*tmdb_argv(lake, *MOVIES_ONLY), "--json", "-q"]
    first = cli(argv, env)
    assert first.code == 0, first.err
    requests_before = emulator.stats().total_requests
    keys_before = data_keys(lake.store)
    second = cli(argv, env)
    assert second.code == 0, second.err
    assert emulator.stats().total_requests == requests_before
    assert data_keys(lake.store) == keys_before
    rerun = second.manifest()
    assert rerun["status"] == "succeeded"
    assert rerun["counts"]["http_requests"] == 0
    assert rerun["counts"]["landed"] == first.manifest()["counts"]["landed"]


# (d) --max-seconds ------------------------------------------------------------------------------
def test_max_seconds_stops_cleanly_as_partial_and_the_next_run_completes(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator]
) -> None:
    emulator = make_emulator(latency_ms=10)
    env = tmdb_env(emulator, local_lake)
    slow = tmdb_argv(local_lake, *LOCAL_CSVS, "--batch-size", "7", "--json", "-q")
    slow[slow.index("--rate") + 1] = "60"
    first = cli([*slow, "--max-seconds", "1"], env)
    assert first.code == 1, first.err
    partial = first.manifest()
    assert partial["status"] == "partial"
    assert any("resume" in note for note in partial["notes"])
    assert "resume" in first.err
    expected = expected_from_csv()
    assert partial["counts"]["http_requests"] < len(expected.finds) + len(expected.details)
    resumed = cli(tmdb_argv(local_lake, *LOCAL_CSVS, "--batch-size", "7", "--json", "-q"), env)
    assert resumed.code == 0, resumed.err
    assert resumed.manifest()["status"] == "succeeded"
    assert_exactly_once(local_lake.store, expected.records, set(expected.unknown))


# (e) The checkpoint lives in the lake -----------------------------------------------------------
def test_a_run_stopped_on_one_machine_is_finished_by_another(
    moto_lake: Lake, make_emulator: Callable[..., TmdbEmulator], tmp_path: Path
) -> None:
    emulator = make_emulator(latency_ms=10)
    env = tmdb_env(emulator, moto_lake)
    here, elsewhere = tmp_path / "laptop", tmp_path / "lambda"
    here.mkdir()
    elsewhere.mkdir()
    first = run_process(
        slow_argv(moto_lake, "--max-seconds", "1", batch_size=10, csvs=MOVIES_ONLY), env, here
    )
    assert first.code == 1, first.err
    done_first = emulator.stats().total_requests
    assert done_first > 0
    argv = tmdb_argv(moto_lake, *MOVIES_ONLY, "--batch-size", "10", "-q")
    assert FAST in argv
    second = run_process(argv, env, elsewhere)
    assert second.code == 0, second.err
    expected = expected_from_csv(series=None)
    total = len(expected.finds) + len(expected.details)
    assert emulator.stats().total_requests - done_first < total, "the second run resumed"
    assert_exactly_once(moto_lake.store, expected.records, set(expected.unknown))
    assert not list(here.iterdir()) and not list(elsewhere.iterdir()), "no local state"


@pytest.mark.parametrize("checkpoint", ["plan.json", "complete.json"])
def test_a_corrupted_checkpoint_stops_the_run_naming_it(
    local_lake: Lake, emulator: TmdbEmulator, checkpoint: str
) -> None:
    env = tmdb_env(emulator, local_lake)
    argv = [*tmdb_argv(local_lake, "--ids", "movie:550"), "-q"]
    assert cli(argv, env).code == 0
    state = next(Path(local_lake.url).glob(f"Raw/_state/tmdb/**/{checkpoint}"))
    state.write_bytes(state.read_bytes() + b"}")

    result = cli(argv, env)

    lines = result.err.strip().splitlines()
    assert result.code == 1
    assert len(lines) == 1
    assert checkpoint in lines[0] and "not what cinelake wrote" in lines[0]


def test_a_crash_inside_a_retry_round_resumes_the_round_without_refetching(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = make_emulator(scripted={"/3/movie/550": [500] * 3, "/3/movie/149461": [500] * 3})
    ids = ("movie:550", "movie:149461")
    run = same_command(local_lake, emulator, *ids, batch_size=1)

    assert run().counts["failed"] == 2
    _kill_at(local_lake, monkeypatch, "/retry1-details/batches/000002", run)
    before = emulator.stats().paths

    final = run()

    assert final.status == "succeeded"
    assert emulator.stats().paths == before, "the round's landed records are adopted"
    tally = assert_exactly_once(local_lake.store, set(ids), set(ids))
    assert sum(tally.records.values()) == 2


# Batches built from follow-up items must not shift between the run that commits and the next ---
SHIFT_IDS = ("tt3380564", "tt7729602", "tt3561390", "tt6773247", "tt1513015")


def _kill_at(
    lake: Lake,
    monkeypatch: pytest.MonkeyPatch,
    marker: str,
    run: Callable[[], Any],
    stop: type[BaseException] = SimulatedKill,
) -> None:
    """Run until the key `marker` is about to be written, then die as a SIGKILL would (or
    raise `stop` there: a Ctrl-C, a bug)."""
    real_put = lake.store.put_bytes

    def put_then_die(key: str, data: bytes, metadata: object = None, **kw: object) -> object:
        if marker in key:
            raise stop
        return real_put(key, data, metadata, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(lake.store, "put_bytes", put_then_die)
    with pytest.raises(stop):
        run()
    monkeypatch.setattr(lake.store, "put_bytes", real_put)


def test_a_kill_in_the_details_phase_resumes_the_same_batches(
    local_lake: Lake, emulator: TmdbEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = ("movie:149461", "tt7729602", "tt3561390", "tt1513015")

    def run() -> Any:
        return ingest(local_lake, emulator, plan="ids", ids=ids, batch_size=2)

    _kill_at(local_lake, monkeypatch, "/details/batches/000002", run)
    assert run().status == "succeeded"
    tally = landed(local_lake.store)
    assert all(n == 1 for n in tally.records.values()), tally.records


def test_a_kill_in_a_retry_round_with_follow_up_items_resumes_the_same_batches(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = make_emulator(
        scripted={
            "/3/movie/149461": [500] * 3,
            "/3/find/tt7729602": [500] * 3,
            "/3/find/tt3561390": [500] * 3,
            "/3/find/tt1513015": [500] * 3,
        }
    )

    run = same_command(local_lake, emulator, *SHIFT_IDS, batch_size=2)

    assert run().status == "partial"
    _kill_at(local_lake, monkeypatch, "/retry1-details/batches/000002", run)
    assert run().status == "succeeded"
    tally = landed(local_lake.store)
    assert all(n == 1 for n in tally.records.values()), tally.records
    assert "movie:519331" in tally.records


def test_an_ids_plan_started_by_cinelake_0_1_0_is_resumed_not_redone(
    local_lake: Lake, emulator: TmdbEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0.1.0 named ids plans by their spelling; its checkpoints must keep working."""
    from cinelake.tmdb import inputs, planning

    ids = ("movie:550", "tv:1396")
    with monkeypatch.context() as old_version:
        old_version.setattr(planning, "input_identity", lambda r, s: inputs.ids_identity_0_1_0(r))
        assert ingest(local_lake, emulator, plan="ids", ids=ids).status == "succeeded"
    before = emulator.stats().total_requests

    again = ingest(local_lake, emulator, plan="ids", ids=ids)

    assert again.status == "succeeded"
    assert emulator.stats().total_requests == before
    assert_exactly_once(local_lake.store, set(ids), set())


def test_files_a_dead_run_left_are_listed_by_one_manifest_only(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan finished over several runs (a kill, then a retry round) lists each file once."""

    emulator = make_emulator(scripted={"/3/movie/550": [500] * 3})
    ids = ("movie:550", "movie:149461", "tv:1396")

    run = same_command(local_lake, emulator, *ids, batch_size=1)

    _kill_at(local_lake, monkeypatch, "/details/batches/000002", run)
    assert run().status == "partial"
    assert run().status == "succeeded"

    listed = [o["key"] for m in manifests(local_lake.store) for o in m["objects"]]
    assert sorted(listed) == sorted(set(listed)), "a file is listed by two manifests"
    assert set(listed) == set(data_keys(local_lake.store))


# A Ctrl-C or a bug is not a SIGKILL: the run lists what it landed before the error goes on ----
THREE_TITLES = ("movie:550", "movie:149461", "tv:1396")


@dataclass(frozen=True)
class Stopped:
    run: Callable[[], Any]
    """The same command again."""
    said: str
    """What the stopped run's note must say about why it stopped."""


@pytest.fixture(
    name="stopped",
    params=[(KeyboardInterrupt, "interrupted (Ctrl-C)"), (RuntimeError, "unexpected RuntimeError")],
    ids=["ctrl-c", "a-bug"],
)
def stopped_fixture(
    request: pytest.FixtureRequest,
    local_lake: Lake,
    emulator: TmdbEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> Stopped:
    """A run of three titles, one a batch, stopped as batch 2's marker is about to land."""
    stop, said = request.param
    run = same_command(local_lake, emulator, *THREE_TITLES, batch_size=1)
    _kill_at(local_lake, monkeypatch, "/details/batches/000002", run, stop)
    return Stopped(run, said)


def test_a_run_stopped_mid_plan_writes_a_manifest_of_what_it_landed(
    local_lake: Lake, stopped: Stopped
) -> None:
    [manifest] = manifests(local_lake.store)
    assert manifest["status"] == "partial"
    assert manifest["counts"]["stopped_early"] == 1
    assert stopped.said in manifest["notes"][-1] and "run the same command" in manifest["notes"][-1]
    listed = {o["key"] for o in manifest["objects"]}
    assert len(listed) == 2, "batch 1's file and batch 2's file, landed before its marker"
    assert listed == data_keys(local_lake.store)


def test_the_run_after_a_stopped_one_lists_only_the_files_it_landed(
    local_lake: Lake, stopped: Stopped
) -> None:
    assert stopped.run().status == "succeeded"

    listed = [o["key"] for m in manifests(local_lake.store) for o in m["objects"]]
    assert sorted(listed) == sorted(set(listed)), "a file is listed by two manifests"
    assert set(listed) == data_keys(local_lake.store)
    assert_exactly_once(local_lake.store, set(THREE_TITLES), set())


def on_batch_2_marker(key: str, *args: Any, **kwargs: Any) -> bool:
    return "/details/batches/000002" in key


def test_sigterm_stops_a_run_like_ctrl_c_and_its_manifest_says_so(
    local_lake: Lake, emulator: TmdbEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`docker stop` and `timeout` send SIGTERM: without a handler nothing would list the files."""
    signal_self_first(monkeypatch, LocalDirStore, "put_bytes", signal.SIGTERM, on_batch_2_marker)
    argv = tmdb_argv(local_lake, "--ids", ",".join(THREE_TITLES), "--batch-size", "1")

    result = cli(argv, tmdb_env(emulator, local_lake))

    assert result.code == 128 + signal.SIGTERM
    assert result.err.strip().splitlines()[-1].startswith("cinelake: error: terminated (SIGTERM)")
    [manifest] = manifests(local_lake.store)
    assert "terminated (SIGTERM)" in manifest["notes"][-1]
    assert {o["key"] for o in manifest["objects"]} == data_keys(local_lake.store)


def second_sigterm_as_the_stopped_run_writes_its_manifest(mp: pytest.MonkeyPatch) -> None:
    from cinelake.lake.manifest import RunManifest

    signal_self_first(mp, LocalDirStore, "put_bytes", signal.SIGTERM, on_batch_2_marker)
    signal_self_first(mp, RunManifest, "write", signal.SIGTERM)  # `timeout`, then a user


def sigterm_as_the_client_closes(mp: pytest.MonkeyPatch) -> None:
    from cinelake.tmdb.client import TmdbClient

    signal_self_first(mp, TmdbClient, "close", signal.SIGTERM)


@pytest.mark.parametrize(
    "send_sigterm",
    [second_sigterm_as_the_stopped_run_writes_its_manifest, sigterm_as_the_client_closes],
    ids=lambda moment: moment.__name__,
)
def test_a_sigterm_as_a_manifest_is_due_lets_it_be_written(
    local_lake: Lake,
    emulator: TmdbEmulator,
    monkeypatch: pytest.MonkeyPatch,
    send_sigterm: Callable[[pytest.MonkeyPatch], None],
) -> None:
    send_sigterm(monkeypatch)
    argv = tmdb_argv(local_lake, "--ids", ",".join(THREE_TITLES), "--batch-size", "1")

    result = cli(argv, tmdb_env(emulator, local_lake))

    assert result.code == 128 + signal.SIGTERM
    [manifest] = manifests(local_lake.store)
    assert {o["key"] for o in manifest["objects"]} == data_keys(local_lake.store)


def test_a_run_stopped_before_it_landed_anything_writes_no_manifest(
    local_lake: Lake, emulator: TmdbEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = same_command(local_lake, emulator, "movie:550", "movie:149461", batch_size=1)

    _kill_at(local_lake, monkeypatch, "Raw/TMDB/JSON/", run, KeyboardInterrupt)

    assert manifests(local_lake.store) == []
    assert data_keys(local_lake.store) == set()


def test_status_keeps_a_plans_item_counts_after_a_run_stopped_by_ctrl_c(
    local_lake: Lake, make_emulator: Callable[..., TmdbEmulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stopped run counts no items: the plan's counts stay those of its last full report."""
    emulator = make_emulator(scripted={"/3/movie/550": [500] * 6})
    request = TmdbIngestRequest(plan="ids", run_date=RUN_DATE, ids=("movie:550", "tv:1396"))

    def run(id_suffix: str) -> Any:
        # Runs finishing within one second are ordered by run id: the stopped one comes last.
        client = fast_client(emulator, policy=RetryPolicy(max_attempts=3, base_delay=0))
        try:
            run_id = new_run_id()[: -len(id_suffix)] + id_suffix
            return run_tmdb_ingest(
                request, settings=local_lake.settings, store=local_lake.store, client=client,
                run_id=run_id,
            )  # fmt: skip
        finally:
            client.close()

    assert run("00000000").counts["failed"] == 1
    _kill_at(local_lake, monkeypatch, "/retry1-details/batches/", lambda: run("ffffffff"),
             KeyboardInterrupt)  # fmt: skip

    rows = {row.source: row for row in lake_status(local_lake.store).rows}
    assert rows["TMDB Errors"].failed == 1
    assert rows["TMDB Errors"].records == 2, "the first run's error line and the round's"
