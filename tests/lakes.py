"""A lake seen from outside cinelake, for the ingestion tests: list keys, read bytes, head.

S3 lakes are inspected with a plain boto3 client, never through cinelake's own store, so a
bug in the store cannot hide itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import S3Endpoint, new_bucket

DAY = date(2025, 5, 2)
DAY_PATH = "2025/05/02"


@dataclass
class Lake:
    kind: str
    env: dict[str, str]
    root: Path | None = None
    bucket: str | None = None
    endpoint: S3Endpoint | None = None
    _client: Any = field(default=None, repr=False)

    @property
    def client(self) -> Any:
        assert self.endpoint is not None
        if self._client is None:
            self._client = self.endpoint.client()
        return self._client

    def keys(self) -> list[str]:
        if self.root is not None:
            if not self.root.exists():
                return []
            found = []
            for dirpath, dirnames, filenames in os.walk(self.root):
                dirnames[:] = [d for d in dirnames if d != ".cinelake"]
                found += [
                    (Path(dirpath) / name).relative_to(self.root).as_posix() for name in filenames
                ]
            return sorted(found)
        answer = self.client.list_objects_v2(Bucket=self.bucket)
        return [item["Key"] for item in answer.get("Contents", [])]

    def data_keys(self) -> list[str]:
        return [k for k in self.keys() if not k.startswith("Raw/_")]

    def manifest_keys(self) -> list[str]:
        return [k for k in self.keys() if k.startswith("Raw/_manifests/")]

    def get(self, key: str) -> bytes:
        if self.root is not None:
            return (self.root / key).read_bytes()
        return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def manifest(self, key: str) -> dict[str, Any]:
        return dict(json.loads(self.get(key)))

    def s3_head(self, key: str) -> dict[str, Any]:
        return dict(self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED"))


def open_lake(kind: str, request: pytest.FixtureRequest, tmp_path: Path, **bucket: bool) -> Lake:
    """`kind`: local, moto or rclone. The env is what a user would export; nothing else leaks."""
    if kind == "local":
        root = tmp_path / "lake"
        return Lake(kind, {"CINELAKE_LAKE": str(root)}, root=root)
    endpoint: S3Endpoint = request.getfixturevalue(f"{kind}_endpoint")
    name = new_bucket(endpoint, **bucket)
    return Lake(kind, endpoint.env() | {"NOME_DO_BUCKET_S3": name}, bucket=name, endpoint=endpoint)


def csv_key(file_name: str, dataset: str = "Movies") -> str:
    return f"Raw/Local/CSV/{dataset}/{DAY_PATH}/{file_name}"
