"""What the manifests of a date say was landed at a key: the SHA-256, size and ETag of it.

A re-run must tell whether a taken key holds the file's bytes. Where the object carries
neither its SHA-256 (multipart uploads cannot) nor a checksum the store returns, the only other
way is to read the object back, in full. The manifest recorded the SHA-256 of what was landed
and the ETag the store gave it. An overwrite with other bytes changes the ETag (it derives
from the bytes, or is new for every write), so an unchanged ETag and size mean the bytes are
still those the SHA-256 describes.
"""

from __future__ import annotations

from datetime import date

from cinelake.lake.status import (
    LANDED_STATES,
    manifest_keys,
    manifest_objects,
    read_manifest,
)
from cinelake.store.base import Recorded, RecordLookup, Store


def recorded_landings(store: Store, day: date) -> RecordLookup:
    """A lookup of the latest recorded landing of a key of `day`.

    It reads the date's manifests only when asked, which the store does only for a taken key
    it cannot compare otherwise, and holds one manifest in memory at a time.
    """

    def lookup(key: str) -> Recorded | None:
        latest: tuple[tuple[str, int, str], Recorded] | None = None
        for manifest_key in manifest_keys(store, day, day):
            manifest = read_manifest(store, manifest_key)
            for obj in manifest_objects(manifest):
                if obj["key"] != key or obj.get("state") not in LANDED_STATES:
                    continue
                sha, size, etag = obj.get("sha256"), obj.get("bytes"), obj.get("etag")
                if not (isinstance(sha, str) and isinstance(size, int) and isinstance(etag, str)):
                    continue
                if latest is None or manifest.run_order >= latest[0]:
                    latest = (manifest.run_order, Recorded(sha, size, etag))
        return latest[1] if latest else None

    return lookup
