"""The profiler observes a CSV without changing a byte, whatever the chunk boundaries.

Every test feeds the same bytes in several chunk sizes, down to one byte at a time, so lines,
CRLF pairs, multi-byte characters and the BOM are split across chunks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cinelake.csv_ingest.profile import CsvProfile, CsvProfiler

CHUNK_SIZES = [1, 2, 3, 7, 64, 1_000_000]
HEADER = b"id|tituloPincipal|anoLancamento\n"


def profile(data: bytes, chunk: int) -> CsvProfile:
    profiler = CsvProfiler()
    for start in range(0, len(data), chunk):
        profiler.feed(data[start : start + chunk])
    return profiler.finish()


@pytest.fixture(params=CHUNK_SIZES, ids=lambda size: f"chunk{size}")
def chunk(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def test_clean_file_has_header_rows_and_no_anomalies(chunk: int) -> None:
    seen = profile(HEADER + b"tt1|Central do Brasil|1998\ntt2|Aquarius|2016\n", chunk)
    assert seen.header == ["id", "tituloPincipal", "anoLancamento"]
    assert seen.rows == 2
    assert seen.line_endings == "LF"
    assert seen.anomalies() == []


def test_a_header_without_the_pipe_delimiter_is_an_anomaly(chunk: int) -> None:
    """A semicolon file has one field per line, so no row's field count gives it away."""
    seen = profile(b"id;tituloPincipal;anoLancamento\ntt1;Central do Brasil;1998\n", chunk)
    assert seen.header_fields == 1
    assert seen.bad_field_count_rows == 0
    assert seen.anomalies() == ["a header without any | (one field): is the file pipe-delimited?"]


def test_row_count_excludes_the_header(chunk: int) -> None:
    assert profile(HEADER + b"a|b|c\n" * 1000, chunk).rows == 1000


def test_header_only_file_has_no_rows(chunk: int) -> None:
    seen = profile(HEADER, chunk)
    assert seen.header == ["id", "tituloPincipal", "anoLancamento"]
    assert seen.rows == 0


def test_byte_count_is_every_byte_fed(chunk: int) -> None:
    data = b"\xef\xbb\xbf" + HEADER + b"a|b|c\r\n\xff|b"
    assert profile(data, chunk).bytes == len(data)


def test_bom_is_reported_and_left_out_of_the_header(chunk: int) -> None:
    seen = profile(b"\xef\xbb\xbf" + HEADER + b"a|b|c\n", chunk)
    assert seen.bom is True
    assert seen.header == ["id", "tituloPincipal", "anoLancamento"]
    assert "a UTF-8 byte order mark" in seen.anomalies()


def test_no_bom_is_reported_as_none(chunk: int) -> None:
    assert profile(HEADER + b"a|b|c\n", chunk).bom is False


def test_crlf_line_endings_are_reported_and_not_counted_as_fields(chunk: int) -> None:
    seen = profile(b"id|titulo|ano\r\n1|a|2000\r\n2|b|2001\r\n", chunk)
    assert seen.line_endings == "CRLF"
    assert seen.header == ["id", "titulo", "ano"]
    assert seen.rows == 2
    assert seen.bad_field_count_rows == 0
    assert "CRLF line endings" in seen.anomalies()


def test_mixed_line_endings_are_reported(chunk: int) -> None:
    seen = profile(b"id|titulo|ano\r\n1|a|2000\n2|b|2001\r\n", chunk)
    assert seen.line_endings == "mixed"
    assert (seen.crlf_lines, seen.lf_lines) == (2, 1)
    assert "mixed line endings" in seen.anomalies()


def test_invalid_utf8_lines_are_counted_with_their_line_numbers(chunk: int) -> None:
    data = HEADER + b"1|ok|2000\n2|caf\xe9|2001\n3|ok|2002\n4|\xff\xfe|2003\n"
    seen = profile(data, chunk)
    assert seen.invalid_utf8_lines == 2
    assert seen.invalid_utf8_line_numbers == [3, 5]
    assert "2 lines that are not valid UTF-8 (first lines [3, 5])" in seen.anomalies()


def test_invalid_utf8_in_the_header_is_line_one(chunk: int) -> None:
    seen = profile(b"id|t\xedtulo|ano\n1|a|2000\n", chunk)
    assert seen.invalid_utf8_line_numbers == [1]
    assert seen.header is not None
    assert seen.header[0] == "id"


def test_multibyte_characters_split_across_chunks_are_valid_utf8(chunk: int) -> None:
    seen = profile(HEADER + "1|Ação é ótima ✓ 🎬|2000\n".encode(), chunk)
    assert seen.invalid_utf8_lines == 0


