"""The benchmark's null endpoint must answer as S3 would, or the benchmark measures a lie.

A client that verifies its uploads with HeadObject (as cinelake does) would fail or take another
path against an endpoint that forgot sizes, metadata or checksums, so these are checked here
with real boto3 requests over HTTPS, including botocore's `aws-chunked` trailer uploads.
"""

from __future__ import annotations

import base64
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
crt_checksums = pytest.importorskip("awscrt.checksums")

from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

MODULE_PATH = Path(__file__).resolve().parents[1] / "bench" / "null_s3.py"
MIB = 1024 * 1024


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_null_s3", MODULE_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


null_s3 = _load()


def _crc64(data: bytes, previous: int = 0) -> int:
    return int(crt_checksums.crc64nvme(data, previous))


def _b64(value: int) -> str:
    return base64.b64encode(value.to_bytes(8, "big")).decode()


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    with null_s3.serve(in_process=True, verify=True) as endpoint:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint.url,
            verify=str(endpoint.ca_bundle),
            aws_access_key_id="null",
            aws_secret_access_key="null-secret",
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}),
        )
        yield client
        client.close()


def test_put_object_then_head_reports_size_metadata_and_checksum(s3: Any) -> None:
    body = b"id|tituloPincipal\ntt0000001|Um\n" * 100
    # botocore's default: CRC32 computed by the client, sent as an aws-chunked trailer.
    s3.put_object(Bucket="lake", Key="Raw/a.csv", Body=body, Metadata={"origin": "test"})

    head = s3.head_object(Bucket="lake", Key="Raw/a.csv", ChecksumMode="ENABLED")

    assert head["ContentLength"] == len(body)
    assert head["Metadata"] == {"origin": "test"}
    import zlib

    expected = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    assert head["ChecksumCRC32"] == expected
    assert head["ChecksumType"] == "FULL_OBJECT"


def test_multipart_with_full_object_crc64nvme(s3: Any) -> None:
    parts = [b"a" * (5 * MIB), b"b" * 1000]
    created = s3.create_multipart_upload(
        Bucket="lake",
        Key="Raw/big.csv",
        Metadata={"cinelake-sha256": "x"},
        ChecksumAlgorithm="CRC64NVME",
        ChecksumType="FULL_OBJECT",
    )
    listed = []
    for number, data in enumerate(parts, start=1):
        part_crc = _b64(_crc64(data))
        answer = s3.upload_part(
            Bucket="lake",
            Key="Raw/big.csv",
            UploadId=created["UploadId"],
            PartNumber=number,
            Body=data,
            ChecksumCRC64NVME=part_crc,
        )
        listed.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumCRC64NVME": part_crc})
    full = _b64(_crc64(parts[1], _crc64(parts[0])))
    s3.complete_multipart_upload(
        Bucket="lake",
        Key="Raw/big.csv",
        UploadId=created["UploadId"],
        MultipartUpload={"Parts": listed},
        ChecksumType="FULL_OBJECT",
        ChecksumCRC64NVME=full,
        IfNoneMatch="*",
    )

    head = s3.head_object(Bucket="lake", Key="Raw/big.csv", ChecksumMode="ENABLED")

    assert head["ContentLength"] == sum(map(len, parts))
    assert head["Metadata"] == {"cinelake-sha256": "x"}
    assert head["ChecksumCRC64NVME"] == full
    assert head["ChecksumType"] == "FULL_OBJECT"
    assert head["ETag"].endswith('-2"')


def test_wrong_full_object_checksum_is_refused(s3: Any) -> None:
    created = s3.create_multipart_upload(
        Bucket="lake", Key="Raw/bad.csv", ChecksumAlgorithm="CRC64NVME", ChecksumType="FULL_OBJECT"
    )
    data = b"c" * 100
    answer = s3.upload_part(
        Bucket="lake",
        Key="Raw/bad.csv",
        UploadId=created["UploadId"],
        PartNumber=1,
        Body=data,
        ChecksumCRC64NVME=_b64(_crc64(data)),
    )
    with pytest.raises(ClientError) as caught:
        s3.complete_multipart_upload(
            Bucket="lake",
            Key="Raw/bad.csv",
            UploadId=created["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": answer["ETag"]}]},
            ChecksumType="FULL_OBJECT",
            ChecksumCRC64NVME=_b64(12345),
        )
    assert caught.value.response["Error"]["Code"] == "BadDigest"


def test_if_none_match_on_existing_key_is_412(s3: Any) -> None:
    s3.put_object(Bucket="lake", Key="Raw/once", Body=b"1", IfNoneMatch="*")

    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket="lake", Key="Raw/once", Body=b"2", IfNoneMatch="*")

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert caught.value.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.get_object(Bucket="lake", Key="Raw/once")["Body"].read() == b"1"


def test_absent_object_is_404_and_bucket_probes_answer(s3: Any) -> None:
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket="lake", Key="Raw/missing")
    assert caught.value.response["Error"]["Code"] == "404"
    s3.head_bucket(Bucket="lake")
    assert "Status" not in s3.get_bucket_versioning(Bucket="lake")
    assert s3.list_multipart_uploads(Bucket="lake", Prefix="Raw/none").get("Uploads", []) == []
