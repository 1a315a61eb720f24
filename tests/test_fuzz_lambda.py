"""Fuzz: Lambda events of any JSON shape.

Whatever the event, the handler returns a summary or raises a cinelake error with a
`lambda.failed` log line; no secret reaches a log or the lake; nothing is left half-written.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fuzzing import assert_lake_whole, assert_no_secret, examples, lake_files
from hypothesis import given
from hypothesis import strategies as st
from tmdb_fixtures import (  # noqa: F401 - fixtures are found by name
    API_KEY,
    TmdbEmulator,
    emulator_fixture,
    make_emulator_fixture,
)

from cinelake.aws_lambda import handler as handler_module
from cinelake.errors import CinelakeError, UsageError


@dataclass
class Context:
    function_name: str = "cinelake-tmdb"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:cinelake-tmdb"
    aws_request_id: str = "fuzz"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
FIELDS = [
    "plan",
    "ids",
    "kind",
    "params",
    "max_pages",
    "since",
    "append",
    "batch_size",
    "rate",
    "date",
    "hop",
]
FIELD_VALUES = {
    "plan": st.sampled_from(["ids", "discover", "changes", "from-csv", "IDS", ""]) | JSON,
    "ids": st.sampled_from(["movie:550", "tv:1396", "tt0137523", "movie:550,tv:1396"]) | JSON,
    "kind": st.sampled_from(["movie", "tv", "Movie"]) | JSON,
    "date": st.sampled_from(["2025-05-01", "20250501", "2025-W18-4", "9999-12-31"]) | JSON,
    "since": st.sampled_from(["2025-04-30", "2025-05-02", "0001-01-01"]) | JSON,
    "max_pages": st.sampled_from([1, 2.0, 0, -1, 1e999]) | JSON,
    "batch_size": st.sampled_from([1, 100, 101, 1e999]) | JSON,
    "hop": st.sampled_from([0, 1, 48, 49, -1_000_000, 1e999]) | JSON,
    "rate": st.sampled_from([5000, 0, float("nan")]) | JSON,
    "params": st.dictionaries(
        st.sampled_from(["sort_by", "api_key", "page", "x"]), JSON, max_size=2
    )
    | JSON,
    "append": st.sampled_from(["credits", "credits,images", "x y"]) | JSON,
}
EVENTS = JSON | st.fixed_dictionaries({}, optional={name: FIELD_VALUES[name] for name in FIELDS})


@pytest.fixture
def lambda_env(clean_env: Path, emulator: TmdbEmulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(handler_module, "_container", {})
    lake = clean_env / "lake"
    monkeypatch.setenv("CINELAKE_LAKE", str(lake))
    monkeypatch.setenv("TMDB_API_KEY", API_KEY)
    monkeypatch.setenv("TMDB_BASE_URL", emulator.base_url)
    return lake


@examples(40)
@given(event=EVENTS)
def test_any_json_event_is_a_summary_or_a_logged_cinelake_error(
    lambda_env: Path, capsys: pytest.CaptureFixture[str], event: Any
) -> None:
    shutil.rmtree(lambda_env, ignore_errors=True)
    failure: BaseException | None = None
    try:
        summary = handler_module.handler(event, Context())
    except CinelakeError as exc:
        failure = exc
    err = capsys.readouterr().err
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    if failure is None:
        assert summary["status"] in {"succeeded", "partial", "failed"}
    else:
        assert any(line.get("event") == "lambda.failed" for line in logged), err
        if isinstance(failure, UsageError):
            assert str(failure).strip() and "\n" not in str(failure)
    assert "Traceback" not in err
    assert_no_secret([err, *lake_files(lambda_env).values()], [API_KEY])
    assert_lake_whole(lambda_env)
