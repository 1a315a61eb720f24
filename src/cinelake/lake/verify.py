"""Check the lake against its manifests: nothing missing, nothing altered, nothing unvouched.

A manifest is the only claim cinelake makes about an object, so verification is the comparison
of each claim with what the lake now says (size, full-object checksum, and with `deep` the
SHA-256 of the bytes), plus a sweep for data that no claim covers. On a store that keeps no
checksum, the claim says so (`verified_by`), and the object's ETag stands in where it was the
MD5 of the bytes when they landed; otherwise only the size can be compared without reading.
It works one partition date at a time: memory holds the claims of one date, never the whole
lake, and findings are handed to the caller as they are found.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from cinelake.lake import layout
from cinelake.lake.status import (
    LANDED_STATES,
    Manifest,
    in_range,
    manifest_day,
    manifest_keys,
    manifest_objects,
    read_manifest,
)
from cinelake.store.base import META_SHA256, ObjectInfo, Store
from cinelake.store.limitations import LESSER_CHECKS

FindingKind = Literal["missing", "altered", "unlisted", "checksum-missing", "unreadable-manifest"]
KEPT_FINDINGS = 1000
"""The report keeps this many findings for `--json`; callers streaming findings see them all."""

_DATED = re.compile(r"^Raw/.+?/(\d{4})/(\d{2})/(\d{2})/")


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    key: str
    detail: str
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "detail": self.detail, "run_id": self.run_id}


@dataclass
class VerifyReport:
    deep: bool
    since: date | None = None
    until: date | None = None
    manifests: int = 0
    partitions: int = 0
    checked: int = 0
    """Objects named by a manifest and compared with the lake."""
    checked_bytes: int = 0
    rehashed: int = 0
    size_only: int = 0
    """Objects whose manifest and lake share no checksum algorithm: only size was compared."""
    size_and_md5: int = 0
    """Objects on a store without checksums whose ETag was compared with the recorded MD5."""
    scanned: int = 0
    """Data objects seen while sweeping for unlisted ones."""
    counts: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.counts

    @property
    def exit_code(self) -> int:
        return 0 if self.intact else 1

    def add(self, finding: Finding) -> None:
        self.counts[finding.kind] += 1
        if len(self.findings) < KEPT_FINDINGS:
            self.findings.append(finding)

    def to_dict(self) -> dict[str, Any]:
        total = sum(self.counts.values())
        return {
            "intact": self.intact,
            "deep": self.deep,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "manifests": self.manifests,
            "partitions": self.partitions,
            "checked": self.checked,
            "checked_bytes": self.checked_bytes,
            "rehashed": self.rehashed,
            "size_only": self.size_only,
            "size_and_md5": self.size_and_md5,
            "scanned": self.scanned,
            "counts": dict(sorted(self.counts.items())),
            "findings": [f.to_dict() for f in self.findings],
            "findings_truncated": total > len(self.findings),
        }


@dataclass(frozen=True)
class _Claim:
    """What one manifest says about one object: the facts verification compares."""

    key: str
    run_id: str | None
    order: tuple[str, int, str]
    size: int | None
    sha256: str | None
    checksum_algorithm: str | None
    checksum: str | None
    verified_by: str | None = None
    md5: str | None = None
    etag: str | None = None

    @property
    def store_kept_no_checksum(self) -> bool:
        """At landing the store returned no checksum: its absence now is no finding."""
        return self.verified_by in LESSER_CHECKS

    @property
    def md5_is_etag(self) -> bool:
        """At landing the store's ETag was the MD5 of the bytes, so it can stand in for one."""
        return self.md5 is not None and self.md5 == self.etag


HEADS_IN_FLIGHT = 16


