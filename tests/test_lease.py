"""One runner per lake and source: the lease under `Raw/_state/leases/`.

Staleness is injected through the lease's clock or a record written in the past, never by
waiting two minutes.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ACCESS_KEY, SECRET_KEY, S3Endpoint, new_bucket
from tmdb_fixtures import (
    MOVIES_CSV,
    Lake,
    assert_exactly_once,
    cinelake_process,
    emulator_fixture,
    expected_from_csv,
    lake_fixture,
    local_lake_fixture,
    make_emulator_fixture,
    manifests,
    run_process,
    tmdb_argv,
    tmdb_env,
)

from cinelake.errors import LeaseBusy
from cinelake.lake import lease
from cinelake.settings import Settings
from cinelake.store import open_store
from cinelake.testing.tmdb_emulator import TmdbEmulator

__all__ = ["emulator_fixture", "lake_fixture", "local_lake_fixture", "make_emulator_fixture"]

MOVIES_ONLY = ("--movies", str(MOVIES_CSV))
NOW = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


def at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def expected_movies() -> tuple[set[str], set[str]]:
    expected = expected_from_csv(series=None)
    return expected.records, set(expected.unknown)


def slow_run(lake: Lake, *extra: str) -> list[str]:
    """A run of a few seconds (movies sample, 30 requests/s): room for a second run to start."""
    argv = tmdb_argv(lake, *MOVIES_ONLY, "--batch-size", "10", *extra)
    argv[argv.index("--rate") + 1] = "30"
    return argv


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.005)


def wait_until_it_holds_the_lease(lake: Lake, emulator: TmdbEmulator) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if emulator.stats().total_requests and list(lake.store.list(lease.LEASES)):
            return
        time.sleep(0.01)
    raise AssertionError("the first run never took the lease")


# The lease on its own -----------------------------------------------------------------------
def test_a_second_owner_is_refused_with_the_holder_and_its_start_time(local_lake: Lake) -> None:
    first = lease.acquire(local_lake.store, "tmdb", "run-a", clock=at(NOW))

    with pytest.raises(LeaseBusy) as busy:
        lease.acquire(local_lake.store, "tmdb", "run-b", clock=at(NOW + timedelta(seconds=90)))

    assert "run run-a on" in busy.value.holder
    assert busy.value.started_at == "2025-05-01T08:00:00Z"
    assert busy.value.exit_code == 75
    first.release()


def test_a_released_lease_is_taken_at_once(local_lake: Lake) -> None:
    lease.acquire(local_lake.store, "tmdb", "run-a", clock=at(NOW)).release()

    second = lease.acquire(local_lake.store, "tmdb", "run-b", clock=at(NOW))

    assert second.record.owner == "run-b"


def test_a_lease_not_renewed_for_two_minutes_is_taken_over_and_logged(
    local_lake: Lake, caplog: pytest.LogCaptureFixture
) -> None:
    lease.acquire(local_lake.store, "tmdb", "run-a", clock=at(NOW))

    with caplog.at_level(logging.WARNING, logger="cinelake"):
        second = lease.acquire(
            local_lake.store, "tmdb", "run-b", clock=at(NOW + timedelta(minutes=2))
        )

    assert second.record.owner == "run-b"
    assert "taking over the tmdb lease of run run-a" in caplog.text
    assert "not renewed since 2025-05-01T08:00:00Z" in caplog.text


def test_a_renewed_lease_stays_live_past_two_minutes_from_its_start(local_lake: Lake) -> None:
    moments = iter([NOW, NOW + timedelta(seconds=100)])
    held = lease.acquire(local_lake.store, "tmdb", "run-a", clock=lambda: next(moments))
    assert held.renew()

    with pytest.raises(LeaseBusy):
        lease.acquire(local_lake.store, "tmdb", "run-b", clock=at(NOW + timedelta(seconds=200)))


def test_a_holder_whose_lease_was_taken_over_learns_it_on_its_next_renewal(
    local_lake: Lake,
) -> None:
    stale = lease.acquire(local_lake.store, "tmdb", "run-a", clock=at(NOW))
    lease.acquire(local_lake.store, "tmdb", "run-b", clock=at(NOW + timedelta(minutes=3)))

    assert stale.renew() is False
    assert stale.lost


def test_keep_alive_renews_until_release(local_lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lease, "RENEW_EVERY_SECONDS", 0.01)
    held = lease.acquire(local_lake.store, "tmdb", "run-a")
    held.keep_alive(on_lost=lambda: None)
    wait_for(lambda: held.generation >= 3)

    held.release()

    newest = list(local_lake.store.list(lease.lease_prefix("tmdb")))[-1]
    record = lease.LeaseRecord.from_json(local_lake.store.get_bytes(newest.key))
    assert record.released
    assert record.owner == "run-a"


def test_keep_alive_tells_the_run_when_another_run_took_the_lease_over(
    local_lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lease, "RENEW_EVERY_SECONDS", 0.01)
    lost = threading.Event()
    frozen = lease.acquire(local_lake.store, "tmdb", "run-a", clock=at(NOW))
    lease.acquire(local_lake.store, "tmdb", "run-b", clock=at(NOW + timedelta(minutes=3)))

    frozen.keep_alive(on_lost=lost.set)

    assert lost.wait(timeout=30)
    frozen.release()
    newest = list(local_lake.store.list(lease.lease_prefix("tmdb")))[-1]
    assert lease.LeaseRecord.from_json(local_lake.store.get_bytes(newest.key)).owner == "run-b"


def test_each_source_has_its_own_lease(local_lake: Lake) -> None:
    lease.acquire(local_lake.store, "tmdb", "run-a", clock=at(NOW))

    other = lease.acquire(local_lake.store, "other", "run-b", clock=at(NOW))

    assert other.key.startswith("Raw/_state/leases/other/")


def test_a_lake_that_ignores_conditional_writes_gets_an_advisory_lease_and_says_so(
    rclone_endpoint: S3Endpoint, clean_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = new_bucket(rclone_endpoint)
    settings = Settings(
        lake=f"s3://{bucket}",
        endpoint_url=rclone_endpoint.url,
        region="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )

    with caplog.at_level(logging.WARNING, logger="cinelake"):
        held = lease.acquire(open_store(settings), "tmdb", "run-a")

    assert held.advisory
    assert caplog.text.count("lease is only advisory") == 1


# Two CLI runs at once -----------------------------------------------------------------------
def test_a_second_run_exits_75_at_once_and_makes_no_request(
    lake: Lake, make_emulator: Callable[..., TmdbEmulator], tmp_path: Path
) -> None:
    first_tmdb, second_tmdb = make_emulator(latency_ms=5), make_emulator()
    first = cinelake_process([*slow_run(lake), "--json"], tmdb_env(first_tmdb, lake), tmp_path)
    wait_until_it_holds_the_lease(lake, first_tmdb)

    second = run_process(slow_run(lake), tmdb_env(second_tmdb, lake), tmp_path)
    out, err = first.communicate(timeout=120)

    assert second.code == 75, second.err
    assert second_tmdb.stats().total_requests == 0
    run_id = json.loads(out)["run_id"]
    assert second.err.count("\n") == 1
    assert f"run {run_id} on" in second.err and "started 20" in second.err
    assert first.returncode == 0, err
    assert_exactly_once(lake.store, *expected_movies())


def test_busy_with_json_prints_status_busy(
    local_lake: Lake, emulator: TmdbEmulator, tmp_path: Path
) -> None:
    held = lease.acquire(local_lake.store, "tmdb", "run-elsewhere")

    result = run_process(
        [*slow_run(local_lake), "--json"], tmdb_env(emulator, local_lake), tmp_path
    )
    held.release()

    busy = json.loads(result.out)
    assert result.code == 75
    assert busy["status"] == "busy"
    assert busy["holder"].startswith("run run-elsewhere on ")
    assert busy["lease"].startswith("Raw/_state/leases/tmdb/")
    assert emulator.stats().total_requests == 0
    assert manifests(local_lake.store) == []


# A holder that dies -------------------------------------------------------------------------
def test_after_kill_9_of_the_holder_the_next_run_completes_the_plan(
    lake: Lake, make_emulator: Callable[..., TmdbEmulator], tmp_path: Path
) -> None:
    emulator = make_emulator(latency_ms=5)
    env = tmdb_env(emulator, lake)
    holder = cinelake_process(slow_run(lake), env, tmp_path)
    deadline = time.monotonic() + 60
    while emulator.stats().total_requests < 40 and time.monotonic() < deadline:
        time.sleep(0.005)
    holder.send_signal(signal.SIGKILL)
    holder.communicate(timeout=30)

    rerun = run_process(slow_run(lake), env, tmp_path)

    assert holder.returncode == -signal.SIGKILL
    assert rerun.code == 0, rerun.err
    assert f"its process {holder.pid} on this machine is gone" in rerun.err
    assert_exactly_once(lake.store, *expected_movies())


def test_a_stale_lease_of_a_run_on_another_machine_is_taken_over(
    local_lake: Lake, emulator: TmdbEmulator, tmp_path: Path
) -> None:
    """As a Lambda hop killed on its timeout leaves it: no process to look at, only the time."""
    long_ago = datetime.now(UTC) - timedelta(minutes=3)
    record = lease.LeaseRecord(
        source="tmdb",
        owner="20250501T080000Z-deadbeef",
        host="169.254.0.1",
        pid=os.getpid(),
        machine="another-machine",
        started_at=long_ago.isoformat(),
        renewed_at=long_ago.isoformat(),
        expires_at=(long_ago + lease.STALE_AFTER).isoformat(),
    )
    local_lake.store.put_bytes(f"{lease.lease_prefix('tmdb')}000000000001.json", record.to_json())

    result = run_process(slow_run(local_lake), tmdb_env(emulator, local_lake), tmp_path)

    assert result.code == 0, result.err
    assert "taking over the tmdb lease of run 20250501T080000Z-deadbeef" in result.err
    assert_exactly_once(local_lake.store, *expected_movies())


def test_a_live_lease_of_a_run_on_another_machine_is_respected(
    local_lake: Lake, emulator: TmdbEmulator, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    record = lease.LeaseRecord(
        source="tmdb",
        owner="20250501T080000Z-cafecafe",
        host="169.254.0.1",
        pid=1,
        machine="another-machine",
        started_at=now.isoformat(),
        renewed_at=now.isoformat(),
        expires_at=(now + lease.STALE_AFTER).isoformat(),
    )
    local_lake.store.put_bytes(f"{lease.lease_prefix('tmdb')}000000000001.json", record.to_json())

    result = run_process(slow_run(local_lake), tmdb_env(emulator, local_lake), tmp_path)

    assert result.code == 75
    assert "run 20250501T080000Z-cafecafe on 169.254.0.1" in result.err
    assert emulator.stats().total_requests == 0
