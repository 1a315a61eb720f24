"""Every run writes one CloudWatch Embedded Metric Format line whose values are the manifest's."""

from __future__ import annotations

import json
from typing import Any

from tmdb_fixtures import (
    MOVIES_CSV,
    SERIES_CSV,
    Lake,
    cli,
    emulator_fixture,
    local_lake_fixture,
    make_emulator_fixture,
    tmdb_argv,
    tmdb_env,
)

from cinelake.testing.tmdb_emulator import TmdbEmulator

__all__ = ["emulator_fixture", "local_lake_fixture", "make_emulator_fixture"]


def emf_lines(stderr: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if "_aws" in line]


def assert_valid_emf(document: dict[str, Any]) -> None:
    """The rules CloudWatch applies before it extracts anything from a line."""
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert isinstance(document["_aws"]["Timestamp"], int)
    assert directive["Namespace"] == "cinelake"
    for dimension_set in directive["Dimensions"]:
        assert all(isinstance(document[name], str) for name in dimension_set)
    for metric in directive["Metrics"]:
        assert isinstance(document[metric["Name"]], int | float)
        assert metric["Unit"] in {"Count", "Seconds"}


def test_a_tmdb_run_logs_one_emf_line_whose_metrics_equal_the_manifest_counts(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    argv = tmdb_argv(local_lake, "--movies", str(MOVIES_CSV), "--log-format", "json", "--json")

    result = cli(argv, tmdb_env(emulator, local_lake))

    [document] = emf_lines(result.err)
    counts = result.manifest()["counts"]
    assert_valid_emf(document)
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["command", "plan"]]
    assert (document["command"], document["plan"]) == ("ingest-tmdb", "from-csv")
    assert document["Requests"] == counts["http_requests"] == emulator.stats().total_requests
    assert document["Retries"] == counts["http_retries"]
    assert document["Throttled429"] == counts["http_429"]
    assert document["RecordsLanded"] == counts["landed"]
    assert document["NotFound"] == counts["not_found"]
    assert document["Failed"] == counts["failed"]
    assert document["Hops"] == 1
    assert document["Succeeded"] == 1
    assert document["DurationSeconds"] >= 0


def test_a_csv_run_logs_its_file_counts_as_metrics(
    local_lake: Lake, emulator: TmdbEmulator
) -> None:
    argv = [
        "ingest-csv",
        *local_lake.argv(),
        "--movies",
        str(MOVIES_CSV),
        "--series",
        str(SERIES_CSV),
        "--log-format",
        "json",
        "--json",
    ]

    result = cli(argv, tmdb_env(emulator, local_lake))

    [document] = emf_lines(result.err)
    assert_valid_emf(document)
    assert (document["command"], document["plan"]) == ("ingest-csv", "files")
    assert document["FilesWritten"] == result.manifest()["counts"]["written"] == 2


def test_text_logs_carry_no_metric_document(local_lake: Lake, emulator: TmdbEmulator) -> None:
    argv = tmdb_argv(local_lake, "--ids", "movie:550", "-v")

    result = cli(argv, tmdb_env(emulator, local_lake))

    assert result.code == 0
    assert "_aws" not in result.err
