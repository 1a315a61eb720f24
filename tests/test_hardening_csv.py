"""`ingest-csv` under faults: a source that changes while it is read, a stop right after a
publish, a lake whose manifest cannot be written.

Each fault is injected at its exact point (a read, a check, a write), never by timing.
"""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

import pytest
from conftest import signal_self_first
from lakes import Lake, csv_key, open_lake

from cinelake.cli import main
from cinelake.errors import SourceChanged
from cinelake.store.base import Store
from cinelake.store.s3 import MIB
from cinelake.store.source import SteadySource

HEADER = b"id|tituloPincipal|anoLancamento\n"


@pytest.fixture(params=["local", "moto", "rclone"])
def lake(request: pytest.FixtureRequest, clean_env: Path, tmp_path: Path) -> Lake:
    return open_lake(request.param, request, tmp_path)


def big_csv(path: Path, size: int) -> Path:
    row = b"tt0000001|Central do Brasil|1998\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(HEADER + row * (size // len(row)))
    return path


def truncate_after_first_read(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """The reproduction: the file is cut to a short prefix while its first part is landing."""
    real = SteadySource.read

    def read(self: SteadySource, size: int) -> bytes:
        chunk = real(self, size)
        if self.path == path and chunk and self.bytes_read == len(chunk):
            prefix = path.read_bytes()[: 5 * 1024]
            path.write_bytes(prefix)
        return chunk

    monkeypatch.setattr(SteadySource, "read", read)


def test_a_source_truncated_while_it_is_read_lands_nothing_and_fails_naming_it(
    capsys: pytest.CaptureFixture[str],
    lake: Lake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = big_csv(tmp_path / "in" / "s.csv", 12 * MIB)
    truncate_after_first_read(monkeypatch, source)
    env = lake.env | {"CINELAKE_PART_SIZE_MIB": "5"}

    code = main(["ingest-csv", "--date", "2025-05-02", "--movies", str(source)], environ=env)

    err = capsys.readouterr().err
    assert code == 1
    assert f"{source} changed while it was being landed" in err
    assert lake.data_keys() == []


def test_a_source_modified_in_place_while_it_is_read_is_refused(tmp_path: Path) -> None:
    source = big_csv(tmp_path / "s.csv", 1024)
    with SteadySource(source) as reading:
        reading.read(100)
        with source.open("r+b") as handle:
            handle.write(b"X")
        os.utime(source, ns=(0, 0))
        with pytest.raises(SourceChanged, match="modified or replaced"):
            reading.read_all()


def test_an_object_published_just_before_a_stop_is_in_the_partial_manifest(
    capsys: pytest.CaptureFixture[str],
    lake: Lake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stop arrives after the bytes are published, before the store confirms them."""
    source = big_csv(tmp_path / "in" / "movies.csv", 4096)
    signal_self_first(monkeypatch, Store, "_verify", signal.SIGINT)

    code = main(["ingest-csv", "--date", "2025-05-02", "--movies", str(source)], environ=lake.env)

    assert code == 130
    assert lake.data_keys() == [csv_key("movies.csv")]
    [manifest_key] = lake.manifest_keys()
    manifest = lake.manifest(manifest_key)
    assert manifest["status"] == "partial"
    [listed] = manifest["objects"]
    assert listed["key"] == csv_key("movies.csv")
    assert listed["state"] == "written"


def test_a_manifest_the_full_disk_refused_says_the_csv_itself_landed(
    capsys: pytest.CaptureFixture[str],
    clean_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = big_csv(tmp_path / "in" / "movies.csv", 4096)
    real_fsync = os.fsync
    writes = []

    def disk_full_after_the_csv(fd: int) -> None:
        writes.append(fd)
        if len(writes) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", disk_full_after_the_csv)
    env = {"CINELAKE_LAKE": str(tmp_path / "lake")}

    code = main(["ingest-csv", "--date", "2025-05-02", "--movies", str(source)], environ=env)

    err = capsys.readouterr().err
    assert code == 1
    [line] = err.strip().splitlines()
    assert "disk is full" in line
    assert f"1 landed file(s) stay unlisted ({csv_key('movies.csv')})" in line
    assert list((tmp_path / "lake" / ".cinelake" / "tmp").iterdir()) == []
