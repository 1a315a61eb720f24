"""Checksums the lake verifies, chosen by what the running botocore can compute.

CRC64NVME (full object) is S3's default and ~7x cheaper than SHA-256, but botocore needs
awscrt for it, and the Lambda runtime ships boto3 without awscrt; there we fall back to CRC32,
which zlib computes and S3 also supports as a full-object checksum.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable
from pathlib import Path

try:
    from awscrt import checksums as _crt_checksums  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - exercised only where awscrt is absent (Lambda)
    _crt_checksums = None

READ_CHUNK = 8 * 1024 * 1024


def default_algorithm() -> str:
    return "CRC64NVME" if _crt_checksums is not None else "CRC32"


def _crc64nvme(data: bytes, previous: int) -> int:
    if _crt_checksums is None:
        raise ValueError("CRC64NVME needs awscrt")
    return int(_crt_checksums.crc64nvme(data, previous))


def _crc32(data: bytes, previous: int) -> int:
    return zlib.crc32(data, previous)


_UPDATERS: dict[str, Callable[[bytes, int], int]] = {"CRC64NVME": _crc64nvme, "CRC32": _crc32}
_WIDTH = {"CRC64NVME": 8, "CRC32": 4}


def supported(algorithm: str) -> bool:
    return algorithm in _UPDATERS and (algorithm != "CRC64NVME" or _crt_checksums is not None)


class Crc:
    """A running CRC, encoded the way S3 returns it (big-endian, base64)."""

    def __init__(self, algorithm: str) -> None:
        if not supported(algorithm):
            raise ValueError(f"checksum {algorithm} is not available here")
        self.algorithm = algorithm
        self._update = _UPDATERS[algorithm]
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = self._update(data, self._value)

    def b64(self) -> str:
        return encode(self.algorithm, self._value)


def encode(algorithm: str, value: int) -> str:
    return base64.b64encode(value.to_bytes(_WIDTH[algorithm], "big")).decode("ascii")


def of_bytes(algorithm: str, data: bytes) -> str:
    crc = Crc(algorithm)
    crc.update(data)
    return crc.b64()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Digests:
    """What one read of a file must yield: SHA-256 lineage, the lake's CRC and the size.

    With `md5`, also the MD5 a store's ETag can be compared with; asked for only where the
    store keeps no checksum, so stores that do are not charged a fourth digest.
    """

    def __init__(self, algorithm: str, *, md5: bool = False) -> None:
        self._sha = hashlib.sha256()
        self._crc = Crc(algorithm)
        self._md5 = hashlib.md5(usedforsecurity=False) if md5 else None
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._sha.update(chunk)
        self._crc.update(chunk)
        if self._md5 is not None:
            self._md5.update(chunk)
        self.size += len(chunk)

    @property
    def md5(self) -> str | None:
        return self._md5.hexdigest() if self._md5 is not None else None

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    @property
    def crc(self) -> str:
        return self._crc.b64()


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def file_digests(
    path: Path, algorithm: str, tap: Callable[[bytes], None] | None = None
) -> tuple[str, str, int]:
    """SHA-256 hex, CRC (base64) and size of a file, in one streaming read shared with `tap`."""
    digests = read_digests(path, algorithm, tap)
    return digests.sha256, digests.crc, digests.size


def read_digests(
    path: Path, algorithm: str, tap: Callable[[bytes], None] | None = None, *, md5: bool = False
) -> Digests:
    """Every digest of a file (MD5 too if asked), in one streaming read shared with `tap`."""
    digests = Digests(algorithm, md5=md5)
    with path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            digests.update(chunk)
            if tap:
                tap(chunk)
    return digests