def verify_lake(
    store: Store,
    since: date | None = None,
    until: date | None = None,
    deep: bool = False,
    *,
    on_finding: Callable[[Finding], None] | None = None,
) -> VerifyReport:
    """Compare every claim of every manifest in range with the lake, then sweep for the rest."""
    report = VerifyReport(deep=deep, since=since, until=until)

    def found(finding: Finding) -> None:
        report.add(finding)
        if on_finding is not None:
            on_finding(finding)

    data_partitions = _data_partitions(store, since, until, report, found)
    manifests_by_day: dict[date, list[str]] = {}
    for key in manifest_keys(store, since, until):
        day = _manifest_day(key)
        manifests_by_day.setdefault(day, []).append(key)
    for day in sorted(set(manifests_by_day) | set(data_partitions)):
        report.partitions += 1
        claims = _claims_of_day(store, manifests_by_day.get(day, []), report, found)
        keys = sorted(claims)
        # The HEADs go out concurrently (a day of a backfill names thousands of objects); the
        # findings are still made one object at a time, in key order.
        with ThreadPoolExecutor(HEADS_IN_FLIGHT, thread_name_prefix="cinelake-verify") as pool:
            for key, info in zip(keys, pool.map(store.head, keys), strict=True):
                _check_claims(store, claims[key], deep, report, found, info=info)
        for prefix in sorted(data_partitions.get(day, ())):
            for info in store.list(prefix):
                if layout.partition_of(info.key) is None:
                    continue  # deeper than the layout allows: reported by the first pass
                report.scanned += 1
                if info.key not in claims:
                    found(Finding("unlisted", info.key, "no manifest names this object"))
    return report


def _manifest_day(key: str) -> date:
    day = manifest_day(key)
    if day is None:  # pragma: no cover - manifest_keys only yields dated keys
        raise ValueError(key)
    return day


def _data_partitions(
    store: Store,
    since: date | None,
    until: date | None,
    report: VerifyReport,
    found: Callable[[Finding], None],
) -> dict[date, set[str]]:
    """Which `<source>/YYYY/MM/DD/` prefixes hold data, from one streaming pass over `Raw/`.

    Only prefixes are kept (a few per day), so the pass is constant in the number of objects.
    Objects outside the raw layout are reported here: no manifest can vouch for them.
    """
    partitions: dict[date, set[str]] = {}
    unfiltered = since is None and until is None
    for info in store.list(f"{layout.RAW}/"):
        if layout.is_control_key(info.key):
            continue
        where = layout.partition_of(info.key)
        if where is not None:
            if in_range(where[1], since, until):
                partitions.setdefault(where[1], set()).add(info.key.rsplit("/", 1)[0] + "/")
            continue
        day = _loose_day(info)
        if (day is None and unfiltered) or (day is not None and in_range(day, since, until)):
            report.scanned += 1
            found(Finding("unlisted", info.key, "outside the raw layout; no manifest can name it"))
    return partitions


def _loose_day(info: ObjectInfo) -> date | None:
    match = _DATED.match(info.key)
    return layout.day_of(*match.group(1, 2, 3)) if match else None


def _claims_of_day(
    store: Store, keys: list[str], report: VerifyReport, found: Callable[[Finding], None]
) -> dict[str, list[_Claim]]:
    """The latest claims per key: a later run's `--overwrite` supersedes an earlier claim.

    Manifest times have one-second resolution, so claims finished in the same second as the
    latest are all kept: which of them came last cannot be told, and the object may match any.
    """
    claims: dict[str, list[_Claim]] = {}
    for key in keys:
        manifest = read_manifest(store, key)
        report.manifests += 1
        if manifest.data is None:
            found(Finding("unreadable-manifest", key, manifest.error or "unreadable"))
            continue
        for claim in _claims_of(manifest):
            if not layout.is_lake_key(claim.key):
                found(
                    Finding(
                        "unreadable-manifest",
                        key,
                        f"names {claim.key!r}, which is not a key of the raw zone",
                        claim.run_id,
                    )
                )
                continue
            group = claims.get(claim.key)
            if group is None or claim.order[0] > group[0].order[0]:
                claims[claim.key] = [claim]
            elif claim.order[0] == group[0].order[0]:
                group.append(claim)
    return claims


def _claims_of(manifest: Manifest) -> Iterator[_Claim]:
    data = manifest.data or {}
    run_id = str(data["run_id"]) if data.get("run_id") else None
    for obj in manifest_objects(manifest):
        if obj.get("state") not in LANDED_STATES:
            continue
        yield _Claim(
            key=obj["key"],
            run_id=run_id,
            order=manifest.run_order,
            size=obj["bytes"] if isinstance(obj.get("bytes"), int) else None,
            sha256=_text(obj.get("sha256")),
            checksum_algorithm=_text(obj.get("checksum_algorithm")),
            checksum=_text(obj.get("checksum")),
            verified_by=_text(obj.get("verified_by")),
            md5=_text(obj.get("md5")),
            etag=_text(obj.get("etag")),
        )


