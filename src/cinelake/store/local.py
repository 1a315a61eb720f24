"""A lake in a local directory, with the same key layout and rules as S3.

Used by `make demo`, by tests, and by anyone without a bucket. Bytes live at `<root>/<key>`
so the tree looks exactly like the bucket would. What S3 keeps beside an object (checksum,
metadata, previous versions) lives under `<root>/.cinelake/`, outside the raw layout.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG
from typing import Any, BinaryIO

from cinelake import checksums
from cinelake.errors import LakeUnavailable, ObjectExists, StoreError
from cinelake.store.base import (
    META_BYTES,
    META_SHA256,
    ObjectInfo,
    ProgressCallback,
    Store,
    Tap,
    Written,
)
from cinelake.store.source import SteadySource

_CONTROL_DIR = ".cinelake"


class LocalDirStore(Store):
    """Conditional writes via `os.link`, which fails atomically when the name is taken."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.url = str(self.root)
        if self.root.exists() and not self.root.is_dir():
            raise LakeUnavailable(f"--lake {root}: exists and is not a directory; pick a folder")
        self._given = root

    @property
    def keeps_versions(self) -> bool:
        return True

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/") or key.startswith(_CONTROL_DIR):
            raise ValueError(f"{key!r} is not a lake key")
        return self.root / key

    def _meta_path(self, key: str, inode: int) -> Path:
        """Sidecars are named by the inode they describe, so they can be written before the
        bytes are published: a crash in between leaves only an orphan sidecar, never bytes
        without their metadata, and racing writers never overwrite each other's sidecar."""
        return self.root / _CONTROL_DIR / "meta" / f"{key}.{inode}.json"

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):  # a file where a folder would be
            return None
        if not S_ISREG(stat.st_mode):  # a folder (or a dangling name) is not an object
            return None
        meta = self._read_meta(key, stat.st_ino)
        fingerprint = [stat.st_size, stat.st_ino, stat.st_mtime_ns]
        if meta is None or meta.get("fingerprint") != fingerprint:
            meta = self._rebuild_meta(key, path)
        return ObjectInfo(
            key=key,
            size=stat.st_size,
            checksum_algorithm=str(meta["checksum_algorithm"]),
            checksum=str(meta["checksum"]),
            metadata=_str_map(meta.get("metadata")),
            version_id=str(meta.get("version_id")) if meta.get("version_id") else None,
        )

    def open_read(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return path.open("rb")

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        # S3 prefixes are plain string prefixes: "Raw/a" matches "Raw/a/1.csv" and "Raw/ab.csv".
        folder = prefix.rpartition("/")[0]
        start = self._path(folder) if folder else self.root
        if start.is_dir():
            yield from self._walk(start, prefix)

    def _walk(self, folder: Path, prefix: str) -> Iterator[ObjectInfo]:
        """Depth first in S3's key order: a folder sorts as its name followed by `/`."""
        rel = folder.relative_to(self.root).as_posix()
        base = "" if rel == "." else f"{rel}/"
        with os.scandir(folder) as entries:
            found = sorted(
                (f"{e.name}/" if e.is_dir(follow_symlinks=False) else e.name, e.path)
                for e in entries
                if e.name != _CONTROL_DIR
            )
        for name, path in found:
            key = base + name
            if name.endswith("/"):
                if key.startswith(prefix) or prefix.startswith(key):
                    yield from self._walk(Path(path), prefix)
            elif key.startswith(prefix):
                try:
                    stat = Path(path).stat()
                except FileNotFoundError:  # a dangling symlink: nothing S3 could hold
                    continue
                if S_ISREG(stat.st_mode):
                    yield ObjectInfo(key=key, size=stat.st_size)

    def _write_bytes(
        self, key: str, data: bytes, metadata: Mapping[str, str], checksum: str, *, replace: bool
    ) -> str | None:
        tmp: Path | None = None
        try:
            tmp = self._temp()
            with tmp.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            return self._commit(
                key, tmp, checksums.sha256_hex(data), checksum, metadata, replace=replace
            )
        except OSError as exc:
            raise self._write_failed(key, exc) from None
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)

    def _write_file(
        self,
        key: str,
        path: Path,
        metadata: Mapping[str, str],
        *,
        replace: bool,
        progress: ProgressCallback | None,
        tap: Tap | None,
    ) -> Written:
        digests = checksums.Digests(self.checksum_algorithm)
        tmp: Path | None = None
        with SteadySource(path) as source:
            try:
                tmp = self._temp()
                with tmp.open("wb") as target:
                    while chunk := _read_source(source):
                        digests.update(chunk)
                        target.write(chunk)
                        if tap:
                            tap(chunk)
                        if progress:
                            progress(len(chunk))
                    target.flush()
                    os.fsync(target.fileno())
                version = self._commit(
                    key, tmp, digests.sha256, digests.crc, metadata, replace=replace
                )
            except _SourceReadFailed as exc:
                raise self._write_failed(key, exc.cause, source=path) from None
            except OSError as exc:
                raise self._write_failed(key, exc) from None
            finally:
                if tmp is not None:
                    tmp.unlink(missing_ok=True)
        return Written(digests.size, digests.sha256, digests.crc, version)

    def _temp(self) -> Path:
        """The lake folder is created on the first write, so refused runs leave no trace."""
        folder = self.root / _CONTROL_DIR / "tmp"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LakeUnavailable(
                f"--lake {self._given}: cannot create the lake folder ({exc.strerror}); "
                "pick a writable folder"
            ) from exc
        handle, name = tempfile.mkstemp(dir=folder, prefix="put-")
        os.close(handle)
        return Path(name)

    def _commit(
        self,
        key: str,
        tmp: Path,
        sha: str,
        checksum: str,
        metadata: Mapping[str, str],
        *,
        replace: bool,
    ) -> str:
        """Sidecar first, then the bytes; the loser of a race removes only its own sidecar."""
        version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        sidecar = self._write_meta(key, tmp, sha, checksum, metadata, version)
        with self._key_lock(key):
            try:
                self._publish(key, tmp, replace=replace)
            except StoreError:
                sidecar.unlink(missing_ok=True)
                raise
            own = re.compile(rf"{re.escape(Path(key).name)}\.\d+\.json")
            for stale in sidecar.parent.glob(f"{glob.escape(Path(key).name)}.*.json"):
                if stale != sidecar and own.fullmatch(stale.name):
                    stale.unlink(missing_ok=True)
        return version

    @contextlib.contextmanager
    def _key_lock(self, key: str) -> Iterator[None]:
        """One publisher of a key at a time, across threads and processes.

        Keeping the current bytes and replacing them are two steps: two `--overwrite` writers
        interleaved between them would both keep the same old bytes, and the first one's new
        bytes would be replaced without being kept.
        """
        lock = self.root / _CONTROL_DIR / "locks" / f"{key}.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        with lock.open("a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _publish(self, key: str, tmp: Path, *, replace: bool) -> None:
        """Make the bytes visible atomically; a reader sees all of them or nothing."""
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.is_dir():
            raise StoreError(
                f"{key}: a folder stands where the object should go ({final}); move it away "
                "and re-run"
            )
        if replace and final.exists():
            self._keep_current(key, final)
            tmp.replace(final)
            return
        try:
            os.link(tmp, final)
        except FileExistsError as exc:
            raise ObjectExists(key) from exc

    def _keep_current(self, key: str, final: Path) -> None:
        """Link the bytes about to be replaced under a name of their own, named by when."""
        folder = self.root / _CONTROL_DIR / "versions" / key
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        for attempt in range(100):
            try:
                os.link(final, folder / f"{stamp}-{attempt:02d}-previous")
                return
            except FileExistsError:
                continue
        raise StoreError(f"{key}: no free name to keep the previous version under {folder}")

    def previous_versions(self, key: str) -> tuple[Path, ...]:
        """Where replaced bytes were kept, oldest first."""
        folder = self.root / _CONTROL_DIR / "versions" / key
        return tuple(sorted(folder.iterdir())) if folder.is_dir() else ()

    def _read_meta(self, key: str, inode: int) -> dict[str, Any] | None:
        try:
            loaded = json.loads(self._meta_path(key, inode).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        return loaded if isinstance(loaded, dict) else None

    def _write_meta(  # noqa: PLR0917 - private; mirrors the sidecar's fields
        self,
        key: str,
        data_file: Path,
        sha: str,
        checksum: str,
        metadata: Mapping[str, str],
        version: str | None,
    ) -> Path:
        stat = data_file.stat()
        meta = {
            "fingerprint": [stat.st_size, stat.st_ino, stat.st_mtime_ns],
            "checksum_algorithm": self.checksum_algorithm,
            "checksum": checksum,
            "metadata": {**metadata, META_SHA256: sha, META_BYTES: str(stat.st_size)},
            "version_id": version,
        }
        target = self._meta_path(key, stat.st_ino)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._temp()
        try:
            tmp.write_text(json.dumps(meta, sort_keys=True), encoding="utf-8")
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)
        return target

    def _rebuild_meta(self, key: str, path: Path) -> dict[str, Any]:
        """Bytes without a matching sidecar: a crash before it was written, or edited in place.

        The recomputed checksum then tells the truth about the bytes, and no SHA-256 claim
        survives, so `verify` and idempotency checks see any in-place edit.
        """
        stat = path.stat()
        _, crc, _ = checksums.file_digests(path, self.checksum_algorithm)
        return {
            "fingerprint": [stat.st_size, stat.st_ino, stat.st_mtime_ns],
            "checksum_algorithm": self.checksum_algorithm,
            "checksum": crc,
            "metadata": {},
        }

    def _write_failed(self, key: str, exc: OSError, source: Path | None = None) -> StoreError:
        """A full disk, a folder where a file should be, a source failing mid-read: one line
        that blames the right one."""
        if _disk_full(exc):
            return StoreError(
                f"writing {key} failed: the lake's disk is full "
                f"({errno.errorcode.get(exc.errno or 0, 'ENOSPC')}) at {self.root}; nothing is "
                "visible at the key, free space there and re-run"
            )
        what = f"reading {source} to land it at {key}" if source else f"writing {key}"
        return StoreError(
            f"{what} failed ({exc.strerror or exc}); nothing is visible at the key, fix the "
            "cause and re-run"
        )


def _str_map(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


class _SourceReadFailed(Exception):
    """An OSError from reading the source, told apart from one writing into the lake."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _read_source(source: SteadySource) -> bytes:
    try:
        return source.read(checksums.READ_CHUNK)
    except OSError as exc:
        raise _SourceReadFailed(exc) from exc


def _disk_full(exc: OSError) -> bool:
    return exc.errno in {errno.ENOSPC, errno.EDQUOT}
