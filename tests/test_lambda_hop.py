"""The handler's one-hop contract, in process: what the state machine sends and reads back.

The same contract runs under awslambdaric in tests/test_lambda_runtime.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from tmdb_fixtures import API_KEY, emulator_fixture, make_emulator_fixture

from cinelake.aws_lambda import handler as hop_handler
from cinelake.errors import InputError
from cinelake.lake import lease
from cinelake.store import LocalDirStore
from cinelake.testing.tmdb_emulator import TmdbEmulator

__all__ = ["emulator_fixture", "make_emulator_fixture"]


@dataclass
class Context:
    function_name: str = "cinelake-test-tmdb"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:cinelake-test-tmdb"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    remaining_ms: int = 900_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def lake(clean_env: Path, emulator: TmdbEmulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = clean_env / "lake"
    monkeypatch.setenv("CINELAKE_LAKE", str(root))
    monkeypatch.setenv("TMDB_API_KEY", API_KEY)
    monkeypatch.setenv("TMDB_BASE_URL", emulator.base_url)
    monkeypatch.setattr(hop_handler, "_container", {})
    return root


def test_an_envelope_runs_its_input_for_the_date_the_execution_started(lake: Path) -> None:
    envelope = {
        "input": {"plan": "ids", "ids": ["movie:550"]},
        "hop": 2,
        "started": "2025-05-01T23:59:59.500Z",
    }

    result = hop_handler.handler(envelope, Context())

    assert result["status"] == "succeeded"
    assert result["more"] is False
    assert result["hop"] == 2
    assert result["date"] == "2025-05-01"
    assert result["counts"]["landed"] == 1


def test_a_hop_that_runs_out_of_time_reports_more_work(lake: Path) -> None:
    envelope = {"input": {"plan": "ids", "ids": ["movie:550", "tv:1396"]}, "hop": 1}

    result = hop_handler.handler(envelope, Context(remaining_ms=60_500))

    assert result["status"] == "partial"
    assert result["more"] is True


def test_a_hop_that_finds_the_lease_taken_returns_busy_without_a_request(
    lake: Path, emulator: TmdbEmulator
) -> None:
    held = lease.acquire(LocalDirStore(lake), "tmdb", "run-on-a-laptop")

    result = hop_handler.handler({"input": {"plan": "ids", "ids": ["movie:550"]}}, Context())
    held.release()

    assert result["status"] == "busy"
    assert result["more"] is False
    assert result["holder"].startswith("run run-on-a-laptop on ")
    assert emulator.stats().total_requests == 0


def test_a_plain_event_is_still_one_hop(lake: Path) -> None:
    result = hop_handler.handler({"plan": "ids", "ids": ["movie:550"], "hop": 3}, Context())

    assert (result["status"], result["more"], result["hop"]) == ("succeeded", False, 3)


def test_an_envelope_whose_input_is_not_an_object_is_refused(lake: Path) -> None:
    with pytest.raises(InputError, match="event input"):
        hop_handler.handler({"input": ["movie:550"], "hop": 1}, Context())
