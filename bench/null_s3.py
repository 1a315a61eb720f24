"""A null S3 endpoint over HTTPS: it drains uploads, keeps only what S3 would report about them.

Why it exists: ranking upload clients needs an endpoint that is not itself the bottleneck and
that makes clients behave as against real S3. Over HTTPS botocore sends `aws-chunked` bodies
with a trailer checksum and an unsigned payload, as it does against AWS; over plain HTTP it
would also hash the payload for SigV4, a pass real S3 never costs. Storing nothing keeps the
server cheap (TLS decryption is most of its cost), while remembering sizes, metadata and the
checksums clients sent lets a client's HeadObject-after-write check run as it would on S3.

Run it: `python bench/null_s3.py --port 0` prints `url: ...` and `ca_bundle: ...`.
Import it: `with serve() as endpoint:` starts it in a subprocess (the fair choice when a Python
client is being measured: the server must not share its GIL), `serve(in_process=True)` in a
thread (cheap, for tests).

What it is not: it does not check signatures, stores no bytes beyond `--keep-bytes` per object
(GetObject answers only for those), and treats every bucket as existing and unversioned.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import io
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

try:
    from awscrt import checksums as _crt  # type: ignore[import-untyped]
except ImportError:  # the server still runs; it just cannot combine or verify CRC32C/CRC64NVME
    _crt = None

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MIB = 1024 * 1024
MIN_PART = 5 * MIB
ALGORITHMS = ("CRC64NVME", "CRC32", "CRC32C", "SHA256", "SHA1")
_CRC_WIDTH = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8}
_DRAIN_CHUNK = 1 * MIB
_MAX_LINE = 64 * 1024


# Checksums -------------------------------------------------------------------------------------
class _Digest(Protocol):
    def update(self, data: memoryview | bytes, /) -> None: ...
    def b64(self) -> str: ...


class _Crc:
    """A running CRC with S3's encoding (big-endian, base64)."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self.value = 0
        self._fn = _crc_function(algorithm)

    def update(self, data: memoryview | bytes, /) -> None:
        self.value = self._fn(data, self.value)

    def b64(self) -> str:
        return _crc_b64(self.algorithm, self.value)


class _Hash:
    def __init__(self, algorithm: str) -> None:
        self._h = hashlib.new(algorithm.lower())

    def update(self, data: memoryview | bytes, /) -> None:
        self._h.update(data)

    def b64(self) -> str:
        return base64.b64encode(self._h.digest()).decode("ascii")


def _crc_function(algorithm: str) -> Callable[[Any, int], int]:
    if algorithm == "CRC32":
        return zlib.crc32
    if _crt is None:
        raise ValueError(f"{algorithm} needs awscrt")
    return cast(
        Callable[[Any, int], int], {"CRC32C": _crt.crc32c, "CRC64NVME": _crt.crc64nvme}[algorithm]
    )


def _crc_b64(algorithm: str, value: int) -> str:
    return base64.b64encode(value.to_bytes(_CRC_WIDTH[algorithm], "big")).decode("ascii")


def _digest(algorithm: str) -> _Digest | None:
    """None when this Python cannot compute `algorithm` (then nothing is verified)."""
    try:
        return _Crc(algorithm) if algorithm in _CRC_WIDTH else _Hash(algorithm)
    except ValueError:
        return None


def _combine_crcs(algorithm: str, parts: list[tuple[str, int]]) -> str | None:
    """The full-object CRC from part CRCs and sizes, as S3 derives it; None if not derivable."""
    if _crt is None or algorithm not in _CRC_WIDTH:
        return None
    combine: Callable[[int, int, int], int] = {
        "CRC32": _crt.combine_crc32,
        "CRC32C": _crt.combine_crc32c,
        "CRC64NVME": _crt.combine_crc64nvme,
    }[algorithm]
    total: int | None = None
    for value_b64, size in parts:
        value = int.from_bytes(base64.b64decode(value_b64), "big")
        total = value if total is None else combine(total, value, size)
    return None if total is None else _crc_b64(algorithm, total)


