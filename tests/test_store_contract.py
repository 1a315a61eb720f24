"""One storage contract, four backends: a local folder, S3 on moto, `rclone serve s3`, s3rver.

What an endpoint lacks (conditional writes, multipart checksums on rclone, any additional
checksum on s3rver) is detected by the store and asserted here as detected, never assumed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from conftest import S3Endpoint, new_bucket

from cinelake import checksums
from cinelake.errors import ObjectConflict
from cinelake.settings import load_settings
from cinelake.store import LocalDirStore, S3Store, Store, open_store, s3_client
from cinelake.store.base import META_SHA256, Recorded
from cinelake.store.s3 import TransferSettings

MIB = 1024 * 1024
CHECKSUM_BACKENDS = ["local", "moto", "rclone"]
"""Backends that return the checksum they were sent (rclone: for single-part objects)."""
BACKENDS = [*CHECKSUM_BACKENDS, "s3rver"]


@dataclass
class Backend:
    name: str
    store: Store
    endpoint: S3Endpoint | None = None


_CLIENTS: dict[str, object] = {}


def _client(endpoint: S3Endpoint) -> object:
    """One client per endpoint for the module, built the way the CLI builds it."""
    if endpoint.name not in _CLIENTS:
        _CLIENTS[endpoint.name] = s3_client(load_settings(environ=endpoint.env()))
    return _CLIENTS[endpoint.name]


def _open(name: str, request: pytest.FixtureRequest, tmp_path: Path, *, versioned: bool) -> Backend:
    if name == "local":
        return Backend(name, LocalDirStore(tmp_path / "lake"))
    endpoint: S3Endpoint = request.getfixturevalue(f"{name}_endpoint")
    store = S3Store(
        _client(endpoint),  # type: ignore[arg-type]
        new_bucket(endpoint, versioned=versioned),
        transfer=TransferSettings(part_size=5 * MIB),
        custom_endpoint=True,
    )
    return Backend(name, store, endpoint)


def test_open_store_builds_an_s3_store_for_the_bucket_and_part_size_configured(
    moto_endpoint: S3Endpoint, clean_env: Path
) -> None:
    bucket = new_bucket(moto_endpoint)
    settings = load_settings(
        environ=moto_endpoint.env()
        | {"CINELAKE_LAKE": f"s3://{bucket}/pre/fix", "CINELAKE_PART_SIZE_MIB": "5"}
    )
    store = open_store(settings)
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.transfer.part_size) == (bucket, "pre/fix/", 5 * MIB)
    store.put_bytes("Raw/a.csv", b"a")
    keys = [o["Key"] for o in moto_endpoint.client().list_objects_v2(Bucket=bucket)["Contents"]]  # type: ignore[attr-defined]
    assert keys == ["pre/fix/Raw/a.csv"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, clean_env: Path, tmp_path: Path) -> Backend:
    opened = _open(request.param, request, tmp_path, versioned=False)
    return opened


@pytest.fixture(params=CHECKSUM_BACKENDS)
def checksum_backend(request: pytest.FixtureRequest, clean_env: Path, tmp_path: Path) -> Backend:
    return _open(request.param, request, tmp_path, versioned=False)


@pytest.fixture
def checksumless_backend(
    request: pytest.FixtureRequest, clean_env: Path, tmp_path: Path
) -> Backend:
    """s3rver: no additional checksum is ever returned."""
    return _open("s3rver", request, tmp_path, versioned=False)


@pytest.fixture(params=["moto", "rclone", "s3rver"])
def s3_backend(request: pytest.FixtureRequest, clean_env: Path, tmp_path: Path) -> Backend:
    """S3 endpoints only, in buckets without versioning."""
    return _open(request.param, request, tmp_path, versioned=False)


@pytest.fixture(params=["local", "moto"])
def versioned_backend(request: pytest.FixtureRequest, clean_env: Path, tmp_path: Path) -> Backend:
    opened = _open(request.param, request, tmp_path, versioned=True)
    return opened


@pytest.fixture(scope="module")
def multipart_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~12 MiB: three parts of 5 MiB, the last one short."""
    path = tmp_path_factory.mktemp("big") / "big.csv"
    path.write_bytes(os.urandom(12 * MIB + 12345))
    return path


def crc_of(data: bytes, store: Store) -> str:
    return checksums.of_bytes(store.checksum_algorithm, data)