class _Bytes:
    """The object's SHA-256, computed at most once however many claims ask for it."""

    def __init__(self, store: Store, key: str, report: VerifyReport) -> None:
        self.store = store
        self.key = key
        self.report = report
        self._sha256: str | None = None

    def sha256(self) -> str:
        if self._sha256 is None:
            self._sha256 = self.store.sha256_of(self.key)
            self.report.rehashed += 1
        return self._sha256


def _check_claims(
    store: Store,
    claims: list[_Claim],
    deep: bool,
    report: VerifyReport,
    found: Callable[[Finding], None],
    *,
    info: ObjectInfo | None,
) -> None:
    """One HEAD per object, at most one finding: the latest claim's, unless a tied one holds."""
    latest = max(claims, key=lambda c: c.order)
    report.checked += 1
    if info is None:
        found(
            Finding(
                "missing", latest.key, "named by its manifest, absent from the lake", latest.run_id
            )
        )
        return
    report.checked_bytes += info.size
    content = _Bytes(store, latest.key, report)
    try:
        verdicts = [_compare(info, claim, deep, content) for claim in claims]
    except FileNotFoundError:
        found(Finding("missing", latest.key, "vanished while being re-hashed", latest.run_id))
        return
    if any(v is None for v in verdicts):
        if not deep and not any(_comparable(info, c) for c in claims):
            if any(_md5_comparable(info, c) for c in claims):
                report.size_and_md5 += 1
            else:
                report.size_only += 1
        return
    found(verdicts[claims.index(latest)] or next(v for v in verdicts if v))


def _comparable(info: ObjectInfo, claim: _Claim) -> bool:
    return (
        bool(claim.checksum and claim.checksum_algorithm)
        and info.checksum is not None
        and info.checksum_algorithm == claim.checksum_algorithm
    )


def _md5_comparable(info: ObjectInfo, claim: _Claim) -> bool:
    """A single-part ETag (no `-N` suffix) against the MD5 recorded where it was the ETag."""
    return (
        claim.md5_is_etag
        and info.checksum is None
        and info.etag is not None
        and "-" not in info.etag
    )


def _compare(info: ObjectInfo, claim: _Claim, deep: bool, content: _Bytes) -> Finding | None:
    """What is wrong with the object against this claim, if anything: the most telling fact."""
    if claim.size is not None and info.size != claim.size:
        return Finding(
            "altered", claim.key, f"size {info.size} B, manifest says {claim.size} B", claim.run_id
        )
    problems: list[str] = []
    checksum_missing = (
        bool(claim.checksum) and info.checksum is None and not claim.store_kept_no_checksum
    )
    if _comparable(info, claim) and info.checksum != claim.checksum:
        problems.append(
            f"{claim.checksum_algorithm} {info.checksum}, manifest says {claim.checksum}"
        )
    if _md5_comparable(info, claim) and info.etag != claim.md5:
        problems.append(f"ETag {info.etag} is not the MD5 the manifest recorded ({claim.md5})")
    recorded_sha = info.metadata.get(META_SHA256)
    if recorded_sha and claim.sha256 and recorded_sha != claim.sha256:
        problems.append("the object's recorded SHA-256 differs from the manifest's")
    if deep and claim.sha256 and not problems:
        actual = content.sha256()
        if actual != claim.sha256:
            problems.append(f"SHA-256 of the bytes {actual}, manifest says {claim.sha256}")
        elif checksum_missing:
            # The bytes themselves were proven intact: a dropped checksum is no longer a doubt.
            checksum_missing = False
    if problems:
        return Finding("altered", claim.key, "; ".join(problems), claim.run_id)
    if checksum_missing:
        return Finding(
            "checksum-missing",
            claim.key,
            f"the lake returns no checksum; the manifest recorded {claim.checksum_algorithm} "
            f"{claim.checksum}; run verify --deep to re-hash the bytes",
            claim.run_id,
        )
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
