"""The local lake under races and faults: concurrent `--overwrite`, a full disk, a folder at a key.

Races are injected at the exact bad interleaving (one writer paused inside its replace), so the
tests do not depend on timing or luck.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from cinelake.errors import StoreError
from cinelake.store import LocalDirStore
from cinelake.store.base import Landed

KEY = "Raw/Local/CSV/Movies/2025/05/02/x.csv"


def retrievable(store: LocalDirStore, key: str) -> set[bytes]:
    """Every version a reader can still get: the current bytes and the kept ones."""
    kept = {path.read_bytes() for path in store.previous_versions(key)}
    return kept | {store.get_bytes(key)}


def test_a_writer_paused_inside_its_replace_loses_no_other_writers_version(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = LocalDirStore(tmp_path / "lake")
    store.put_bytes(KEY, b"v0\n")
    target = store.root / KEY
    inside, resume = threading.Event(), threading.Event()
    real_replace = Path.replace

    def paused_replace(self: Path, destination: Any) -> Path:
        if threading.current_thread().name == "writer-a" and Path(destination) == target:
            inside.set()
            resume.wait(10)
        return real_replace(self, destination)

    monkeypatch.setattr(Path, "replace", paused_replace)
    results: dict[str, Landed | BaseException] = {}

    def write(name: str, data: bytes) -> None:
        try:
            results[name] = LocalDirStore(tmp_path / "lake").put_bytes(KEY, data, overwrite=True)
        except BaseException as exc:
            results[name] = exc

    a = threading.Thread(target=write, args=("a", b"version a\n"), name="writer-a")
    b = threading.Thread(target=write, args=("b", b"version b\n"), name="writer-b")
    a.start()
    assert inside.wait(10)
    b.start()
    b.join(1)  # b either finishes or waits its turn: both interleavings must keep every version
    resume.set()
    a.join(10)
    b.join(10)
    for name in ("a", "b"):
        assert isinstance(results[name], (Landed, StoreError)), results[name]
    written = {r.sha256 for r in results.values() if isinstance(r, Landed)}
    kept = retrievable(store, KEY)
    assert written <= {hashlib.sha256(data).hexdigest() for data in kept}
    assert b"v0\n" in kept
    assert written, "at least one writer keeps its promise"


def test_a_full_disk_is_named_as_the_lakes_and_leaves_no_temporary_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = LocalDirStore(tmp_path / "lake")
    source = tmp_path / "x.csv"
    source.write_bytes(b"id|t\ntt1|a\n")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(StoreError) as failed:
        store.put_file(KEY, source)
    assert "disk is full" in str(failed.value)
    assert str(store.root) in str(failed.value)
    assert "fix the file" not in str(failed.value)
    assert list((store.root / ".cinelake" / "tmp").iterdir()) == []
    assert store.head(KEY) is None


def test_no_room_for_a_temporary_file_is_named_as_a_full_disk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = LocalDirStore(tmp_path / "lake")
    store.put_bytes("Raw/a.json", b"{}")

    def no_inode(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("tempfile.mkstemp", no_inode)
    with pytest.raises(StoreError, match="disk is full"):
        store.put_bytes("Raw/b.json", b"{}")


def test_a_folder_standing_at_a_key_is_reported_as_a_folder(tmp_path: Path) -> None:
    store = LocalDirStore(tmp_path / "lake")
    (store.root / KEY).mkdir(parents=True)
    with pytest.raises(StoreError) as failed:
        store.put_bytes(KEY, b"id\n")
    assert "folder" in str(failed.value)
    assert "another writer" not in str(failed.value)