# Small objects --------------------------------------------------------------------------------


def test_put_bytes_then_head_reports_size_checksum_and_metadata(
    checksum_backend: Backend,
) -> None:
    backend = checksum_backend
    data = b"id|titulo\n1|Cidade de Deus\n"
    backend.store.put_bytes("Raw/x/a.csv", data, {"cinelake-run-id": "run-1"})

    info = backend.store.head("Raw/x/a.csv")

    assert info is not None
    assert info.size == len(data)
    assert info.checksum_algorithm == backend.store.checksum_algorithm
    assert info.checksum == crc_of(data, backend.store)
    assert info.metadata["cinelake-run-id"] == "run-1"
    assert info.metadata[META_SHA256] == hashlib.sha256(data).hexdigest()


def test_put_bytes_reports_written_and_verified_by_the_server_checksum(
    checksum_backend: Backend,
) -> None:
    backend = checksum_backend
    landed = backend.store.put_bytes("Raw/x/a.csv", b"abc")
    assert landed.state == "written"
    assert landed.verified_by == "server-checksum"
    assert landed.sha256 == hashlib.sha256(b"abc").hexdigest()


def test_head_of_a_missing_key_is_none(backend: Backend) -> None:
    assert backend.store.head("Raw/x/missing.csv") is None


def test_same_bytes_again_is_unchanged(backend: Backend) -> None:
    backend.store.put_bytes("Raw/x/a.csv", b"same bytes")
    again = backend.store.put_bytes("Raw/x/a.csv", b"same bytes")
    assert again.state == "unchanged"


def test_different_bytes_for_a_taken_key_are_refused_and_the_original_kept(
    backend: Backend,
) -> None:
    backend.store.put_bytes("Raw/x/a.csv", b"original")
    with pytest.raises(ObjectConflict, match="never overwritten"):
        backend.store.put_bytes("Raw/x/a.csv", b"impostor")
    assert backend.store.get_bytes("Raw/x/a.csv") == b"original"


def test_overwrite_is_refused_where_previous_versions_are_not_kept(s3_backend: Backend) -> None:
    backend = s3_backend
    assert not backend.store.keeps_versions
    backend.store.put_bytes("Raw/x/a.csv", b"original")
    with pytest.raises(ObjectConflict, match="does not keep previous versions"):
        backend.store.put_bytes("Raw/x/a.csv", b"replacement", overwrite=True)
    assert backend.store.get_bytes("Raw/x/a.csv") == b"original"


def test_overwrite_is_allowed_where_previous_versions_are_kept(versioned_backend: Backend) -> None:
    store = versioned_backend.store
    assert store.keeps_versions
    store.put_bytes("Raw/x/a.csv", b"original")

    landed = store.put_bytes("Raw/x/a.csv", b"replacement", overwrite=True)

    assert landed.state == "written"
    assert store.get_bytes("Raw/x/a.csv") == b"replacement"
    assert previous_bytes(versioned_backend, "Raw/x/a.csv") == [b"original"]


def previous_bytes(backend: Backend, key: str) -> list[bytes]:
    """The replaced bytes, read back through the backend's own versioning."""
    store = backend.store
    if isinstance(store, LocalDirStore):
        return [path.read_bytes() for path in store.previous_versions(key)]
    assert isinstance(store, S3Store)
    client = store.client
    versions = client.list_object_versions(Bucket=store.bucket, Prefix=key)["Versions"]
    older = [v for v in versions if v["Key"] == key and not v["IsLatest"]]
    return [
        client.get_object(Bucket=store.bucket, Key=key, VersionId=v["VersionId"])["Body"].read()
        for v in older
    ]


# Large files ----------------------------------------------------------------------------------


def test_put_file_in_several_parts_lands_byte_identical(
    backend: Backend, multipart_file: Path
) -> None:
    backend.store.put_file("Raw/x/big.csv", multipart_file)
    assert (
        backend.store.sha256_of("Raw/x/big.csv")
        == hashlib.sha256(multipart_file.read_bytes()).hexdigest()
    )


def test_put_file_reports_the_full_object_checksum_computed_locally(
    backend: Backend, multipart_file: Path
) -> None:
    data = multipart_file.read_bytes()
    landed = backend.store.put_file("Raw/x/big.csv", multipart_file)
    assert landed.state == "written"
    assert landed.size == len(data)
    assert landed.sha256 == hashlib.sha256(data).hexdigest()
    assert landed.checksum == crc_of(data, backend.store)


