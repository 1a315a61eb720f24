"""`cinelake verify`: every claim of every manifest checked against the lake, and the reverse.

Tampering goes around cinelake on purpose: bytes rewritten in place on disk, or put straight
into the bucket with boto3, as a careless person or another tool would.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from test_status import (  # noqa: F401 - fixtures are found by name
    DAY,
    OTHER_DAY,
    SERIES_CSV,
    Lake,
    disk_lake_fixture,
    lake_fixture,
    moto_lake,
    tmdb_fixture,
)

from cinelake import checksums
from cinelake.lake import layout
from cinelake.lake.verify import verify_lake
from cinelake.store import LocalDirStore, ObjectInfo, S3Store, Store


# Tampering ----------------------------------------------------------------------------------
def _s3(lake: Lake) -> Any:
    assert isinstance(lake.store, S3Store)
    return lake.store.client


def rewrite(lake: Lake, key: str, data: bytes, *, metadata: dict[str, str] | None = None) -> None:
    """Replace an object's bytes behind cinelake's back (in place on disk, a PUT on S3)."""
    if lake.root is not None:
        with (lake.root / key).open("r+b") as handle:
            handle.write(data)
            handle.truncate()
        return
    _s3(lake).put_object(
        Bucket=lake.bucket,
        Key=key,
        Body=data,
        Metadata=metadata or {},
        ChecksumAlgorithm=checksums.default_algorithm(),
    )


def delete(lake: Lake, key: str) -> None:
    if lake.root is not None:
        (lake.root / key).unlink()
    else:
        _s3(lake).delete_object(Bucket=lake.bucket, Key=key)


def put_stray(lake: Lake, key: str, data: bytes) -> None:
    """An object no cinelake run wrote."""
    if lake.root is not None:
        (lake.root / key).parent.mkdir(parents=True, exist_ok=True)
        (lake.root / key).write_bytes(data)
    else:
        _s3(lake).put_object(Bucket=lake.bucket, Key=key, Body=data)


def keys_of(lake: Lake, structure: str, day: date = DAY) -> list[str]:
    return [o.key for o in lake.store.list(layout.tmdb_prefix(structure, day))]


def _crc(data: bytes | bytearray) -> int:
    algorithm = checksums.default_algorithm()
    return int.from_bytes(base64.b64decode(checksums.of_bytes(algorithm, bytes(data))), "big")


def forge_same_crc(data: bytes, at: int, new: bytes) -> bytes:
    """Different bytes, same length and same CRC: CRCs are linear, so 64+ free bits fix it.

    The edit goes at `at`; the 16 bytes after it are the free bits, solved for over GF(2).
    """
    edited = bytearray(data)
    edited[at : at + len(new)] = new
    free = at + len(new)
    base = _crc(edited)
    target = base ^ _crc(data)
    basis: dict[int, tuple[int, int]] = {}
    for bit in range(128):
        trial = bytearray(edited)
        trial[free + bit // 8] ^= 1 << (bit % 8)
        vector, mask = _crc(trial) ^ base, 1 << bit
        for pivot in sorted(basis, reverse=True):
            if vector >> pivot & 1:
                vector ^= basis[pivot][0]
                mask ^= basis[pivot][1]
        if vector:
            basis[vector.bit_length() - 1] = (vector, mask)
    flips = 0
    for pivot in sorted(basis, reverse=True):
        if target >> pivot & 1:
            target ^= basis[pivot][0]
            flips ^= basis[pivot][1]
    assert target == 0, "the free bits do not span the CRC"
    for bit in range(128):
        if flips >> bit & 1:
            edited[free + bit // 8] ^= 1 << (bit % 8)
    forged = bytes(edited)
    assert forged != data and len(forged) == len(data) and _crc(forged) == _crc(data)
    return forged


def landed_lake(lake: Lake) -> Lake:
    lake.land_csv()
    lake.land_tmdb()
    return lake


# The test: one object altered, one deleted ----------------------------------------
def test_verify_catches_an_altered_object_and_a_deleted_one(lake: Lake) -> None:
    landed_lake(lake)
    assert lake.cli("verify").code == 0
    altered = keys_of(lake, "Movies")[0]
    deleted = layout.csv_key("Series", DAY, SERIES_CSV.name)
    original = lake.store.get_bytes(altered)
    rewrite(lake, altered, original.replace(b'"title":"', b'"title":"X', 1)[: len(original)])
    delete(lake, deleted)

    result = lake.cli("verify")

    assert result.code == 1, result.out + result.err
    lines = result.out.splitlines()
    assert any(line.startswith("altered") and altered in line for line in lines), result.out
    assert any(line.startswith("missing") and deleted in line for line in lines), result.out
    assert len(lines) == 3  # one line per finding, then the summary
    assert lines[-1].startswith("cinelake: verify: 2 finding(s) (1 altered, 1 missing)")


def test_an_intact_lake_passes_with_and_without_deep(lake: Lake) -> None:
    landed_lake(lake)

    quick = lake.cli("verify")
    deep = lake.cli("verify", "--deep", "--json")

    assert quick.code == 0, quick.out
    assert quick.out.startswith("cinelake: verify: intact: 8 objects")
    assert "size only" not in quick.out
    assert deep.code == 0, deep.out
    report = deep.json()
    assert report["intact"] is True
    assert report["checked"] == report["rehashed"] == report["scanned"] == 8
    assert report["findings"] == []


def test_deep_catches_an_edit_that_keeps_size_and_checksum(lake: Lake) -> None:
    landed_lake(lake)
    key = keys_of(lake, "Series")[0]
    original = lake.store.get_bytes(key)
    info = lake.store.head(key)
    assert info is not None
    forged = forge_same_crc(original, original.index(b'"name":"') + 8, b"Forged")
    # On S3 the forger even copies the metadata, SHA-256 claim included.
    rewrite(lake, key, forged, metadata=dict(info.metadata))
    after = lake.store.head(key)
    assert after is not None and after.checksum == info.checksum and after.size == info.size

    quick = lake.cli("verify")
    deep = lake.cli("verify", "--deep")

    assert quick.code == 0, quick.out  # size and CRC cannot tell
    assert deep.code == 1, deep.out
    assert deep.out.startswith(f"altered             {key}: SHA-256 of the bytes ")


def test_objects_no_manifest_names_are_reported_as_unlisted(lake: Lake) -> None:
    landed_lake(lake)
    beside = layout.tmdb_key("Movies", DAY, "stray")
    other_day = layout.tmdb_key("Find", date(2020, 1, 1), "orphan")
    outside = "Raw/notes.txt"
    deeper = f"{layout.tmdb_prefix('Movies', DAY)}nested/deeper.json"
    for key in (beside, other_day, outside, deeper):
        put_stray(lake, key, b'{"id": 1}\n')

    everything = lake.cli("verify", "--json")
    one_day = lake.cli("verify", "--date", DAY.isoformat())

    assert everything.code == 1
    found = {(f["kind"], f["key"]) for f in everything.json()["findings"]}
    assert found == {("unlisted", k) for k in (beside, other_day, outside, deeper)}
    assert len(everything.json()["findings"]) == 4  # each named once
    assert one_day.code == 1
    assert one_day.out.splitlines()[:2] == [
        f"unlisted            {deeper}: outside the raw layout; no manifest can name it",
        f"unlisted            {beside}: no manifest names this object",
    ]
    assert len(one_day.out.splitlines()) == 3


def test_checkpoints_and_manifests_are_not_data(disk_lake: Lake) -> None:
    landed_lake(disk_lake)
    put_stray(disk_lake, "Raw/_state/tmdb/2025/06/01/anything.json", b"{}")

    assert disk_lake.cli("verify").code == 0


def test_a_dropped_checksum_is_a_finding_that_deep_clears(
    clean_env: Path, tmdb: Any, moto_endpoint: Any
) -> None:
    lake = landed_lake(moto_lake(moto_endpoint, tmdb))
    key = keys_of(lake, "Find")[0]
    body = lake.store.get_bytes(key)
    _s3(lake).put_object(Bucket=lake.bucket, Key=key, Body=body)  # copied without a checksum
    info = lake.store.head(key)
    assert info is not None and info.checksum is None

    quick = lake.cli("verify")
    deep = lake.cli("verify", "--deep")

    assert quick.code == 1
    assert quick.out.startswith(f"checksum-missing    {key}: the lake returns no checksum")
    assert deep.code == 0, deep.out


def test_an_unreadable_manifest_is_a_finding(disk_lake: Lake) -> None:
    landed_lake(disk_lake)
    broken = f"{layout.manifest_prefix(DAY)}20250601T000000Z-deadbeef.json"
    disk_lake.store.put_bytes(broken, b'{"schema": "something else"}')

    result = disk_lake.cli("verify", "--json")

    assert result.code == 1
    assert result.json()["counts"] == {"unreadable-manifest": 1}
    assert result.json()["findings"][0]["key"] == broken


@pytest.mark.parametrize(
    "forged_key", ["Raw/../../../etc/passwd", "/etc/passwd", ".cinelake/meta/x", "Raw//x.json"]
)
def test_a_manifest_naming_a_key_outside_the_raw_zone_is_a_finding_not_a_crash(
    disk_lake: Lake, forged_key: str
) -> None:
    landed_lake(disk_lake)
    manifest_key = next(iter(disk_lake.store.list(layout.manifest_prefix(DAY)))).key
    data = json.loads(disk_lake.store.get_bytes(manifest_key))
    data["objects"][0]["key"] = forged_key
    assert disk_lake.root is not None
    (disk_lake.root / manifest_key).write_text(json.dumps(data))

    result = disk_lake.cli("verify", "--json")

    assert result.code == 1
    findings = result.json()["findings"]
    assert {"kind": "unreadable-manifest", "key": manifest_key} in [
        {"kind": f["kind"], "key": f["key"]} for f in findings
    ]
    assert any(forged_key in f["detail"] for f in findings)


def test_a_dangling_symlink_in_the_lake_is_skipped_not_a_crash(disk_lake: Lake) -> None:
    landed_lake(disk_lake)
    assert disk_lake.root is not None
    folder = disk_lake.root / "Raw" / "TMDB" / "JSON" / "Movies"
    (folder / "dangling.json").symlink_to(folder / "nowhere.json")

    result = disk_lake.cli("verify", "--json")

    assert result.code == 0, result.err


def test_a_replaced_object_is_checked_against_its_latest_manifest(
    disk_lake: Lake, tmp_path: Path
) -> None:
    disk_lake.land_csv()
    newer = tmp_path / "newer" / SERIES_CSV.name
    newer.parent.mkdir()
    newer.write_bytes(SERIES_CSV.read_bytes() + b"tt0000001|one more\n")
    replaced = disk_lake.cli(
        "ingest-csv", "--series", str(newer), "--date", DAY.isoformat(), "--overwrite", "-q"
    )
    assert replaced.code == 0, replaced.err

    assert disk_lake.cli("verify", "--deep").code == 0


def test_date_and_since_scope_the_check(disk_lake: Lake) -> None:
    disk_lake.land_csv(DAY)
    disk_lake.land_csv(OTHER_DAY)
    delete(disk_lake, layout.csv_key("Series", DAY, SERIES_CSV.name))

    assert disk_lake.cli("verify", "--date", OTHER_DAY.isoformat()).code == 0
    assert disk_lake.cli("verify", "--since", OTHER_DAY.isoformat()).code == 0
    assert disk_lake.cli("verify", "--since", DAY.isoformat()).code == 1
    assert disk_lake.cli("verify", "--date", DAY.isoformat()).code == 1


class Recorder(Store):
    """A lake that logs every call, to see the order in which verify works."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.url = inner.url
        self.calls: list[tuple[str, str]] = []

    def head(self, key: str) -> ObjectInfo | None:
        self.calls.append(("head", key))
        return self.inner.head(key)

    def open_read(self, key: str) -> AbstractContextManager[BinaryIO]:
        self.calls.append(("read", key))
        return self.inner.open_read(key)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        self.calls.append(("list", prefix))
        return self.inner.list(prefix)

    @property
    def keeps_versions(self) -> bool:
        return False

    def _write_bytes(self, *args: Any, **kwargs: Any) -> str | None:
        raise AssertionError("verify must not write")

    def _write_file(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("verify must not write")


def test_verify_works_one_partition_date_at_a_time(disk_lake: Lake) -> None:
    disk_lake.land_csv(DAY)
    disk_lake.land_csv(OTHER_DAY)
    assert disk_lake.root is not None
    recorder = Recorder(LocalDirStore(disk_lake.root))
    seen: list[str] = []

    report = verify_lake(recorder, None, None, deep=True, on_finding=lambda f: seen.append(f.key))

    assert report.intact and report.partitions == 2 and report.rehashed == 4
    assert not seen
    calls = recorder.calls
    first_day_done = max(i for i, (_, key) in enumerate(calls) if "/2025/06/01/" in key)
    second_day_starts = min(i for i, (_, key) in enumerate(calls) if "/2025/06/02/" in key)
    assert first_day_done < second_day_starts
    data_reads = [k for op, k in calls if op == "read" and not layout.is_control_key(k)]
    assert len(data_reads) == len(set(data_reads)) == 4  # each object streamed once, with --deep
