"""Errors reach people as one line, with a traceback only when asked for with -v."""

from __future__ import annotations

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

    assert "Traceback" in capsys.readouterr().err


def test_a_bad_input_error_is_one_line_with_exit_code_2(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["ingest-csv", "--movies", str(clean_env / "absent.csv")], environ={})

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert "absent.csv" in err[0]
