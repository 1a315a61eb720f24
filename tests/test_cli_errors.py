"""Errors reach people as one line, with a traceback only when asked for with -v."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cinelake import cli
from cinelake.csv_ingest import run as csv_run


def _explode(*args: object, **kwargs: object) -> None:
    raise RuntimeError("a bug, not a bad input")


@pytest.fixture
def movies(clean_env: Path) -> Path:
    path = clean_env / "movies.csv"
    path.write_bytes(b"id|a\ntt0000001|x\n")
    return path


def test_an_unexpected_error_is_one_line_with_exit_code_1(
    movies: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(csv_run, "ingest_csv", _explode)

    code = cli.main(["ingest-csv", "--movies", str(movies)], environ={})

    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().splitlines() == [
        "cinelake: error: unexpected RuntimeError: a bug, not a bad input; what landed stays "
        "landed, re-run to resume (-v shows the traceback)"
    ]


def test_verbose_adds_the_traceback(
    movies: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(csv_run, "ingest_csv", _explode)

    cli.main(["ingest-csv", "-v", "--movies", str(movies)], environ={})

    err = capsys.readouterr().err
    assert "Traceback" in err
    assert [line for line in err.splitlines() if "error:" in line] == [
        err.strip().splitlines()[-1]
    ], "one error line, after the traceback"


def test_a_bad_input_error_is_one_line_with_exit_code_2(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["ingest-csv", "--movies", str(clean_env / "absent.csv")], environ={})

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert "absent.csv" in err[0]


def test_a_usage_error_is_one_line_pointing_at_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["ingest-csv", "--date", "2025-13-01"], environ={})

    err = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2
    assert err == [
        "cinelake ingest-csv: error: argument --date: '2025-13-01' is not a date; use "
        "YYYY-MM-DD; see `cinelake ingest-csv --help`"
    ]


@pytest.mark.parametrize("value", ["20250502", "2025-W18-5", "2025-5-2"])
def test_only_year_month_day_dates_are_accepted(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["ingest-csv", "--date", value], environ={})

    assert stopped.value.code == 2
    assert "use YYYY-MM-DD" in capsys.readouterr().err


def test_json_logs_are_one_object_per_line_with_event_and_run_id(
    movies: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["ingest-csv", "--log-format", "json", "--movies", str(movies), "--lake", "lake"],
        environ={},
    )

    lines = capsys.readouterr().err.strip().splitlines()
    records = [json.loads(line) for line in lines]
    assert code == 0
    assert {r["event"] for r in records} >= {"csv.written", "run.finished"}
    assert all(r["run_id"] == records[-1]["run_id"] for r in records)


def test_with_json_logs_an_error_is_a_json_object_too(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["ingest-csv", "--log-format", "json", "--movies", str(clean_env / "absent.csv")],
        environ={},
    )

    (line,) = capsys.readouterr().err.strip().splitlines()
    record = json.loads(line)
    assert code == 2
    assert record["event"] == "command.failed"
    assert "absent.csv" in record["message"]


# Lambda commands and .env files: bad input is one line with exit 2, before any AWS call -------
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["lambda", "invoke", "--stack", "bad name!"], "not a CloudFormation stack name"),
        (["lambda", "invoke", "--stack", "cinelake", "--event", "[1]"], "must be a JSON object"),
        (["lambda", "deploy", "--stack", ""], "not a CloudFormation stack name"),
    ],
)
def test_lambda_commands_refuse_bad_input_before_calling_aws(
    clean_env: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code = cli.main(argv, environ={})

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert expected in err[0]


def test_lambda_invoke_without_credentials_says_which_variables_to_set(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["lambda", "invoke", "--stack", "cinelake", "--region", "us-east-1"], environ={}
    )

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert "no AWS credentials" in err[0]


def test_lambda_build_into_a_file_is_refused(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = clean_env / "dist"
    taken.write_text("a file")

    code = cli.main(["lambda", "build", "--out", str(taken)], environ={})

    assert code == 2
    assert "is a file" in capsys.readouterr().err


def test_env_file_that_is_not_utf8_is_one_line_naming_it(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_file = clean_env / "latin1.env"
    env_file.write_bytes("NOME_DO_BUCKET_S3=s\xe3o-paulo\n".encode("latin-1"))

    code = cli.main(["status", "--env-file", str(env_file)], environ={})

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert str(env_file) in err[0] and "UTF-8" in err[0]