def test_rows_with_the_wrong_field_count_are_counted_with_first_line_numbers(chunk: int) -> None:
    data = HEADER + b"1|a|2000\n2|b\n3|c|2002\n4|d|2003|extra\n"
    seen = profile(data, chunk)
    assert seen.bad_field_count_rows == 2
    assert seen.bad_field_count_lines == [3, 5]


def test_only_the_first_ten_line_numbers_are_kept_but_all_are_counted(chunk: int) -> None:
    seen = profile(HEADER + b"short\n" * 25, chunk if chunk > 1 else 5)
    assert seen.bad_field_count_rows == 25
    assert seen.bad_field_count_lines == list(range(2, 12))


def test_missing_final_newline_is_reported_and_the_last_row_still_counted(chunk: int) -> None:
    seen = profile(HEADER + b"1|a|2000\n2|b", chunk)
    assert seen.final_newline is False
    assert seen.rows == 2
    assert seen.bad_field_count_lines == [3]
    assert "no newline after the last line" in seen.anomalies()


def test_single_line_without_newline_is_a_header(chunk: int) -> None:
    seen = profile(b"id|titulo", chunk)
    assert seen.header == ["id", "titulo"]
    assert seen.rows == 0
    assert seen.final_newline is False


def test_a_one_megabyte_line_is_one_row(chunk: int) -> None:
    data = HEADER + b"1|" + b"x" * 1_048_576 + b"|2000\n2|b|2001\n"
    seen = profile(data, max(chunk, 4096))
    assert seen.rows == 2
    assert seen.anomalies() == []


def test_a_quoted_pipe_counts_as_an_extra_delimiter(chunk: int) -> None:
    """The source never quotes; the profiler does not interpret quotes, so it reports this."""
    seen = profile(HEADER + b'1|"Ela|Ele"|2000\n', chunk)
    assert seen.bad_field_count_rows == 1
    assert seen.bad_field_count_lines == [2]


def test_an_empty_line_is_a_row_with_the_wrong_field_count(chunk: int) -> None:
    seen = profile(HEADER + b"1|a|2000\n\n2|b|2001\n", chunk)
    assert seen.rows == 3
    assert seen.bad_field_count_lines == [3]


def test_empty_chunks_change_nothing() -> None:
    profiler = CsvProfiler()
    for piece in [b"", b"\xef\xbb\xbfid|a\n", b"", b"1|2\n", b""]:
        profiler.feed(piece)
    seen = profiler.finish()
    assert (seen.bom, seen.header, seen.rows) == (True, ["id", "a"], 1)


def test_every_chunk_size_sees_the_same_profile_of_a_nasty_file() -> None:
    data = (
        b"\xef\xbb\xbf"
        + HEADER.replace(b"\n", b"\r\n")
        + b'1|a|2000\r\n2|caf\xe9|2001\n3|"x|y"|2002\n'
        + b"4|"
        + b"z" * 200_000
        + b"|2003\n5|e"
    )
    expected = profile(data, len(data)).to_dict()
    for size in CHUNK_SIZES:
        assert profile(data, size).to_dict() == expected, size


def test_to_dict_names_what_the_manifest_records() -> None:
    seen = profile(b"\xef\xbb\xbfa|b\r\n1\n", 4).to_dict()
    assert seen == {
        "header": ["a", "b"],
        "rows": 1,
        "rows_with_wrong_field_count": 1,
        "rows_with_wrong_field_count_first_lines": [2],
        "invalid_utf8_lines": 0,
        "invalid_utf8_first_lines": [],
        "line_endings": "mixed",
        "bom": True,
        "final_newline": True,
        "anomalies": [
            "1 rows whose field count differs from the header (first lines [2])",
            "a UTF-8 byte order mark",
            "mixed line endings",
        ],
    }


@pytest.mark.parametrize("where", ["own-process", "upload-thread"])
def test_big_and_small_files_are_profiled_alike_in_a_process_or_beside_the_upload(
    tmp_path: Path, where: str
) -> None:
    from cinelake.csv_ingest.profile import profile_path
    from cinelake.csv_ingest.run import ProfileProcess, profiled_beside_upload

    path = tmp_path / "movies.csv"
    path.write_bytes(b"\xef\xbb\xbfid|a|b\r\ntt1|x|y\r\ntt2|\xe9|y|z\ntt3|S\xc3\xa3o|y")
    if where == "own-process":
        with ProfileProcess(path) as process:
            profile = process.result()
    else:
        with profiled_beside_upload() as (tap, observed):
            tap(path.read_bytes())
            profile = observed()

    assert profile == profile_path(path)
    assert profile.rows == 3
    assert profile.invalid_utf8_line_numbers == [3]