def _composite(algorithm: str, part_checksums: list[str]) -> str | None:
    """S3's COMPOSITE checksum: the checksum of the concatenated part checksums, then `-N`."""
    digest = _digest(algorithm)
    if digest is None:
        return None
    for value in part_checksums:
        digest.update(base64.b64decode(value))
    return f"{digest.b64()}-{len(part_checksums)}"


# State -----------------------------------------------------------------------------------------
@dataclass
class _Object:
    size: int
    etag: str
    metadata: dict[str, str]
    content_type: str
    checksum_algorithm: str | None
    checksum: str | None
    checksum_type: str | None
    last_modified: float
    body: bytes | None


@dataclass
class _Part:
    size: int
    etag: str
    checksum: str | None


@dataclass
class _Upload:
    bucket: str
    key: str
    metadata: dict[str, str]
    content_type: str
    checksum_algorithm: str | None
    checksum_type: str | None
    initiated: float
    parts: dict[int, _Part] = field(default_factory=dict)


@dataclass
class _State:
    verify: bool
    keep_bytes: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    objects: dict[tuple[str, str], _Object] = field(default_factory=dict)
    uploads: dict[str, _Upload] = field(default_factory=dict)


class _S3Error(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


# Request bodies --------------------------------------------------------------------------------
class _Reader(Protocol):
    def readinto(self, buffer: memoryview, /) -> int: ...
    def readline(self, limit: int = ..., /) -> bytes: ...


class _Bounded:
    """The `Content-Length` bytes of one request, so framing can never eat the next request."""

    def __init__(self, raw: io.BufferedIOBase, length: int) -> None:
        self._raw = raw
        self.remaining = length
        self.trailers: dict[str, str] = {}

    def readinto(self, buffer: memoryview, /) -> int:
        want = min(len(buffer), self.remaining)
        if want == 0:
            return 0
        got = self._raw.readinto(buffer[:want])
        if not got:
            raise _S3Error(400, "IncompleteBody", "the body ended before Content-Length bytes")
        self.remaining -= got
        return got

    def readline(self, limit: int = _MAX_LINE, /) -> bytes:
        line = self._raw.readline(min(limit, self.remaining))
        self.remaining -= len(line)
        return line


class _Dechunked:
    """The content of an HTTP `Transfer-Encoding: chunked` body, as a stream.

    botocore's trailer-checksum uploads are framed twice: HTTP chunking outside, and the
    `aws-chunked` content encoding inside, whose chunks need not line up with the outer ones.
    """

    def __init__(self, raw: io.BufferedIOBase) -> None:
        self._raw = raw
        self._left = 0
        self._started = False
        self._done = False
        self.trailers: dict[str, str] = {}

    def _advance(self) -> bool:
        """Move to the next non-empty chunk; False at the end of the body."""
        while self._left == 0 and not self._done:
            if self._started and self._raw.readline(3) != b"\r\n":
                raise _S3Error(400, "IncompleteBody", "chunk data not followed by CRLF")
            self._started = True
            self._left = _chunk_size(self._raw.readline(_MAX_LINE))
            if self._left == 0:
                self.trailers = _read_trailers(self._raw)
                self._done = True
        return not self._done

    def readinto(self, buffer: memoryview, /) -> int:
        if not self._advance():
            return 0
        got = self._raw.readinto(buffer[: min(len(buffer), self._left)])
        if not got:
            raise _S3Error(400, "IncompleteBody", "the body ended inside a chunk")
        self._left -= got
        return got

    def readline(self, limit: int = _MAX_LINE, /) -> bytes:
        line = b""
        while len(line) < limit and not line.endswith(b"\n") and self._advance():
            piece = self._raw.readline(min(limit - len(line), self._left))
            if not piece:
                raise _S3Error(400, "IncompleteBody", "the body ended inside a chunk")
            self._left -= len(piece)
            line += piece
        return line


def _chunk_size(line: bytes) -> int:
    if not line.endswith(b"\r\n"):
        raise _S3Error(400, "IncompleteBody", "malformed chunk header")
    try:
        return int(line[:-2].split(b";", 1)[0].strip(), 16)  # drops ;chunk-signature=...
    except ValueError:
        raise _S3Error(400, "IncompleteBody", "malformed chunk size") from None


def _read_trailers(reader: _Reader) -> dict[str, str]:
    trailers: dict[str, str] = {}
    while True:
        line = reader.readline(_MAX_LINE)
        if line in (b"\r\n", b"\n", b""):
            return trailers
        name, _, value = line.decode("latin-1").partition(":")
        trailers[name.strip().lower()] = value.strip()


@dataclass
class _Payload:
    size: int
    trailers: dict[str, str]
    body: bytes | None
    computed: dict[str, str]


def _read_body(
    raw: io.BufferedIOBase,
    headers: Message[str, str],
    *,
    keep_bytes: int,
    verify_algorithm: str | None,
) -> _Payload:
    """Consume exactly this request's payload, whatever its framing, discarding the bytes.

    Transport: `Content-Length` or HTTP `Transfer-Encoding: chunked` (with trailers). Content:
    raw bytes, or `Content-Encoding: aws-chunked` (signed or unsigned chunks, trailers holding
    `x-amz-checksum-*`), as the SDKs and the CRT send it. The decoded size is checked against
    `x-amz-decoded-content-length` as S3 does.
    """
    transport: _Bounded | _Dechunked
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        transport = _Dechunked(raw)
    else:
        transport = _Bounded(raw, int(headers.get("Content-Length") or 0))
    digest = _digest(verify_algorithm) if verify_algorithm else None
    kept: bytearray | None = bytearray() if keep_bytes > 0 else None
    buffer = memoryview(bytearray(_DRAIN_CHUNK))
    size = 0

    def copy(count: int | None) -> None:
        """Pass `count` content bytes (None: up to the end of the transport) to the sinks."""
        nonlocal size, kept
        while count is None or count:
            want = _DRAIN_CHUNK if count is None else min(count, _DRAIN_CHUNK)
            got = transport.readinto(buffer[:want])
            if not got:
                if count is None:
                    return
                raise _S3Error(400, "IncompleteBody", "the body ended inside a chunk")
            view = buffer[:got]
            if digest is not None:
                digest.update(view)
            if kept is not None:
                kept += view
                if len(kept) > keep_bytes:
                    kept = None
            size += got
            if count is not None:
                count -= got

    trailers: dict[str, str] = {}
    if "aws-chunked" in headers.get("Content-Encoding", "").lower():
        while chunk := _chunk_size(transport.readline(_MAX_LINE)):
            copy(chunk)
            if transport.readline(3) != b"\r\n":
                raise _S3Error(400, "IncompleteBody", "chunk data not followed by CRLF")
        trailers = _read_trailers(transport)
        while transport.readinto(buffer):  # anything after the final chunk is not content
            pass
    else:
        copy(None)
    trailers = {**transport.trailers, **trailers}
    declared = headers.get("x-amz-decoded-content-length")
    if declared is not None and int(declared) != size:
        raise _S3Error(
            400,
            "IncompleteBody",
            f"x-amz-decoded-content-length {declared} but {size} bytes arrived",
        )
    computed = {verify_algorithm: digest.b64()} if digest and verify_algorithm else {}
    return _Payload(size, trailers, bytes(kept) if kept is not None else None, computed)


def _sent_checksum(headers: Message[str, str], trailers: Mapping[str, str]) -> tuple[str, str]:
    """The (algorithm, value) the client sent in a header or a trailer, or ("", "")."""
    for algorithm in ALGORITHMS:
        name = f"x-amz-checksum-{algorithm.lower()}"
        value = headers.get(name) or trailers.get(name)
        if value:
            return algorithm, value
    return "", ""


def _announced_algorithm(headers: Message[str, str]) -> str | None:
    """The algorithm a request will carry, known before its body is read (for verification)."""
    for algorithm in ALGORITHMS:
        if headers.get(f"x-amz-checksum-{algorithm.lower()}"):
            return algorithm
    trailer = headers.get("x-amz-trailer", "").lower()
    if trailer.startswith("x-amz-checksum-"):
        return trailer.removeprefix("x-amz-checksum-").upper()
    sdk = headers.get("x-amz-sdk-checksum-algorithm", "").upper()
    return sdk or None


# HTTP ------------------------------------------------------------------------------------------
def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(moment))


