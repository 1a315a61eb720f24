"""The lake's one storage interface: the raw-zone rules live here, above the backends.

Backends implement a few primitives (conditional write, head, read, list). This base class
adds what must hold whatever the backend: a key is never silently overwritten, the same bytes
again are `unchanged`, every write is checked against checksums computed locally.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from cinelake import checksums
from cinelake.errors import ChecksumMismatch, ObjectConflict, ObjectExists
from cinelake.store.limitations import Limitations

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]
"""Called with the number of bytes just sent, from any thread."""

Tap = Callable[[bytes], None]
"""Sees every chunk of a file once, in order, from the reading thread: observers share the
single read that also uploads and hashes."""

META_SHA256 = "cinelake-sha256"
META_BYTES = "cinelake-bytes"
META_RUN_ID = "cinelake-run-id"
META_SOURCE = "cinelake-source"

VerifiedBy = Literal["server-checksum", "size-and-md5", "size-only", "sha256"]


@dataclass(frozen=True)
class ObjectInfo:
    """What the lake says about one object, without reading its bytes."""

    key: str
    size: int
    checksum_algorithm: str | None = None
    checksum: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    version_id: str | None = None
    etag: str | None = None
    """Without quotes; an overwrite with other bytes changes it (it derives from the bytes, or
    is new for every write)."""


@dataclass(frozen=True)
class Recorded:
    """What a manifest says was landed at a key: enough to recognise it without reading it."""

    sha256: str
    size: int
    etag: str


RecordLookup = Callable[[str], "Recorded | None"]
"""The latest landing a manifest records for a key, asked only when the key is taken and the
store cannot otherwise tell whether it holds the same bytes."""


@dataclass(frozen=True)
class Landed:
    """The outcome of one put: where the bytes are and how we know they are intact."""

    key: str
    size: int
    sha256: str
    checksum_algorithm: str
    checksum: str
    state: Literal["written", "unchanged"]
    verified_by: VerifiedBy
    version_id: str | None = None
    md5: str | None = None
    """Computed only where the store returns no checksum, for single-part objects."""
    etag: str | None = None


@dataclass(frozen=True)
class Written:
    """What a backend reports after writing: the digests it computed in its single read."""

    size: int
    sha256: str
    checksum: str
    version_id: str | None = None
    md5: str | None = None


_LIMITATIONS_LOCK = threading.Lock()


class Store(ABC):
    """A lake: a flat namespace of keys with S3 semantics, whatever the backend."""

    url: str
    checksum_algorithm: str = checksums.default_algorithm()

    # Primitives ---------------------------------------------------------------------------
    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """The object's size, full-object checksum and metadata, or None when absent."""

    @abstractmethod
    def open_read(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A streaming reader; callers must not assume the object fits in memory."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Objects under `prefix` in key order (size known, checksum possibly not)."""

    @property
    @abstractmethod
    def keeps_versions(self) -> bool:
        """True when replacing a key keeps the previous bytes retrievable."""

    @abstractmethod
    def _write_bytes(
        self, key: str, data: bytes, metadata: Mapping[str, str], checksum: str, *, replace: bool
    ) -> str | None:
        """Write `data`; raise ObjectExists when `replace` is false and the key is taken.

        Returns the new version id, if the backend has one.
        """

    @abstractmethod
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
        """Stream `path` to `key` in one read that also computes SHA-256 and the CRC."""

    def close(self) -> None:  # noqa: B027 - most backends hold nothing to release
        """Release connections; stores are cheap to keep open for a whole run."""

    def returns_checksums(self) -> bool:
        """False where the store keeps no additional checksum, so writes are verified by size
        and, where its ETag is the bytes' MD5, by MD5."""
        return True

    def _wants_md5(self, size: int) -> bool:
        """Whether an MD5 of `size` bytes could be checked against this store's ETag."""
        del size
        return False

    @property
    def limitations(self) -> Limitations:
        """This store's warnings given so far and its objects checked by less than a checksum."""
        with _LIMITATIONS_LOCK:
            found: Limitations | None = self.__dict__.get("_limitations")
            if found is None:
                found = self.__dict__["_limitations"] = Limitations(self.url)
            return found

    def report_limitations(self) -> None:
        """Say, once at the end of a run, how many objects the store could not fully verify."""
        self.limitations.report()

    def honours_conditional_writes(self) -> bool:
        """Whether a create-if-absent write is atomic here (leases rely on it)."""
        return True

    # Rules --------------------------------------------------------------------------------
    def put_bytes(
        self,
        key: str,
        data: bytes,
        metadata: Mapping[str, str] | None = None,
        *,
        overwrite: bool = False,
    ) -> Landed:
        """Land small bytes (records, manifests, checkpoints) under the raw-zone rules."""
        sha = checksums.sha256_hex(data)
        crc = checksums.of_bytes(self.checksum_algorithm, data)
        md5 = checksums.md5_hex(data) if self._wants_md5(len(data)) else None
        meta = {**(metadata or {}), META_SHA256: sha, META_BYTES: str(len(data))}
        existing = self.head(key)
        replace = False
        if existing is not None:
            if self._same(existing, sha, crc, len(data)):
                return self._unchanged(existing, sha, crc, md5)
            self._refuse_or_allow_overwrite(key, existing, overwrite)
            replace = True
        try:
            version = self._write_bytes(key, data, meta, crc, replace=replace)
        except ObjectExists:
            return self._after_race(key, sha, crc, len(data), md5)
        verified, etag = self._verify(key, crc, len(data), md5)
        return Landed(
            key,
            len(data),
            sha,
            self.checksum_algorithm,
            crc,
            "written",
            verified,
            version,
            md5,
            etag,
        )

    def put_file(
        self,
        key: str,
        path: Path,
        metadata: Mapping[str, str] | None = None,
        *,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
        tap: Tap | None = None,
        recorded: RecordLookup | None = None,
    ) -> Landed:
        """Land a file of any size byte for byte, in constant memory.

        `tap` sees the file's bytes exactly once, whether they are uploaded or only hashed
        because the key is already taken. `recorded` lets a taken key be recognised from its
        manifest when the store has no other way than reading the object back.
        """
        existing = self.head(key)
        replace = False
        if existing is not None:
            algorithm = existing.checksum_algorithm
            if algorithm is None or not checksums.supported(algorithm):
                algorithm = self.checksum_algorithm
            digests = checksums.read_digests(
                path, algorithm, tap, md5=self._wants_md5(existing.size)
            )
            tap = None  # it has seen the file once already
            sha, crc, size = digests.sha256, digests.crc, digests.size
            if self._same(existing, sha, crc, size, algorithm, recorded=recorded):
                return self._unchanged(existing, sha, crc, digests.md5)
            self._refuse_or_allow_overwrite(key, existing, overwrite)
            replace = True
        try:
            written = self._write_file(
                key, path, metadata or {}, replace=replace, progress=progress, tap=tap
            )
        except ObjectExists:
            sha, crc, size = checksums.file_digests(path, self.checksum_algorithm)
            return self._after_race(key, sha, crc, size, None)
        verified, etag = self._verify(key, written.checksum, written.size, written.md5)
        return Landed(
            key,
            written.size,
            written.sha256,
            self.checksum_algorithm,
            written.checksum,
            "written",
            verified,
            written.version_id,
            written.md5,
            etag,
        )

    def compare_file(self, key: str, path: Path) -> Literal["absent", "same", "different"]:
        """What `put_file` would find at `key`, without writing: for dry runs."""
        existing = self.head(key)
        if existing is None:
            return "absent"
        algorithm = existing.checksum_algorithm
        if algorithm is None or not checksums.supported(algorithm):
            algorithm = self.checksum_algorithm
        sha, crc, size = checksums.file_digests(path, algorithm)
        return "same" if self._same(existing, sha, crc, size, algorithm) else "different"

    def get_bytes(self, key: str) -> bytes:
        with self.open_read(key) as reader:
            return reader.read()

    def sha256_of(self, key: str) -> str:
        """Re-hash an object by streaming it: the deep check, in constant memory."""
        digest = hashlib.sha256()
        with self.open_read(key) as reader:
            while chunk := reader.read(checksums.READ_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    # Helpers ------------------------------------------------------------------------------
    def _same(
        self,
        existing: ObjectInfo,
        sha: str,
        crc: str,
        size: int,
        algorithm: str | None = None,
        *,
        recorded: RecordLookup | None = None,
    ) -> bool:
        if existing.size != size:
            return False
        if existing.metadata.get(META_SHA256):
            return existing.metadata[META_SHA256] == sha
        if existing.checksum and existing.checksum_algorithm == (
            algorithm or self.checksum_algorithm
        ):
            return existing.checksum == crc
        if recorded is not None and _landed_as_recorded(existing, recorded(existing.key), sha):
            return True
        return self.sha256_of(existing.key) == sha

    def _unchanged(self, existing: ObjectInfo, sha: str, crc: str, md5: str | None) -> Landed:
        verified_by: VerifiedBy = (
            "sha256" if existing.metadata.get(META_SHA256) else "server-checksum"
        )
        if existing.checksum is None and (
            verified_by == "server-checksum" or not self.returns_checksums()
        ):
            # The store kept no checksum for this object (every object of some stores, the
            # multipart ones of others, such as rclone): claim only what it can still prove.
            verified_by = "size-and-md5" if md5 and existing.etag == md5 else "size-only"
            self.limitations.checked(verified_by)
        return Landed(
            existing.key,
            existing.size,
            sha,
            existing.checksum_algorithm or self.checksum_algorithm,
            existing.checksum or crc,
            "unchanged",
            verified_by,
            existing.version_id,
            md5,
            existing.etag,
        )

    def _refuse_or_allow_overwrite(self, key: str, existing: ObjectInfo, overwrite: bool) -> None:
        if not overwrite:
            raise ObjectConflict(
                key,
                f"{key} already holds different bytes ({existing.size} B); raw data is never "
                "overwritten: land it under another --date, or pass --overwrite on a lake "
                "that keeps versions",
            )
        if not self.keeps_versions:
            raise ObjectConflict(
                key,
                f"{key}: --overwrite refused because {self.url} does not keep previous "
                "versions; enable bucket versioning first",
            )
        log.warning(
            "replacing %s; the previous version stays retrievable",
            key,
            extra={"event": "store.overwrite", "key": key},
        )

    def _after_race(self, key: str, sha: str, crc: str, size: int, md5: str | None) -> Landed:
        """Another writer won the conditional write: same bytes is fine, different is not."""
        existing = self.head(key)
        if existing is None:
            raise ObjectConflict(
                key,
                f"{key}: the lake refused the write as if the key were taken, yet holds no object "
                "there (something that is not an object stands at the key?); check it and re-run",
            )
        if self._same(existing, sha, crc, size):
            return self._unchanged(existing, sha, crc, md5)
        raise ObjectConflict(
            key, f"{key} was landed by another writer with different bytes while this run wrote"
        )

    def _verify(
        self, key: str, crc: str, size: int, md5: str | None
    ) -> tuple[VerifiedBy, str | None]:
        """How the landed object was proven intact, and its ETag."""
        landed = self.head(key)
        if landed is None:
            raise ChecksumMismatch(key, self.checksum_algorithm, crc, "<missing>")
        if landed.size != size:
            raise ChecksumMismatch(key, "size", str(size), str(landed.size))
        if landed.checksum is None or landed.checksum_algorithm != self.checksum_algorithm:
            # An ETag that is not this MD5 proves nothing either way: many stores (and
            # multipart uploads) make ETags that are not the MD5 of the bytes.
            verified_by: VerifiedBy = (
                "size-and-md5" if md5 is not None and landed.etag == md5 else "size-only"
            )
            self.limitations.warn_once(
                "checksum_unavailable",
                "%s returned no %s checksum for %s; it and any other object without one are "
                "verified by size only (counted at the end of the run)",
                self.url,
                self.checksum_algorithm,
                key,
            )
            self.limitations.checked(verified_by)
            return verified_by, landed.etag
        if landed.checksum != crc:
            raise ChecksumMismatch(key, self.checksum_algorithm, crc, landed.checksum)
        return "server-checksum", landed.etag


def _landed_as_recorded(existing: ObjectInfo, recorded: Recorded | None, sha: str) -> bool:
    """The object is the one a manifest recorded (same size, same ETag: it was not written
    again since), and the manifest's SHA-256 of those bytes is the file's."""
    return (
        recorded is not None
        and existing.etag is not None
        and existing.etag == recorded.etag
        and existing.size == recorded.size
        and recorded.sha256 == sha
    )
