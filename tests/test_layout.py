"""The raw zone's key layout: zero-padded dates, known datasets, safe file names."""

from __future__ import annotations

from datetime import date

import pytest

from cinelake.lake import layout


def test_csv_key_pads_month_and_day_with_zeros() -> None:
    key = layout.csv_key("Movies", date(2025, 5, 2), "movies.csv")
    assert key == "Raw/Local/CSV/Movies/2025/05/02/movies.csv"


def test_csv_key_for_series() -> None:
    key = layout.csv_key("Series", date(2025, 12, 31), "series.csv")
    assert key == "Raw/Local/CSV/Series/2025/12/31/series.csv"


def test_manifest_key_pads_the_date_and_ends_with_the_run_id() -> None:
    key = layout.manifest_key(date(2025, 1, 9), "20250109T000000Z-abcd1234")
    assert key == "Raw/_manifests/2025/01/09/20250109T000000Z-abcd1234.json"


def test_tmdb_key_pads_the_date() -> None:
    key = layout.tmdb_key("Movies", date(2025, 3, 4), "part-0001")
    assert key == "Raw/TMDB/JSON/Movies/2025/03/04/part-0001.json"


@pytest.mark.parametrize("dataset", ["Films", "movies", "MOVIES", "", "Movies/../Series"])
def test_unknown_dataset_is_refused(dataset: str) -> None:
    with pytest.raises(ValueError, match="unknown dataset"):
        layout.csv_key(dataset, date(2025, 5, 2), "movies.csv")


@pytest.mark.parametrize(
    "name", ["a/b.csv", "../movies.csv", "..", ".", "", "/etc/passwd", ".hidden", "a b.csv"]
)
def test_file_names_that_could_escape_or_break_a_key_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="cannot be used in a lake key"):
        layout.csv_key("Movies", date(2025, 5, 2), name)


@pytest.mark.parametrize("name", ["movies.csv", "series_2025-05-02.csv", "Movies.CSV", "a..b.csv"])
def test_ordinary_file_names_are_accepted(name: str) -> None:
    assert layout.csv_key("Movies", date(2025, 5, 2), name).endswith(f"/{name}")


def test_partition_of_traces_a_csv_key_to_its_dataset_and_date() -> None:
    key = layout.csv_key("Series", date(2025, 5, 2), "series.csv")
    assert layout.partition_of(key) == ("Local CSV Series", date(2025, 5, 2))


def test_partition_of_traces_a_tmdb_key() -> None:
    key = layout.tmdb_key("Discover", date(2024, 2, 29), "page-1")
    assert layout.partition_of(key) == ("TMDB Discover", date(2024, 2, 29))


@pytest.mark.parametrize(
    "key",
    [
        "Raw/_manifests/2025/05/02/run.json",
        "Raw/Local/CSV/Movies/2025/5/2/movies.csv",
        "Raw/Local/CSV/Movies/2025/13/02/movies.csv",
        "Raw/Local/CSV/Movies/2025/05/02/sub/movies.csv",
        "elsewhere/movies.csv",
    ],
)
def test_partition_of_refuses_keys_outside_the_data_layout(key: str) -> None:
    assert layout.partition_of(key) is None


def test_manifests_and_state_are_control_keys_not_data() -> None:
    assert layout.is_control_key(layout.manifest_key(date(2025, 5, 2), "run"))
    assert layout.is_control_key(layout.state_prefix(date(2025, 5, 2), "plan") + "x.json")
    assert not layout.is_control_key(layout.csv_key("Movies", date(2025, 5, 2), "movies.csv"))