def test_put_file_is_verified_by_the_server_checksum_where_the_server_keeps_it(
    checksum_backend: Backend, multipart_file: Path
) -> None:
    backend = checksum_backend
    landed = backend.store.put_file("Raw/x/big.csv", multipart_file)
    if backend.name == "rclone":
        # rclone keeps no multipart checksum: the store must notice and say so, not fail.
        assert backend.store.head("Raw/x/big.csv").checksum is None  # type: ignore[union-attr]
        assert landed.verified_by == "size-only"
    else:
        assert landed.verified_by == "server-checksum"
        assert backend.store.head("Raw/x/big.csv").checksum == landed.checksum  # type: ignore[union-attr]


def test_put_file_of_the_same_large_file_again_is_unchanged(
    backend: Backend, multipart_file: Path
) -> None:
    backend.store.put_file("Raw/x/big.csv", multipart_file)
    assert backend.store.put_file("Raw/x/big.csv", multipart_file).state == "unchanged"


def test_put_file_feeds_the_tap_every_byte_once_in_order(
    backend: Backend, multipart_file: Path
) -> None:
    seen = hashlib.sha256()
    backend.store.put_file("Raw/x/big.csv", multipart_file, tap=seen.update)
    assert seen.hexdigest() == hashlib.sha256(multipart_file.read_bytes()).hexdigest()


def test_put_file_reports_progress_up_to_the_file_size(
    backend: Backend, multipart_file: Path
) -> None:
    sent: list[int] = []
    backend.store.put_file("Raw/x/big.csv", multipart_file, progress=sent.append)
    assert sum(sent) == multipart_file.stat().st_size


def test_parts_go_out_as_a_stream_that_asks_the_server_before_sending(
    s3_backend: Backend, multipart_file: Path
) -> None:
    """One 8 MiB write must finish within the send timeout, which a slow uplink cannot do;
    a stream is written in small blocks, and `Expect: 100-continue` lets the server refuse
    a part before its bytes are sent."""
    store = cast(S3Store, s3_backend.store)
    parts: list[tuple[bool, bytes | str | None]] = []

    def seen(request: Any, **_: Any) -> None:
        parts.append((hasattr(request.body, "read"), request.headers.get("Expect")))

    events = store.client.meta.events
    events.register("before-send.s3.UploadPart", seen, unique_id="test-part-bodies")
    try:
        store.put_file("Raw/x/big.csv", multipart_file)
    finally:
        events.unregister("before-send.s3.UploadPart", unique_id="test-part-bodies")
    assert len(parts) >= 2
    assert set(parts) == {(True, b"100-continue")}


# Reading --------------------------------------------------------------------------------------


def test_list_returns_objects_under_the_prefix_in_key_order(backend: Backend) -> None:
    for key in ["Raw/b/2.csv", "Raw/a/z.csv", "Raw/a/1.csv", "Raw/ab.csv", "Other/x.csv"]:
        backend.store.put_bytes(key, key.encode())

    listed = [(info.key, info.size) for info in backend.store.list("Raw/")]

    expected = sorted(["Raw/b/2.csv", "Raw/a/z.csv", "Raw/a/1.csv", "Raw/ab.csv"])
    assert listed == [(key, len(key)) for key in expected]


def test_list_prefix_is_a_string_prefix_not_a_folder(backend: Backend) -> None:
    for key in ["Raw/a/1.csv", "Raw/ab.csv", "Raw/b.csv"]:
        backend.store.put_bytes(key, b"x")
    assert [info.key for info in backend.store.list("Raw/a")] == ["Raw/a/1.csv", "Raw/ab.csv"]


def test_list_of_an_empty_prefix_is_empty(backend: Backend) -> None:
    assert list(backend.store.list("Raw/nothing/")) == []


def test_open_read_streams_the_object_in_chunks(backend: Backend, multipart_file: Path) -> None:
    backend.store.put_file("Raw/x/big.csv", multipart_file)
    chunks: list[bytes] = []
    with backend.store.open_read("Raw/x/big.csv") as reader:
        while chunk := reader.read(MIB):
            chunks.append(chunk)
    assert len(chunks) > 1
    assert b"".join(chunks) == multipart_file.read_bytes()