def _xml(root: str, children: list[tuple[str, str | None]]) -> bytes:
    inner = "".join(f"<{tag}>{escape(value)}</{tag}>" for tag, value in children if value)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NS}">{inner}</{root}>'.encode()


def _metadata(headers: Message[str, str]) -> dict[str, str]:
    return {
        name.lower().removeprefix("x-amz-meta-"): value
        for name, value in headers.items()
        if name.lower().startswith("x-amz-meta-")
    }


def _tag(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, state: _State) -> None:
        super().__init__(address, _Handler)
        self.context = context
        self.state = state

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the connection's thread, so a slow client never
        # holds up accept() for the others.
        tls = self.context.wrap_socket(request, server_side=True)
        try:
            _Handler(tls, client_address, self)
        finally:
            with contextlib.suppress(OSError):
                tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError | ssl.SSLError):
            return  # a client hanging up or refusing the certificate is not a server bug
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "null-s3"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 300
    server: _Server
    verbose = False

    # Plumbing ----------------------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:
        if self.verbose:
            super().log_message(format, *args)

    def do_PUT(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        self._body_read = False
        self._request_id = uuid.uuid4().hex[:16].upper()
        url = urlsplit(self.path)
        self.query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        bucket, _, key = unquote(url.path).lstrip("/").partition("/")
        self.bucket, self.key = bucket, key
        try:
            if not bucket:
                raise _S3Error(501, "NotImplemented", "ListBuckets is not implemented")
            handler = self._route(self.command, bool(key))
            handler()
        except _S3Error as error:
            self._error(error)
        except (ValueError, ET.ParseError) as error:
            self._error(_S3Error(400, "InvalidRequest", str(error)))

    def _route(self, method: str, has_key: bool) -> Callable[[], None]:
        q = self.query
        routes: dict[tuple[str, bool], Callable[[], None]] = {
            ("HEAD", False): self._head_bucket,
            ("PUT", False): self._create_bucket,
            ("DELETE", False): self._no_content,
            ("HEAD", True): self._head_object,
            ("GET", True): self._get_object,
            ("DELETE", True): self._delete_object,
        }
        if method == "PUT" and has_key:
            if "x-amz-copy-source" in self.headers:
                raise _S3Error(501, "NotImplemented", "copies are not implemented")
            return self._upload_part if "uploadId" in q else self._put_object
        if method == "POST" and has_key and "uploads" in q:
            return self._create_upload
        if method == "POST" and has_key and "uploadId" in q:
            return self._complete_upload
        if method == "DELETE" and has_key and "uploadId" in q:
            return self._abort_upload
        if method == "GET" and not has_key:
            for name, handler in (
                ("versioning", self._get_versioning),
                ("uploads", self._list_uploads),
                ("location", self._get_location),
                ("list-type", self._list_objects),
            ):
                if name in q:
                    return handler
        if (method, has_key) in routes and not (set(q) - {"x-id"}):
            return routes[(method, has_key)]
        raise _S3Error(501, "NotImplemented", f"{method} {self.path} is not implemented")

    def _body(self, verify_algorithm: str | None = None) -> _Payload:
        self._body_read = True
        state = self.server.state
        try:
            return _read_body(
                self.rfile,
                self.headers,
                keep_bytes=state.keep_bytes,
                verify_algorithm=verify_algorithm if state.verify else None,
            )
        except _S3Error:
            self.close_connection = True  # framing is lost: the connection cannot be reused
            raise

    def _send(
        self,
        status: int,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        *,
        length: int | None = None,
    ) -> None:
        if not self._body_read and self.command in ("PUT", "POST"):
            try:
                self._body()
            except _S3Error:
                self.close_connection = True
        self.send_response(status)
        self.send_header("x-amz-request-id", self._request_id)
        self.send_header("x-amz-id-2", self._request_id)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body:
            self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, error: _S3Error) -> None:
        children = [
            ("Code", error.code),
            ("Message", error.message),
            *error.extra.items(),
            ("Resource", self.path),
            ("RequestId", self._request_id),
        ]
        inner = "".join(f"<{tag}>{escape(value)}</{tag}>" for tag, value in children)
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{inner}</Error>'.encode()
        if self.command == "HEAD":
            self._send(error.status)
        else:
            self._send(error.status, body=body)

    def _existing(self) -> _Object | None:
        return self.server.state.objects.get((self.bucket, self.key))

    def _check_conditions(self, existing: _Object | None) -> None:
        if self.headers.get("If-None-Match", "").strip() == "*" and existing is not None:
            raise _S3Error(
                412,
                "PreconditionFailed",
                "At least one of the pre-conditions you specified did not hold",
                Condition="If-None-Match",
            )
        if_match = self.headers.get("If-Match")
        if if_match is not None:
            if existing is None:
                raise _S3Error(404, "NoSuchKey", "The specified key does not exist.")
            if if_match.strip().strip('"') not in (existing.etag.strip('"'), "*"):
                raise _S3Error(
                    412,
                    "PreconditionFailed",
                    "At least one of the pre-conditions you specified did not hold",
                    Condition="If-Match",
                )

    def _checksum_headers(self, obj: _Object) -> dict[str, str]:
        if not obj.checksum_algorithm or not obj.checksum:
            return {}
        headers = {f"x-amz-checksum-{obj.checksum_algorithm.lower()}": obj.checksum}
        if obj.checksum_type:
            headers["x-amz-checksum-type"] = obj.checksum_type
        return headers

    # Buckets -----------------------------------------------------------------------------------
    def _head_bucket(self) -> None:
        self._send(200, {"x-amz-bucket-region": "us-east-1"})

    def _create_bucket(self) -> None:
        self._send(200, {"Location": f"/{self.bucket}"})

    def _no_content(self) -> None:
        self._send(204)

    def _get_versioning(self) -> None:
        self._send(200, body=_xml("VersioningConfiguration", []))

    def _get_location(self) -> None:
        self._send(200, body=_xml("LocationConstraint", []))

    def _list_uploads(self) -> None:
        prefix = self.query.get("prefix", "")
        with self.server.state.lock:
            uploads = sorted(
                (u.key, upload_id, u.initiated)
                for upload_id, u in self.server.state.uploads.items()
                if u.bucket == self.bucket and u.key.startswith(prefix)
            )
        items = "".join(
            f"<Upload><Key>{escape(key)}</Key><UploadId>{upload_id}</UploadId>"
            f"<Initiated>{_iso(initiated)}</Initiated><StorageClass>STANDARD</StorageClass>"
            "</Upload>"
            for key, upload_id, initiated in uploads
        )
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="{NS}">'
            f"<Bucket>{escape(self.bucket)}</Bucket><KeyMarker></KeyMarker>"
            f"<UploadIdMarker></UploadIdMarker><Prefix>{escape(prefix)}</Prefix>"
            f"<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>{items}"
            "</ListMultipartUploadsResult>"
        ).encode()
        self._send(200, body=body)

    def _list_objects(self) -> None:
        prefix = self.query.get("prefix", "")
        after = self.query.get("continuation-token") or self.query.get("start-after", "")
        limit = int(self.query.get("max-keys", "1000"))
        with self.server.state.lock:
            keys = sorted(
                (key, obj)
                for (bucket, key), obj in self.server.state.objects.items()
                if bucket == self.bucket and key.startswith(prefix) and key > after
            )
        page, truncated = keys[:limit], len(keys) > limit
        items = "".join(
            f"<Contents><Key>{escape(key)}</Key><LastModified>{_iso(obj.last_modified)}"
            f"</LastModified><ETag>{escape(obj.etag)}</ETag><Size>{obj.size}</Size>"
            "<StorageClass>STANDARD</StorageClass></Contents>"
            for key, obj in page
        )
        token = f"<NextContinuationToken>{escape(page[-1][0])}</NextContinuationToken>"
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="{NS}">'
            f"<Name>{escape(self.bucket)}</Name><Prefix>{escape(prefix)}</Prefix>"
            f"<KeyCount>{len(page)}</KeyCount><MaxKeys>{limit}</MaxKeys>"
            f"<IsTruncated>{str(truncated).lower()}</IsTruncated>"
            f"{token if truncated else ''}{items}</ListBucketResult>"
        ).encode()
        self._send(200, body=body)

    # Objects -----------------------------------------------------------------------------------
    def _put_object(self) -> None:
        payload = self._body(_announced_algorithm(self.headers))
        algorithm, value = _sent_checksum(self.headers, payload.trailers)
        self._verify(algorithm, value, payload)
        state = self.server.state
        obj = _Object(
            size=payload.size,
            etag=f'"{uuid.uuid4().hex}"',
            metadata=_metadata(self.headers),
            content_type=self.headers.get("Content-Type", "binary/octet-stream"),
            checksum_algorithm=algorithm or None,
            checksum=value or None,
            checksum_type="FULL_OBJECT" if algorithm else None,
            last_modified=time.time(),
            body=payload.body,
        )
        with state.lock:
            self._check_conditions(self._existing())
            state.objects[(self.bucket, self.key)] = obj
        self._send(200, {"ETag": obj.etag, **self._checksum_headers(obj)})

    def _verify(self, algorithm: str, value: str, payload: _Payload) -> None:
        computed = payload.computed.get(algorithm)
        if algorithm and computed is not None and computed != value:
            raise _S3Error(
                400,
                "BadDigest",
                f"The {algorithm} you specified did not match the calculated checksum.",
            )

    def _head_object(self) -> None:
        with self.server.state.lock:
            obj = self._existing()
        if obj is None:
            raise _S3Error(404, "NoSuchKey", "The specified key does not exist.")
        headers = {
            "ETag": obj.etag,
            "Last-Modified": formatdate(obj.last_modified, usegmt=True),
            "Content-Type": obj.content_type,
            "Accept-Ranges": "bytes",
            "x-amz-server-side-encryption": "AES256",
            **{f"x-amz-meta-{name}": value for name, value in obj.metadata.items()},
        }
        if self.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            headers.update(self._checksum_headers(obj))
        self._send(200, headers, length=obj.size)

    def _get_object(self) -> None:
        with self.server.state.lock:
            obj = self._existing()
        if obj is None:
            raise _S3Error(404, "NoSuchKey", "The specified key does not exist.")
        if obj.body is None:
            raise _S3Error(501, "NotImplemented", "this null endpoint discarded those bytes")
        headers = {
            "ETag": obj.etag,
            "Last-Modified": formatdate(obj.last_modified, usegmt=True),
            **{f"x-amz-meta-{name}": value for name, value in obj.metadata.items()},
        }
        if self.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            headers.update(self._checksum_headers(obj))
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", obj.content_type)
        self.send_header("Content-Length", str(len(obj.body)))
        self.end_headers()
        self.wfile.write(obj.body)

    def _delete_object(self) -> None:
        with self.server.state.lock:
            self.server.state.objects.pop((self.bucket, self.key), None)
        self._send(204)

    # Multipart ---------------------------------------------------------------------------------
    def _upload(self) -> _Upload:
        upload = self.server.state.uploads.get(self.query["uploadId"])
        if upload is None or (upload.bucket, upload.key) != (self.bucket, self.key):
            raise _S3Error(404, "NoSuchUpload", "The specified upload does not exist.")
        return upload

    def _create_upload(self) -> None:
        algorithm = self.headers.get("x-amz-checksum-algorithm", "").upper() or None
        checksum_type = self.headers.get("x-amz-checksum-type", "").upper() or None
        if algorithm and not checksum_type:
            checksum_type = "FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE"
        if checksum_type == "FULL_OBJECT" and algorithm not in _CRC_WIDTH:
            raise _S3Error(400, "InvalidRequest", f"{algorithm} cannot be a FULL_OBJECT checksum")
        upload_id = uuid.uuid4().hex
        upload = _Upload(
            bucket=self.bucket,
            key=self.key,
            metadata=_metadata(self.headers),
            content_type=self.headers.get("Content-Type", "binary/octet-stream"),
            checksum_algorithm=algorithm,
            checksum_type=checksum_type,
            initiated=time.time(),
        )
        with self.server.state.lock:
            self.server.state.uploads[upload_id] = upload
        headers = {}
        if algorithm and checksum_type:
            headers = {"x-amz-checksum-algorithm": algorithm, "x-amz-checksum-type": checksum_type}
        body = _xml(
            "InitiateMultipartUploadResult",
            [("Bucket", self.bucket), ("Key", self.key), ("UploadId", upload_id)],
        )
        self._send(200, headers, body)

    def _upload_part(self) -> None:
        number = int(self.query.get("partNumber", "0"))
        if not 1 <= number <= 10000:
            raise _S3Error(400, "InvalidArgument", "Part number must be between 1 and 10000")
        with self.server.state.lock:
            upload = self._upload()
        payload = self._body(_announced_algorithm(self.headers))
        algorithm, value = _sent_checksum(self.headers, payload.trailers)
        self._verify(algorithm, value, payload)
        if upload.checksum_algorithm and algorithm and algorithm != upload.checksum_algorithm:
            raise _S3Error(
                400,
                "InvalidRequest",
                f"Checksum Type mismatch occurred, expected checksum Type: "
                f"{upload.checksum_algorithm.lower()}, actual checksum Type: {algorithm.lower()}",
            )
        part = _Part(payload.size, f'"{uuid.uuid4().hex}"', value or None)
        with self.server.state.lock:
            upload.parts[number] = part
        headers = {"ETag": part.etag}
        if algorithm:
            headers[f"x-amz-checksum-{algorithm.lower()}"] = value
        self._send(200, headers)

    def _complete_upload(self) -> None:
        payload = self._body()
        with self.server.state.lock:
            upload = self._upload()
        root = ET.fromstring(payload.body or b"")  # noqa: S314 - loopback, our own clients
        listed: list[tuple[int, str, dict[str, str]]] = []
        for element in root:
            if _tag(element) != "Part":
                continue
            fields = {_tag(child): (child.text or "").strip() for child in element}
            listed.append((int(fields.get("PartNumber", "0")), fields.get("ETag", ""), fields))
        if not listed:
            raise _S3Error(400, "MalformedXML", "no parts listed")
        numbers = [number for number, _, _ in listed]
        if numbers != sorted(set(numbers)):
            raise _S3Error(400, "InvalidPartOrder", "parts must be listed in ascending order")
        parts: list[_Part] = []
        for index, (number, etag, fields) in enumerate(listed):
            part = upload.parts.get(number)
            if part is None or part.etag.strip('"') != etag.strip('"'):
                raise _S3Error(400, "InvalidPart", f"part {number} was not uploaded as listed")
            listed_checksum = next(
                (fields[f"Checksum{a}"] for a in ALGORITHMS if fields.get(f"Checksum{a}")), None
            )
            if listed_checksum and part.checksum and listed_checksum != part.checksum:
                raise _S3Error(400, "InvalidPart", f"part {number}: checksum differs from upload")
            if index < len(listed) - 1 and part.size < MIN_PART:
                raise _S3Error(
                    400,
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed size",
                )
            parts.append(part)
        algorithm, value = _sent_checksum(self.headers, {})
        algorithm = upload.checksum_algorithm or algorithm
        checksum_type = (
            self.headers.get("x-amz-checksum-type", "").upper() or upload.checksum_type or None
        )
        checksum = self._final_checksum(algorithm, checksum_type, value, parts)
        etag_md5 = hashlib.md5(  # noqa: S324 - S3's multipart ETag format, not security
            b"".join(bytes.fromhex(p.etag.strip('"')) for p in parts)
        ).hexdigest()
        obj = _Object(
            size=sum(p.size for p in parts),
            etag=f'"{etag_md5}-{len(parts)}"',
            metadata=upload.metadata,
            content_type=upload.content_type,
            checksum_algorithm=algorithm if checksum else None,
            checksum=checksum,
            checksum_type=checksum_type if checksum else None,
            last_modified=time.time(),
            body=None,
        )
        with self.server.state.lock:
            self._check_conditions(self._existing())
            self.server.state.objects[(self.bucket, self.key)] = obj
            self.server.state.uploads.pop(self.query["uploadId"], None)
        body = _xml(
            "CompleteMultipartUploadResult",
            [
                ("Location", f"/{self.bucket}/{self.key}"),
                ("Bucket", self.bucket),
                ("Key", self.key),
                ("ETag", obj.etag),
                (f"Checksum{algorithm}", checksum),
                ("ChecksumType", obj.checksum_type),
            ],
        )
        self._send(200, body=body)

    def _final_checksum(
        self, algorithm: str, checksum_type: str | None, sent: str, parts: list[_Part]
    ) -> str | None:
        """What S3 would store: a full-object CRC (checked against the parts) or a composite."""
        if not algorithm:
            return None
        part_values = [p.checksum for p in parts]
        if checksum_type == "FULL_OBJECT":
            derived = None
            if all(part_values):
                derived = _combine_crcs(
                    algorithm, [(v or "", p.size) for v, p in zip(part_values, parts, strict=True)]
                )
            if sent and derived and sent != derived:
                raise _S3Error(
                    400,
                    "BadDigest",
                    f"The {algorithm} you specified did not match the calculated checksum.",
                )
            return sent or derived
        if all(part_values):
            return _composite(algorithm, [v or "" for v in part_values])
        return None

    def _abort_upload(self) -> None:
        with self.server.state.lock:
            self._upload()
            self.server.state.uploads.pop(self.query["uploadId"], None)
        self._send(204)


