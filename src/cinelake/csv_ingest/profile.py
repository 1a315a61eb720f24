"""Observe a CSV without changing a byte: the raw zone reports anomalies, it never fixes them.

The profiler is fed the same chunks that are uploaded, so it costs no extra read. The common
case (every line has the header's number of delimiters, valid UTF-8) is checked with a few
C-speed passes per chunk; only a chunk that fails them is walked line by line.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BOM = b"\xef\xbb\xbf"
DELIMITER = b"|"
MAX_EXAMPLES = 10
_UTF8_PIECE = 1024 * 1024
_READ_CHUNK = 8 * 1024 * 1024
_KEEP_DELIMITER_AND_NEWLINE = bytes(b for b in range(256) if b not in (0x7C, 0x0A))


@dataclass
class CsvProfile:
    """What was seen in one file; `anomalies` lists what `--strict` refuses."""

    header: list[str] | None = None
    header_fields: int = 0
    rows: int = 0
    bad_field_count_rows: int = 0
    bad_field_count_lines: list[int] = field(default_factory=list)
    invalid_utf8_lines: int = 0
    invalid_utf8_line_numbers: list[int] = field(default_factory=list)
    crlf_lines: int = 0
    lf_lines: int = 0
    bom: bool = False
    final_newline: bool = True
    bytes: int = 0

    @property
    def line_endings(self) -> str:
        if self.crlf_lines and self.lf_lines:
            return "mixed"
        return "CRLF" if self.crlf_lines else "LF"

    def anomalies(self) -> list[str]:
        found = []
        if self.header is not None and self.header_fields == 1:
            found.append("a header without any | (one field): is the file pipe-delimited?")
        if self.bad_field_count_rows:
            found.append(
                f"{self.bad_field_count_rows} rows whose field count differs from the header "
                f"(first lines {self.bad_field_count_lines})"
            )
        if self.invalid_utf8_lines:
            found.append(
                f"{self.invalid_utf8_lines} lines that are not valid UTF-8 "
                f"(first lines {self.invalid_utf8_line_numbers})"
            )
        if self.bom:
            found.append("a UTF-8 byte order mark")
        if self.line_endings != "LF":
            found.append(f"{self.line_endings} line endings")
        if not self.final_newline:
            found.append("no newline after the last line")
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "header": self.header,
            "rows": self.rows,
            "rows_with_wrong_field_count": self.bad_field_count_rows,
            "rows_with_wrong_field_count_first_lines": self.bad_field_count_lines,
            "invalid_utf8_lines": self.invalid_utf8_lines,
            "invalid_utf8_first_lines": self.invalid_utf8_line_numbers,
            "line_endings": self.line_endings,
            "bom": self.bom,
            "final_newline": self.final_newline,
            "anomalies": self.anomalies(),
        }


class CsvProfiler:
    """Feed chunks in order with `feed`, then call `finish` once."""

    def __init__(self) -> None:
        self.profile = CsvProfile()
        self._carry: list[bytes] = []
        self._line_no = 0
        self._expected_line = b""

    def feed(self, chunk: bytes) -> None:
        """Account for `chunk` without copying it: only the line split across chunks is joined."""
        if not chunk:
            return
        self.profile.bytes += len(chunk)
        first = chunk.find(b"\n")
        if first < 0:
            self._carry.append(chunk)
            return
        head = b"".join([*self._carry, chunk[: first + 1]])
        self._carry = []
        self._lines(head)
        last = chunk.rfind(b"\n")
        if last > first:
            self._body(chunk, first + 1, last + 1)
        if last + 1 < len(chunk):
            self._carry.append(chunk[last + 1 :])

    def _body(self, chunk: bytes, start: int, end: int) -> None:
        """Complete lines `chunk[start:end]`, checked with C-speed passes over the whole chunk."""
        filtered = chunk.translate(None, _KEEP_DELIMITER_AND_NEWLINE)
        body = filtered[filtered.index(b"\n") + 1 : filtered.rindex(b"\n") + 1]
        count = body.count(b"\n")
        has_cr = chunk.find(b"\r", start, end) >= 0  # memchr: skips the slow pair count
        crlf = chunk.count(b"\r\n", start, end) if has_cr else 0
        self.profile.crlf_lines += crlf
        self.profile.lf_lines += count - crlf
        self.profile.rows += count
        start_line = self._line_no + 1
        self._line_no += count
        fields_ok = body == self._expected_line * count
        utf8_ok = chunk.isascii() or _lines_are_utf8(chunk, start, end)
        if not (fields_ok and utf8_ok):
            self._walk(
                chunk[start:end], start_line, check_fields=not fields_ok, check_utf8=not utf8_ok
            )

    def finish(self) -> CsvProfile:
        if self._carry:
            self.profile.final_newline = False
            self._lines(b"".join(self._carry) + b"\n", synthetic_newline=True)
            self._carry = []
        return self.profile

    def _lines(self, block: bytes, *, synthetic_newline: bool = False) -> None:
        """Account for complete lines; `block` ends with a newline."""
        if self.profile.header is None:
            first_end = block.index(b"\n") + 1
            self._header(block[:first_end], counted=not synthetic_newline)
            block = block[first_end:]
            if not block:
                return
        count = block.count(b"\n")
        if not synthetic_newline:
            crlf = block.count(b"\r\n")
            self.profile.crlf_lines += crlf
            self.profile.lf_lines += count - crlf
        self.profile.rows += count
        start_line = self._line_no + 1
        self._line_no += count
        fields_ok = (
            block.translate(None, _KEEP_DELIMITER_AND_NEWLINE) == self._expected_line * count
        )
        try:
            block.decode("utf-8")
            utf8_ok = True
        except UnicodeDecodeError:
            utf8_ok = False
        if fields_ok and utf8_ok:
            return
        self._walk(block, start_line, check_fields=not fields_ok, check_utf8=not utf8_ok)

    def _walk(self, block: bytes, start_line: int, *, check_fields: bool, check_utf8: bool) -> None:
        profile = self.profile
        expected = profile.header_fields - 1
        for offset, line in enumerate(block.split(b"\n")[:-1]):
            number = start_line + offset
            if check_fields and line.count(DELIMITER) != expected:
                profile.bad_field_count_rows += 1
                if len(profile.bad_field_count_lines) < MAX_EXAMPLES:
                    profile.bad_field_count_lines.append(number)
            if check_utf8:
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    profile.invalid_utf8_lines += 1
                    if len(profile.invalid_utf8_line_numbers) < MAX_EXAMPLES:
                        profile.invalid_utf8_line_numbers.append(number)

    def _header(self, line: bytes, *, counted: bool) -> None:
        self._line_no = 1
        if counted and line.endswith(b"\r\n"):
            self.profile.crlf_lines += 1
        elif counted:
            self.profile.lf_lines += 1
        raw = line.rstrip(b"\n").rstrip(b"\r")
        # Seen on the whole first line: a BOM may arrive split across chunks.
        self.profile.bom = raw.startswith(BOM)
        if raw.startswith(BOM):
            raw = raw[len(BOM) :]
        if not _is_utf8(raw):
            self.profile.invalid_utf8_lines += 1
            self.profile.invalid_utf8_line_numbers.append(1)
        text = raw.decode("utf-8", errors="replace")
        self.profile.header = text.split("|")
        self.profile.header_fields = len(self.profile.header)
        self._expected_line = DELIMITER * (self.profile.header_fields - 1) + b"\n"


def _lines_are_utf8(chunk: bytes, start: int, end: int) -> bool:
    """Decode in ~1 MiB pieces cut at newlines, through a view: no 16 MiB copy or string."""
    view = memoryview(chunk)
    position = start
    while position < end:
        stop = chunk.rfind(b"\n", position, min(position + _UTF8_PIECE, end)) + 1
        if stop <= position:  # one line longer than a piece
            stop = chunk.find(b"\n", position, end) + 1 or end
        try:
            codecs.utf_8_decode(view[position:stop], "strict", True)
        except UnicodeDecodeError:
            return False
        position = stop
    return True


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def profile_path(path: Path) -> CsvProfile:
    """Profile a file with a read of its own."""
    profiler = CsvProfiler()
    with path.open("rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            profiler.feed(chunk)
    return profiler.finish()


def _main(path: Path) -> None:
    """The profiling process of a big file: its profile as JSON on stdout.

    Its stdin is a pipe nobody writes to: EOF there means cinelake is gone (killed with
    SIGTERM, say), and an orphan would read a file of many GiB for nobody, so it exits.
    """
    import json
    import os
    import sys
    import threading
    from dataclasses import asdict

    def exit_when_the_parent_is_gone() -> None:
        while os.read(0, 4096):  # the raw descriptor: no buffer lock held at shutdown
            pass
        os._exit(3)

    threading.Thread(target=exit_when_the_parent_is_gone, daemon=True).start()
    sys.stdout.write(json.dumps(asdict(profile_path(path))))


if __name__ == "__main__":
    import sys

    _main(Path(sys.argv[1]))
