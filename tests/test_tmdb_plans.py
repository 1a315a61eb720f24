"""Plans are pure: which items a run asks for, in which order, refused inputs before any request."""

from __future__ import annotations

import io
import itertools
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from tmdb_fixtures import (  # noqa: F401 - fixtures are found by name
    RUN_DATE,
    Lake,
    cli,
    emulator_fixture,
    holds_only_leases,
    local_lake_fixture,
    make_emulator_fixture,
    tmdb_argv,
    tmdb_env,
)

from cinelake import cli as cinelake_cli
from cinelake.errors import InputError
from cinelake.testing.tmdb_emulator import TmdbEmulator
from cinelake.tmdb.inputs import csv_ids_from_file, ids_from_lines, input_identity, stream_lines
from cinelake.tmdb.plans import (
    APPEND_NAMES,
    MAX_APPEND,
    MAX_CHANGES_WINDOW_DAYS,
    PlanSpec,
    batches,
    changes_windows,
    check_append,
    check_batch_size,
    parse_id,
    parse_ids,
    request_of,
)
from cinelake.tmdb.request import TmdbIngestRequest


# Ids ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "item"),
    [
        ("movie:550", "movie:550"),
        ("tv:1396", "tv:1396"),
        ("  tv:1399 \n", "tv:1399"),
        ("movie:0550", "movie:550"),
        ("tt0137523", "find:tt0137523"),
        ("tt10872600", "find:tt10872600"),
    ],
)
def test_parse_id_accepts_tmdb_ids_and_imdb_ids(text: str, item: str) -> None:
    assert parse_id(text, "--ids") == item