# Starting it -----------------------------------------------------------------------------------
def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1; the cert is its own CA bundle."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _build_server(
    directory: Path, host: str, port: int, *, verify: bool, keep_bytes: int
) -> tuple[_Server, Path]:
    cert, key = make_certificate(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = _Server((host, port), context, _State(verify=verify, keep_bytes=keep_bytes))
    return server, cert


@dataclass(frozen=True)
class Endpoint:
    """Where a running null endpoint listens and what a client needs to trust it."""

    url: str
    ca_bundle: Path
    pid: int | None

    def client_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for boto3 / awscli processes aimed at this endpoint (dummy keys)."""
        env = dict(os.environ if base is None else base)
        env.update(
            {
                "AWS_ENDPOINT_URL_S3": self.url,
                "AWS_CA_BUNDLE": str(self.ca_bundle),
                "AWS_ACCESS_KEY_ID": "null",
                "AWS_SECRET_ACCESS_KEY": "null-secret",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
            }
        )
        return env


@contextlib.contextmanager
def serve(
    *,
    in_process: bool = False,
    verify: bool = False,
    keep_bytes: int = 1 * MIB,
    host: str = "127.0.0.1",
) -> Iterator[Endpoint]:
    """Run a null endpoint for the duration of the block.

    `verify` recomputes every sent checksum over the drained bytes (costs server CPU: off for
    benchmarks, on for tests). `keep_bytes` keeps small bodies so manifests can be read back.
    """
    if in_process:
        with tempfile.TemporaryDirectory(prefix="null-s3-") as tmp:
            server, cert = _build_server(Path(tmp), host, 0, verify=verify, keep_bytes=keep_bytes)
            thread = threading.Thread(target=server.serve_forever, name="null-s3", daemon=True)
            thread.start()
            try:
                yield Endpoint(f"https://{host}:{server.server_address[1]}", cert, None)
            finally:
                server.shutdown()
                server.server_close()
        return
    command = [sys.executable, str(Path(__file__).resolve()), "--host", host, "--port", "0"]
    command += ["--keep-bytes", str(keep_bytes)] + (["--verify"] if verify else [])
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        fields: dict[str, str] = {}
        while len(fields) < 2:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"null S3 exited early with {process.wait()}")
            name, _, value = line.strip().partition(": ")
            fields[name] = value
        yield Endpoint(fields["url"], Path(fields["ca_bundle"]), process.pid)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--verify", action="store_true", help="recompute sent checksums")
    parser.add_argument("--keep-bytes", type=int, default=1 * MIB, help="keep smaller bodies")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    _Handler.verbose = args.verbose
    directory = Path(tempfile.mkdtemp(prefix="null-s3-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server, cert = _build_server(
            directory, args.host, args.port, verify=args.verify, keep_bytes=args.keep_bytes
        )
        print(f"url: https://{args.host}:{server.server_address[1]}", flush=True)
        print(f"ca_bundle: {cert}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