def test_open_read_of_a_missing_key_raises_file_not_found(backend: Backend) -> None:
    with pytest.raises(FileNotFoundError):
        backend.store.open_read("Raw/x/missing.csv")


# What S3 endpoints do or do not honour --------------------------------------------------------


def test_conditional_write_support_is_detected_not_assumed(s3_backend: Backend) -> None:
    store = s3_backend.store
    assert isinstance(store, S3Store)
    assert s3_backend.endpoint is not None
    assert store.honours_conditional_writes() is s3_backend.endpoint.conditional_writes


def test_conditional_write_probe_leaves_no_object_behind(s3_backend: Backend) -> None:
    store = s3_backend.store
    assert isinstance(store, S3Store)
    store.honours_conditional_writes()
    assert list(store.list("")) == []


def test_checksum_support_is_detected_not_assumed(s3_backend: Backend) -> None:
    store = s3_backend.store
    assert isinstance(store, S3Store)
    assert s3_backend.endpoint is not None
    assert store.returns_checksums() is s3_backend.endpoint.checksums


def test_no_md5_is_computed_where_the_store_returns_checksums(
    checksum_backend: Backend, multipart_file: Path
) -> None:
    small = checksum_backend.store.put_bytes("Raw/x/a.csv", b"abc")
    big = checksum_backend.store.put_file("Raw/x/big.csv", multipart_file)
    assert (small.md5, big.md5) == (None, None)


# A store that keeps no checksum (s3rver) ----------------------------------------------------


def test_without_checksums_a_single_part_object_is_verified_by_size_and_md5(
    checksumless_backend: Backend, tmp_path: Path
) -> None:
    store = checksumless_backend.store
    small = tmp_path / "small.csv"
    small.write_bytes(b"id|titulo\n1|Cidade de Deus\n")

    from_bytes = store.put_bytes("Raw/x/a.csv", b"abc")
    from_file = store.put_file("Raw/x/small.csv", small)

    assert store.head("Raw/x/a.csv").checksum is None  # type: ignore[union-attr]
    assert from_bytes.verified_by == from_file.verified_by == "size-and-md5"
    assert (
        from_bytes.md5 == from_bytes.etag == hashlib.md5(b"abc", usedforsecurity=False).hexdigest()
    )
    assert (
        from_file.md5
        == from_file.etag
        == hashlib.md5(small.read_bytes(), usedforsecurity=False).hexdigest()
    )


def test_without_checksums_a_multipart_object_is_verified_by_size_only(
    checksumless_backend: Backend, multipart_file: Path
) -> None:
    landed = checksumless_backend.store.put_file("Raw/x/big.csv", multipart_file)
    assert landed.verified_by == "size-only"
    assert landed.md5 is None  # a multipart ETag is not the MD5 of the bytes
    assert landed.etag


def test_a_taken_multipart_key_is_recognised_from_its_record_without_reading_it(
    checksumless_backend: Backend, multipart_file: Path
) -> None:
    store = checksumless_backend.store
    endpoint = checksumless_backend.endpoint
    assert isinstance(store, S3Store) and endpoint is not None
    first = store.put_file("Raw/x/big.csv", multipart_file)
    record = Recorded(first.sha256, first.size, first.etag or "")
    gets = endpoint.requests("GET", store.bucket, "Raw/x/big.csv")

    again = store.put_file("Raw/x/big.csv", multipart_file, recorded=lambda key: record)

    assert again.state == "unchanged"
    assert endpoint.requests("GET", store.bucket, "Raw/x/big.csv") == gets


def test_a_record_of_other_bytes_leads_to_a_closer_look(
    checksumless_backend: Backend, multipart_file: Path
) -> None:
    """An ETag that is not the recorded one (the object was written again since) is no proof
    either way: the object is read back and compared."""
    store = checksumless_backend.store
    endpoint = checksumless_backend.endpoint
    assert isinstance(store, S3Store) and endpoint is not None
    first = store.put_file("Raw/x/big.csv", multipart_file)
    stale = Recorded(first.sha256, first.size, "0" * 32)

    again = store.put_file("Raw/x/big.csv", multipart_file, recorded=lambda key: stale)

    assert again.state == "unchanged"
    assert endpoint.requests("GET", store.bucket, "Raw/x/big.csv") == 1
