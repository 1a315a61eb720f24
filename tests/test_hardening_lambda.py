"""The Lambda handler given events of the wrong shape: an input error naming the field and a
`lambda.failed` log line, never a raw TypeError, and never a way around the hop limit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cinelake.aws_lambda import handler as handler_module
from cinelake.errors import InputError


@dataclass
class Context:
    function_name: str = "cinelake-tmdb"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:cinelake-tmdb"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@pytest.fixture
def fresh_container(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test configures the handler's logging anew, onto the stream pytest captures."""
    monkeypatch.setattr(handler_module, "_container", {})
    monkeypatch.setenv("CINELAKE_LAKE", str(clean_env / "lake"))
    monkeypatch.setenv("TMDB_API_KEY", "never-used-key-1234")


def failed_lines(err: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "lambda.failed"]


BAD_EVENTS = {
    "a list": ([1, 2], "JSON object"),
    "a string": ("go", "JSON object"),
    "a number": (7, "JSON object"),
    "hop infinite": ({"hop": 1e999}, "hop"),
    "hop negative": ({"hop": -1_000_000}, "hop"),
    "hop a string": ({"hop": "3"}, "hop"),
    "max_pages infinite": ({"plan": "discover", "kind": "movie", "max_pages": 1e999}, "max_pages"),
    "batch_size infinite": ({"batch_size": 1e999}, "batch_size"),
    "batch_size a list": ({"batch_size": [1]}, "batch_size"),
    "rate a string": ({"rate": "fast"}, "rate"),
    "params a list of pairs": (
        {"plan": "discover", "kind": "movie", "params": [[1, "x"]]},
        "params",
    ),
    "params a nested value": (
        {"plan": "discover", "kind": "movie", "params": {"a": [1]}},
        "params",
    ),
    "date without dashes": ({"date": "20260107"}, "date"),
    "date as a week date": ({"date": "2026-W02-3"}, "date"),
    "date as a number": ({"date": 20260108}, "date"),
    "since as a week date": ({"plan": "changes", "kind": "tv", "since": "2026-W02-3"}, "since"),
    "ids an object": ({"plan": "ids", "ids": {"a": 1}}, "ids"),
    "kind a number": ({"plan": "discover", "kind": 3}, "kind"),
    "plan a list": ({"plan": ["ids"]}, "plan"),
}


@pytest.mark.usefixtures("fresh_container")
@pytest.mark.parametrize(("event", "field"), BAD_EVENTS.values(), ids=list(BAD_EVENTS))
def test_a_bad_event_is_an_input_error_naming_the_field_with_a_failed_log_line(
    capsys: pytest.CaptureFixture[str], event: Any, field: str
) -> None:
    with pytest.raises(InputError) as refused:
        handler_module.handler(event, Context())
    assert field in str(refused.value)
    [failed] = failed_lines(capsys.readouterr().err)
    assert field in failed["message"]


def test_dates_follow_the_clis_rule() -> None:
    request = handler_module.request_from_event(
        {"plan": "ids", "ids": "movie:550", "date": "2026-01-07"}, date(2026, 1, 8)
    )
    assert request.run_date == date(2026, 1, 7)


def test_numbers_from_json_are_accepted_as_their_cli_flags_would_be() -> None:
    request = handler_module.request_from_event(
        {
            "plan": "discover",
            "kind": "movie",
            "max_pages": 2.0,
            "batch_size": 50,
            "rate": 10,
            "params": {"with_genres": 18, "include_adult": False},
        },
        date(2026, 1, 8),
    )
    assert (request.max_pages, request.batch_size, request.rate) == (2, 50, 10.0)
    assert request.discover_params == (("include_adult", "false"), ("with_genres", "18"))


@pytest.mark.parametrize(
    "secret",
    [
        "part1\nSECRETpart2",
        '{"TMDB_API_KEY": "part1\\u0007SECRETpart2"}',
        '{"TMDB_READ_ACCESS_TOKEN": "eyJpart1\\u2019SECRETpart2"}',
    ],
    ids=["bare-line-break", "json-key-control", "json-token-curly-quote"],
)
def test_a_secret_from_the_secret_store_with_a_control_character_is_refused_unshown(
    secret: str,
) -> None:
    """The function reads its TMDB credential from Secrets Manager or SSM, not from `.env`:
    the same rule as the settings applies, and the message names the secret, not its value."""
    from cinelake.errors import ConfigError
    from cinelake.settings import Settings

    with pytest.raises(ConfigError) as refused:
        handler_module._apply_secret(Settings(), secret, "secret cinelake/tmdb")

    assert "secret cinelake/tmdb" in str(refused.value)
    assert "SECRET" not in str(refused.value)
