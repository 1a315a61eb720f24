"""The S3 backend: conditional writes, additional checksums, concurrent multipart uploads.

Uploads are driven here rather than by boto3's `upload_file` because one read of the file must
feed three consumers at once (the upload, SHA-256 lineage and the full-object CRC), and the
part checksums must be sent so S3 can check each part as it arrives.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    SSOError,
    TokenRetrievalError,
)

from cinelake import checksums
from cinelake.errors import (
    NO_AWS_CREDENTIALS,
    NO_SSO_SESSION,
    LakeUnavailable,
    ObjectExists,
    StoreError,
)
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

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

MIB = 1024 * 1024
_ALGORITHMS = ("CRC64NVME", "CRC32", "CRC32C", "SHA256", "SHA1")


@dataclass(frozen=True)
class TransferSettings:
    """8 MiB parts, 6 in flight: measured to keep peak memory under 128 MiB at full speed."""

    part_size: int = 8 * MIB
    max_concurrency: int = 6
    stale_upload_age: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if not 5 * MIB <= self.part_size <= 5 * 1024 * MIB:
            raise ValueError("part size must be between 5 MiB and 5 GiB")
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")


class S3Store(Store):
    """A bucket (and optional prefix) seen as a lake."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = "",
        transfer: TransferSettings | None = None,
        *,
        custom_endpoint: bool = False,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.transfer = transfer or TransferSettings()
        self._custom_endpoint = custom_endpoint
        self._versioning: bool | None = None
        self._conditional: bool | None = None
        self._checksums: bool | None = None
        self._probe_lock = threading.Lock()

    def check_reachable(self) -> None:
        """Fail before any work when the bucket, credentials or endpoint are wrong."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = _code(exc)
            if code in {"404", "NoSuchBucket", "NotFound"}:
                raise LakeUnavailable(
                    f"bucket {self.bucket!r} does not exist at this endpoint; create it or fix "
                    "NOME_DO_BUCKET_S3 / --lake"
                ) from None
            if code in {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
                raise LakeUnavailable(
                    f"access to bucket {self.bucket!r} denied ({code}); check the credentials "
                    "(aws_access_key_id / NOME_DO_PERFIL_SSO) and their permissions"
                ) from None
            raise LakeUnavailable(f"bucket {self.bucket!r}: {code}") from None
        except NoCredentialsError:
            raise LakeUnavailable(NO_AWS_CREDENTIALS) from None
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            raise LakeUnavailable(
                f"cannot reach the S3 endpoint {exc.kwargs.get('endpoint_url', '')}: check "
                "AWS_ENDPOINT_URL_S3 / the network, then retry"
            ) from None
        except (TokenRetrievalError, SSOError):
            raise LakeUnavailable(NO_SSO_SESSION) from None
        except BotoCoreError as exc:
            raise LakeUnavailable(
                f"bucket {self.bucket!r}: the S3 client failed before any work "
                f"({type(exc).__name__}: {' '.join(str(exc).split())}); check the AWS settings "
                "and retry"
            ) from None

    def _k(self, key: str) -> str:
        return f"{self.prefix}{key}"

    @property
    def keeps_versions(self) -> bool:
        if self._versioning is None:
            with _store_errors(f"bucket {self.bucket} versioning"):
                answer = self.client.get_bucket_versioning(Bucket=self.bucket)
            self._versioning = answer.get("Status") == "Enabled"
        return self._versioning

    def honours_conditional_writes(self) -> bool:
        """AWS honours If-None-Match; some S3-compatible servers silently ignore it."""
        if not self._custom_endpoint:
            return True
        self._probe()
        return bool(self._conditional)

    def returns_checksums(self) -> bool:
        """AWS returns the additional checksum it was sent; some S3-compatible servers keep
        none, and only then does an upload also compute the MD5 their ETag can be checked
        against."""
        if not self._custom_endpoint:
            return True
        self._probe()
        return bool(self._checksums)

    def _wants_md5(self, size: int) -> bool:
        # Only a single-part upload has an ETag that can be the MD5 of its bytes.
        return size <= self.transfer.part_size and not self.returns_checksums()

    def _probe(self) -> None:
        """What a custom endpoint honours, learnt once per store from one throwaway key.

        The key is under `Raw/_state/`, the one prefix every cinelake writer (including the
        Lambda role) may write.
        """
        with self._probe_lock, _store_errors(f"{self.url} conditional-write probe"):
            if self._conditional is not None:
                return
            probe = self._k(f"Raw/_state/probes/conditional-{uuid.uuid4().hex}")
            self.client.put_object(
                Bucket=self.bucket,
                Key=probe,
                Body=b"1",
                IfNoneMatch="*",
                ChecksumAlgorithm=cast(Any, self.checksum_algorithm),
                **_checksum_args(
                    self.checksum_algorithm, checksums.of_bytes(self.checksum_algorithm, b"1")
                ),
            )
            answer = self.client.head_object(Bucket=self.bucket, Key=probe, ChecksumMode="ENABLED")
            fields = cast(Mapping[str, Any], answer)
            self._checksums = bool(fields.get(f"Checksum{self.checksum_algorithm}"))
            try:
                self.client.put_object(Bucket=self.bucket, Key=probe, Body=b"2", IfNoneMatch="*")
                self._conditional = False
            except ClientError as exc:
                if _code(exc) not in {"PreconditionFailed", "412"}:
                    raise
                self._conditional = True
            try:
                self.client.delete_object(Bucket=self.bucket, Key=probe)
            except ClientError:
                log.debug("could not delete probe %s", probe)
        if not self._conditional:
            self.limitations.warn_once(
                "conditional_writes_unsupported",
                "%s ignores If-None-Match: cinelake checks before each write, but two writers "
                "racing on this endpoint could still clobber each other",
                self.url,
            )
        if not self._checksums:
            self.limitations.warn_once(
                "checksum_unavailable",
                "%s returns no additional checksums (x-amz-checksum-*): objects are verified by "
                "size, and by MD5 where the ETag is the MD5 of the bytes (single-part uploads); "
                "`cinelake verify --deep` re-hashes them",
                self.url,
            )

    def head(self, key: str) -> ObjectInfo | None:
        try:
            answer = self.client.head_object(
                Bucket=self.bucket, Key=self._k(key), ChecksumMode="ENABLED"
            )
        except ClientError as exc:
            if _code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise _store_error(exc, key) from None
        except BotoCoreError as exc:
            raise _transport_error(exc, key) from None
        algorithm, value = None, None
        fields = cast(Mapping[str, Any], answer)
        for name in _ALGORITHMS:
            found = fields.get(f"Checksum{name}")
            if found and "-" not in str(found):
                algorithm, value = name, str(found)
                break
        return ObjectInfo(
            key=key,
            size=int(answer["ContentLength"]),
            checksum_algorithm=algorithm,
            checksum=value,
            # HTTP headers are case-insensitive; AWS answers lowercase, rclone capitalises.
            metadata={k.lower(): v for k, v in answer.get("Metadata", {}).items()},
            version_id=answer.get("VersionId"),
            etag=answer["ETag"].strip('"') if answer.get("ETag") else None,
        )

    def open_read(self, key: str) -> AbstractContextManager[BinaryIO]:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._k(key))
        except ClientError as exc:
            if _code(exc) in {"404", "NoSuchKey", "NotFound"}:
                raise FileNotFoundError(key) from None
            raise _store_error(exc, key) from None
        except BotoCoreError as exc:
            raise _transport_error(exc, key) from None
        return closing(cast(BinaryIO, answer["Body"]))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._k(prefix)):
            for item in page.get("Contents", []):
                yield ObjectInfo(key=item["Key"][len(self.prefix) :], size=int(item["Size"]))

    def _write_bytes(
        self, key: str, data: bytes, metadata: Mapping[str, str], checksum: str, *, replace: bool
    ) -> str | None:
        conditional: dict[str, Any] = {} if replace else self._if_none_match()
        try:
            answer = self.client.put_object(
                Bucket=self.bucket,
                Key=self._k(key),
                Body=data,
                Metadata=dict(metadata),
                ChecksumAlgorithm=cast(Any, self.checksum_algorithm),
                **_checksum_args(self.checksum_algorithm, checksum),
                **conditional,
            )
        except ClientError as exc:
            raise _store_error(exc, key) from None
        except BotoCoreError as exc:
            raise _transport_error(exc, key) from None
        return answer.get("VersionId")

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
        size = path.stat().st_size
        if size <= self.transfer.part_size:
            with SteadySource(path) as source:
                data = source.read_all()
            if tap:
                tap(data)
            sha = checksums.sha256_hex(data)
            crc = checksums.of_bytes(self.checksum_algorithm, data)
            md5 = checksums.md5_hex(data) if self._wants_md5(len(data)) else None
            meta = {**metadata, META_SHA256: sha, META_BYTES: str(len(data))}
            version = self._write_bytes(key, data, meta, crc, replace=replace)
            if progress:
                progress(len(data))
            return Written(len(data), sha, crc, version, md5)
        self._abort_stale_uploads(key)
        # S3 takes metadata only before the first part: the size is known, the SHA-256 is not
        # until the last byte is read, so parts carry it in the run manifest only.
        sized = {**metadata, META_BYTES: str(size)}
        return _MultipartUpload(self, key, path, sized, replace, progress, tap).run()

    def _if_none_match(self) -> dict[str, Any]:
        return {"IfNoneMatch": "*"} if self.honours_conditional_writes() else {}

    def _abort_stale_uploads(self, key: str) -> None:
        """A killed run leaves an invisible incomplete upload; old ones for this key go."""
        cutoff = datetime.now(UTC) - self.transfer.stale_upload_age
        try:
            answer = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self._k(key))
        except ClientError:
            return  # not allowed to list: sweeping is a courtesy, the bucket lifecycle backs it
        except BotoCoreError as exc:
            raise _transport_error(exc, key) from None
        for upload in answer.get("Uploads", []):
            if upload.get("Key") == self._k(key) and upload["Initiated"] <= cutoff:
                with _store_errors(key):
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=self._k(key), UploadId=upload["UploadId"]
                    )
                log.info(
                    "aborted a stale incomplete upload of %s",
                    key,
                    extra={"event": "store.stale_upload_aborted", "key": key},
                )

    def close(self) -> None:
        self.client.close()


class _MultipartUpload:
    """One file, read once by this thread, parts sent by a bounded pool.

    The semaphore bounds parts in memory to `max_concurrency + 1`, so memory is constant
    whatever the file size.
    """

    def __init__(  # noqa: PLR0917 - one upload's whole context, built in one place
        self,
        store: S3Store,
        key: str,
        path: Path,
        metadata: Mapping[str, str],
        replace: bool,
        progress: ProgressCallback | None,
        tap: Tap | None,
    ) -> None:
        self.tap = tap
        self.part_failed = threading.Event()
        self.store = store
        self.key = key
        self.path = path
        self.metadata = metadata
        self.replace = replace
        self.progress = progress

    def run(self) -> Written:
        store = self.store
        client = store.client
        algorithm = store.checksum_algorithm
        full_key = store._k(self.key)
        conditional: dict[str, Any] = {} if self.replace else store._if_none_match()
        with _store_errors(self.key):
            created = client.create_multipart_upload(
                Bucket=store.bucket,
                Key=full_key,
                Metadata=dict(self.metadata),
                ChecksumAlgorithm=cast(Any, algorithm),
                ChecksumType="FULL_OBJECT",
            )
        upload_id = created["UploadId"]
        digests = checksums.Digests(algorithm)
        slots = threading.BoundedSemaphore(store.transfer.max_concurrency + 1)
        futures: list[Future[dict[str, Any]]] = []
        try:
            with (
                ThreadPoolExecutor(store.transfer.max_concurrency, "cinelake-part") as pool,
                SteadySource(self.path) as source,
            ):
                number = 0
                while True:
                    slots.acquire()
                    data = source.read(store.transfer.part_size)
                    if not data:
                        slots.release()
                        break
                    number += 1
                    if self.tap:
                        self.tap(data)
                    digests.update(data)
                    part_crc = checksums.of_bytes(algorithm, data)
                    futures.append(
                        pool.submit(self._send_part, upload_id, number, data, part_crc, slots)
                    )
                    del data
                    if self.part_failed.is_set():
                        break
                parts = [f.result() for f in futures]
            answer = client.complete_multipart_upload(
                Bucket=store.bucket,
                Key=full_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": cast(Any, parts)},
                ChecksumType="FULL_OBJECT",
                **_checksum_args(algorithm, digests.crc),
                **conditional,
            )
        except BaseException as exc:
            try:
                client.abort_multipart_upload(Bucket=store.bucket, Key=full_key, UploadId=upload_id)
            except (ClientError, BotoCoreError):
                log.warning("could not abort the incomplete upload of %s", self.key)
            if isinstance(exc, ClientError):
                raise _store_error(exc, self.key) from None
            if isinstance(exc, BotoCoreError):
                raise _transport_error(exc, self.key) from None
            raise
        return Written(digests.size, digests.sha256, digests.crc, answer.get("VersionId"))

    def _send_part(
        self,
        upload_id: str,
        number: int,
        data: bytes,
        part_crc: str,
        slots: threading.BoundedSemaphore,
    ) -> dict[str, Any]:
        try:
            answer = self.store.client.upload_part(
                Bucket=self.store.bucket,
                Key=self.store._k(self.key),
                UploadId=upload_id,
                PartNumber=number,
                Body=data,
                ChecksumAlgorithm=cast(Any, self.store.checksum_algorithm),
                **_checksum_args(self.store.checksum_algorithm, part_crc),
            )
            if self.progress:
                self.progress(len(data))
            return {
                "PartNumber": number,
                "ETag": answer["ETag"],
                f"Checksum{self.store.checksum_algorithm}": part_crc,
            }
        except BaseException:
            self.part_failed.set()  # the reader stops sending parts to a doomed upload
            raise
        finally:
            slots.release()


@contextmanager
def _store_errors(what: str) -> Iterator[None]:
    """Every S3 failure leaves the store as a `StoreError`, so a run records it per file."""
    try:
        yield
    except ClientError as exc:
        raise _store_error(exc, what) from None
    except BotoCoreError as exc:
        raise _transport_error(exc, what) from None


def _checksum_args(algorithm: str, value: str) -> dict[str, Any]:
    return {f"Checksum{algorithm}": value}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _store_error(exc: ClientError, key: str) -> StoreError:
    code = _code(exc)
    if code in {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}:
        return ObjectExists(key)
    if code in {"NoSuchBucket"}:
        return StoreError(f"{key}: the bucket does not exist; create it or fix NOME_DO_BUCKET_S3")
    message = exc.response.get("Error", {}).get("Message", "")
    return StoreError(f"{key}: S3 answered {code} {message}".strip())


def _transport_error(exc: BotoCoreError, key: str) -> StoreError:
    """The endpoint went away mid-run (connection refused, timeout): one line, no traceback."""
    return StoreError(
        f"{key}: the S3 endpoint failed mid-run ({type(exc).__name__}); nothing partial is "
        "visible, re-run to retry"
    )
