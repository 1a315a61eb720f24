"""Open the lake a `Settings` names: the single place where storage clients are built."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cinelake.errors import ConfigError
from cinelake.settings import Settings
from cinelake.store.base import Landed, ObjectInfo, ProgressCallback, Store
from cinelake.store.local import LocalDirStore
from cinelake.store.s3 import MIB, S3Store, TransferSettings

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_s3 import S3Client

__all__ = [
    "Landed",
    "LocalDirStore",
    "ObjectInfo",
    "ProgressCallback",
    "S3Store",
    "Store",
    "open_store",
]


def open_store(settings: Settings, *, check: bool = True) -> Store:
    """The lake for these settings; with `check`, unreachable lakes fail before any work."""
    if not settings.is_s3:
        return LocalDirStore(Path(settings.lake))
    bucket, _, prefix = settings.lake[len("s3://") :].partition("/")
    store = S3Store(
        s3_client(settings),
        bucket,
        prefix,
        _transfer(settings),
        custom_endpoint=settings.endpoint_url is not None,
    )
    if check:
        store.check_reachable()
    return store


def aws_session(settings: Settings, region: str | None = None) -> boto3.Session:
    """The one place AWS credentials are chosen: explicit keys win over a profile."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        return boto3.Session(
            profile_name=None if settings.aws_access_key_id else settings.profile,
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=settings.aws_secret_access_key,
            aws_session_token=settings.aws_session_token,
            region_name=region or settings.region,
        )
    except ProfileNotFound:
        raise ConfigError(
            f"NOME_DO_PERFIL_SSO={settings.profile!r}: no such profile in ~/.aws/config; "
            "fix the name or run `aws configure sso`"
        ) from None


def s3_client(settings: Settings) -> S3Client:
    """A boto3 S3 client built from settings (not from whatever the process env holds)."""
    from botocore.config import Config
    from botocore.exceptions import InvalidRegionError

    session = aws_session(settings)
    concurrency = settings.max_concurrency or TransferSettings().max_concurrency
    config = Config(
        max_pool_connections=concurrency + 4,
        retries={"mode": "standard", "max_attempts": 5},
        request_checksum_calculation="when_required",
        # Every body already carries a CRC the server checks; a SHA-256 payload signature on
        # top would cost a second full pass over the data (about 0.9 CPU s per GiB).
        s3={"payload_signing_enabled": False},
        response_checksum_validation="when_supported",
        connect_timeout=10,
        read_timeout=120,
    )
    try:
        return session.client("s3", endpoint_url=settings.endpoint_url, config=config)
    except InvalidRegionError:
        raise ConfigError(
            f"region {settings.region!r} (REGIAO_DO_BUCKET, AWS_REGION or AWS_DEFAULT_REGION) "
            "is not a region code: use one such as sa-east-1 (São Paulo) or us-east-1"
        ) from None


def _transfer(settings: Settings) -> TransferSettings:
    defaults = TransferSettings()
    try:
        return TransferSettings(
            part_size=(settings.part_size_mib * MIB)
            if settings.part_size_mib
            else defaults.part_size,
            max_concurrency=settings.max_concurrency or defaults.max_concurrency,
        )
    except ValueError as exc:
        raise ConfigError(f"CINELAKE_PART_SIZE_MIB / CINELAKE_MAX_CONCURRENCY: {exc}") from None