@pytest.mark.parametrize(
    "junk", ["550", "film:550", "movie:", "movie:abc", "tt12", "TT0137523", "tv:1;drop", ""]
)
def test_parse_id_rejects_junk_naming_where_it_came_from(junk: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_id(junk, "--ids-file line 7")
    assert "--ids-file line 7" in str(caught.value)


def test_ids_are_unique_in_first_seen_order() -> None:
    texts = ["tv:2", "movie:1", "tt0137523", "movie:1", "movie:01", "tv:2", "tt0137523", "movie:3"]
    items = parse_ids((t, "--ids") for t in texts)
    assert items == ["tv:2", "movie:1", "find:tt0137523", "movie:3"]


# --append and --batch-size --------------------------------------------------------------------
def test_append_of_twenty_items_is_accepted() -> None:
    names = [*sorted(APPEND_NAMES), "credits"][:MAX_APPEND]
    assert len(names) == MAX_APPEND
    assert check_append(names) == tuple(names)


def test_append_of_more_than_twenty_items_is_refused() -> None:
    names = [*sorted(APPEND_NAMES), "credits", "videos"]
    with pytest.raises(InputError, match="at most 20"):
        check_append(names)


def test_append_accepts_a_documented_name_with_a_slash() -> None:
    assert check_append(["credits", "watch/providers"]) == ("credits", "watch/providers")


@pytest.mark.parametrize("name", ["credits&x=1", "casts", "watch", "Credits", "../credits"])
def test_append_names_tmdb_does_not_document_are_refused(name: str) -> None:
    with pytest.raises(InputError, match="not an append_to_response name TMDB documents"):
        check_append([name])


@pytest.mark.parametrize("size", [1, 7, 100])
def test_batch_size_within_one_to_hundred_is_accepted(size: int) -> None:
    assert check_batch_size(size) == size


@pytest.mark.parametrize("size", [0, -1, 101, 1000])
def test_batch_size_outside_one_to_hundred_is_refused(size: int) -> None:
    with pytest.raises(InputError, match="1 to 100"):
        check_batch_size(size)


def test_request_with_bad_append_is_refused_before_anything_else() -> None:
    request = TmdbIngestRequest(
        plan="ids", run_date=RUN_DATE, ids=("movie:550",), append=tuple(f"a_{i}" for i in "x" * 21)
    )
    with pytest.raises(InputError):
        request.checked()


def test_cli_refuses_more_than_twenty_appends_before_any_request(
    emulator: TmdbEmulator, local_lake: Lake
) -> None:
    append = ",".join(f"sub_{chr(97 + i)}" for i in range(21))
    result = cli(
        tmdb_argv(local_lake, "--ids", "movie:550", "--append", append),
        tmdb_env(emulator, local_lake),
    )
    assert result.code == 2
    assert "--append" in result.err and "20" in result.err
    assert emulator.stats().total_requests == 0
    assert not list(local_lake.store.list("Raw/"))


@pytest.mark.parametrize("size", ["0", "101"])
def test_cli_refuses_a_batch_size_outside_one_to_hundred_before_any_request(
    emulator: TmdbEmulator, local_lake: Lake, size: str
) -> None:
    result = cli(
        tmdb_argv(local_lake, "--ids", "movie:550", "--batch-size", size),
        tmdb_env(emulator, local_lake),
    )
    assert result.code == 2
    assert "--batch-size" in result.err
    assert emulator.stats().total_requests == 0


def test_cli_refuses_a_bad_id_before_any_request(emulator: TmdbEmulator, local_lake: Lake) -> None:
    result = cli(tmdb_argv(local_lake, "--ids", "movie:550,film:9"), tmdb_env(emulator, local_lake))
    assert result.code == 2
    assert "film:9" in result.err and "--ids" in result.err
    assert emulator.stats().total_requests == 0


def test_cli_ids_file_errors_name_the_line(
    emulator: TmdbEmulator, local_lake: Lake, tmp_path: Path
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("movie:550\n# a comment\n\ntv:1396\nnonsense\n", encoding="utf-8")
    result = cli(tmdb_argv(local_lake, "--ids-file", str(ids)), tmdb_env(emulator, local_lake))
    assert result.code == 2
    assert "line 5" in result.err and "nonsense" in result.err
    assert emulator.stats().total_requests == 0


def test_cli_refuses_an_empty_ids_list_instead_of_running_another_plan(
    emulator: TmdbEmulator, local_lake: Lake
) -> None:
    result = cli(tmdb_argv(local_lake, "--ids", ""), tmdb_env(emulator, local_lake))
    assert result.code == 2
    assert "give at least one id" in result.err
    assert emulator.stats().total_requests == 0


def test_cli_refuses_an_ids_file_without_ids(
    emulator: TmdbEmulator, local_lake: Lake, tmp_path: Path
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("# nothing yet\n\n", encoding="utf-8")
    result = cli(tmdb_argv(local_lake, "--ids-file", str(ids)), tmdb_env(emulator, local_lake))
    assert result.code == 2
    assert str(ids) in result.err and "no id" in result.err
    assert holds_only_leases(local_lake.store)


def test_ids_file_with_a_bom_crlf_and_trailing_comments_is_read(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_bytes(b"\xef\xbb\xbfmovie:550  # Fight Club\r\ntv:1396\r\n")
    request = TmdbIngestRequest(plan="ids", run_date=RUN_DATE, ids_file=ids)
    assert input_identity(request, cast(Any, None)) == input_identity(
        TmdbIngestRequest(plan="ids", run_date=RUN_DATE, ids=("tv:1396", "movie:550")),
        cast(Any, None),
    )


@pytest.mark.parametrize("spelling", ["movie:0550", " movie:550", "movie:550,movie:550"])
def test_the_same_titles_spelled_differently_name_the_same_plan(spelling: str) -> None:
    def identity(ids: str) -> Any:
        request = TmdbIngestRequest(plan="ids", run_date=RUN_DATE, ids=tuple(ids.split(",")))
        return input_identity(request, cast(Any, None))

    assert identity(spelling) == identity("movie:550")


@pytest.mark.parametrize(
    "digits", ["movie:\u0665\u0665\u0660", "tt\uff10\uff11\uff11\uff11\uff11\uff16\uff11"]
)
def test_ids_with_non_ascii_digits_are_refused(digits: str) -> None:
    with pytest.raises(InputError):
        parse_id(digits, "--ids")


@pytest.mark.parametrize("rate", [float("nan"), float("inf"), 1e308, 0.0])
def test_a_rate_that_is_not_a_usable_number_is_refused(rate: float) -> None:
    request = TmdbIngestRequest(plan="ids", run_date=RUN_DATE, ids=("movie:550",), rate=rate)
    with pytest.raises(InputError, match="--rate"):
        request.checked()


def test_max_seconds_nan_is_refused() -> None:
    request = TmdbIngestRequest(
        plan="ids", run_date=RUN_DATE, ids=("movie:550",), max_seconds=float("nan")
    )
    with pytest.raises(InputError, match="--max-seconds"):
        request.checked()


def test_a_lambda_event_with_a_credential_in_its_params_is_refused() -> None:
    from cinelake.aws_lambda.handler import request_from_event

    event = {"plan": "discover", "kind": "movie", "params": {"api_key": "leaked-key-123"}}
    with pytest.raises(InputError) as refused:
        request_from_event(event, RUN_DATE)
    assert "credentials" in str(refused.value)
    assert "leaked-key-123" not in str(refused.value)


@pytest.mark.parametrize("name", ["api_key", "API_KEY", "access_token"])
def test_cli_refuses_a_credential_passed_as_a_discover_param(
    emulator: TmdbEmulator, local_lake: Lake, name: str
) -> None:
    result = cli(
        tmdb_argv(local_lake, "--discover", "movie", "--param", f"{name}=leaked-key-123"),
        tmdb_env(emulator, local_lake),
    )
    assert result.code == 2
    assert "TMDB_API_KEY" in result.err
    assert "leaked-key-123" not in result.err + result.out
    assert emulator.stats().total_requests == 0


# Batches ----------------------------------------------------------------------------------------
def test_batches_are_numbered_from_one_and_hold_at_most_the_batch_size() -> None:
    items = [f"movie:{i}" for i in range(1, 16)]
    numbered = list(batches(items, 7))
    assert [n for n, _ in numbered] == [1, 2, 3]
    assert [len(b) for _, b in numbered] == [7, 7, 1]
    assert [i for _, b in numbered for i in b] == items


def test_plan_id_is_stable_for_the_same_inputs_and_changes_with_them() -> None:
    spec = PlanSpec(plan="ids", run_date=RUN_DATE, inputs={"ids": ["movie:550"]})
    same = PlanSpec(plan="ids", run_date=RUN_DATE, inputs={"ids": ["movie:550"]})
    other_date = PlanSpec(plan="ids", run_date=date(2025, 5, 2), inputs={"ids": ["movie:550"]})
    other_batch = PlanSpec(
        plan="ids", run_date=RUN_DATE, batch_size=7, inputs={"ids": ["movie:550"]}
    )
    assert spec.plan_id() == same.plan_id()
    assert spec.plan_id().startswith("ids-")
    assert len({spec.plan_id(), other_date.plan_id(), other_batch.plan_id()}) == 3


# Changes windows ------------------------------------------------------------------------------
@pytest.mark.parametrize("days", [0, 1, 13, 14, 15, 20, 28, 29, 100])
def test_changes_windows_are_at_most_fourteen_days_and_cover_the_range(days: int) -> None:
    until = RUN_DATE
    since = until - timedelta(days=days)
    windows = changes_windows(since, until)
    assert windows[0][0] == since
    assert windows[-1][1] == until
    for start, end in windows:
        assert start <= end
        assert (end - start).days + 1 <= MAX_CHANGES_WINDOW_DAYS
    for (_, end), (start, _) in itertools.pairwise(windows):
        assert start == end + timedelta(days=1), "windows must neither overlap nor leave gaps"


def test_changes_since_after_the_run_date_is_refused() -> None:
    with pytest.raises(InputError, match="--since"):
        changes_windows(RUN_DATE + timedelta(days=1), RUN_DATE)


# Requests -------------------------------------------------------------------------------------
def test_request_of_each_kind_of_item() -> None:
    append = ("credits", "keywords")
    assert request_of("movie:550", append, {}) == (
        "/movie/550",
        {"append_to_response": "credits,keywords"},
    )
    assert request_of("tv:1396", (), {}) == ("/tv/1396", {})
    assert request_of("find-tv:tt0903747", append, {}) == (
        "/find/tt0903747",
        {"external_source": "imdb_id"},
    )
    assert request_of("discover-movie:3", append, {"sort_by": "popularity.desc"}) == (
        "/discover/movie",
        {"sort_by": "popularity.desc", "page": "3"},
    )
    assert request_of("changes-tv:2025-04-01:2025-04-14:2", append, {}) == (
        "/tv/changes",
        {"start_date": "2025-04-01", "end_date": "2025-04-14", "page": "2"},
    )


# CSV ids ----------------------------------------------------------------------------------------
def test_csv_ids_repeated_on_consecutive_rows_become_one_id(tmp_path: Path) -> None:
    csv = tmp_path / "movies.csv"
    csv.write_text(
        "id|tituloPincipal|nomeArtista\n"
        "tt0000002|A|x\ntt0000002|A|y\ntt0000002|A|z\n"
        "tt0000003|B|x\n"
        "tt0000002|A|again\n"
        "tt0000004|C|x\ntt0000004|C|y\n",
        encoding="utf-8",
    )
    assert list(csv_ids_from_file(csv)) == ["tt0000002", "tt0000003", "tt0000004"]


def test_csv_id_column_is_found_by_name_and_crlf_and_bom_are_tolerated(tmp_path: Path) -> None:
    csv = tmp_path / "series.csv"
    csv.write_bytes(b"\xef\xbb\xbfnome|id\r\nA|tt0000010\r\nB|tt0000011\r\n|\r\n")
    assert list(csv_ids_from_file(csv)) == ["tt0000010", "tt0000011"]


def test_csv_without_an_id_column_is_refused_naming_the_file(tmp_path: Path) -> None:
    csv = tmp_path / "other.csv"
    csv.write_text("imdb|title\ntt0000002|A\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"other\.csv"):
        list(csv_ids_from_file(csv))


class _EndlessCsv(io.RawIOBase):
    """A CSV that never ends: only a streaming reader can take its first ids."""

    def __init__(self) -> None:
        self.reads = 0
        self._rows = (f"tt{n:07d}|Title {n}|artist\n".encode() for n in itertools.count(1))

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        chunk = bytearray(b"id|title|artist\n" if self.reads == 1 else b"")
        while len(chunk) < max(size, 1):
            chunk += next(self._rows)
        return bytes(chunk)


def test_csv_ids_are_streamed_not_loaded_whole() -> None:
    reader = _EndlessCsv()
    first = list(itertools.islice(ids_from_lines(stream_lines(reader), "endless.csv"), 3))
    assert first == ["tt0000001", "tt0000002", "tt0000003"]
    assert reader.reads <= 2


@pytest.mark.parametrize(
    "argv",
    [
        ["--ids", "movie:550", "--since", "2025-01-01"],
        ["--changes", "movie", "--since", "2025-01-01", "--param", "a=b"],
        ["--ids", "movie:550", "--max-pages", "3"],
        ["--discover", "movie", "--movies", "movies.csv"],
    ],
)
def test_an_option_of_another_plan_is_refused_before_any_request(
    argv: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = cinelake_cli.main(
        ["ingest-tmdb", "--lake", str(tmp_path / "lake"), *argv],
        environ={"TMDB_API_KEY": "emulator-api-key", "TMDB_BASE_URL": "http://127.0.0.1:9/3"},
    )

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert "does not apply" in err[0]
    assert not (tmp_path / "lake").exists()
