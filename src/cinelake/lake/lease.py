"""One runner per lake and source: a lease kept in the lake itself, under `Raw/_state/leases/`.

The lake's one atomic primitive is "create this key unless it exists" (`If-None-Match: *` on
S3, a hard link in a local lake), so every change of a lease (taken, renewed, released) is a
new object, `Raw/_state/leases/<source>/<generation>.json`, created that way. Of two runs that
read generation n and both write n + 1, exactly one succeeds and the other knows it lost; the
newest generation is the lease. Nothing is ever overwritten, so this holds on any backend that
honours conditional writes; on one that does not, the lease is only advisory, and the run says so.

A lease not renewed for `STALE_AFTER` is stale and the next run takes it over. A holder on this
very machine (same host, boot and process namespace) whose process is gone, as after `kill -9`,
is taken over at once: waiting two minutes for a dead local process helps nobody.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cinelake.errors import LeaseBusy, ObjectConflict, StoreError
from cinelake.lake import layout
from cinelake.store.base import Store

log = logging.getLogger(__name__)

LEASES = f"{layout.STATE}/leases"
STALE_AFTER = timedelta(minutes=2)
RENEW_EVERY_SECONDS = 30.0
"""A quarter of the stale age: three renewals may fail (a slow S3 call) before anyone may take
over."""

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def lease_prefix(source: str) -> str:
    layout.check_file_name(source)
    return f"{LEASES}/{source}/"


@dataclass(frozen=True)
class LeaseRecord:
    """One generation of a lease, as stored: who holds it, since when, and until when."""

    source: str
    owner: str
    host: str
    pid: int
    machine: str
    started_at: str
    renewed_at: str
    expires_at: str
    released: bool = False

    @property
    def holder(self) -> str:
        return f"run {self.owner} on {self.host} (pid {self.pid})"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, raw: bytes) -> LeaseRecord:
        data = json.loads(raw)
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


class Lease:
    """A lease this process holds; `keep_alive` renews it in the background until `release`."""

    def __init__(
        self, store: Store, record: LeaseRecord, generation: int, clock: Clock, advisory: bool
    ) -> None:
        self.store = store
        self.record = record
        self.generation = generation
        self.advisory = advisory
        self.lost = False
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def key(self) -> str:
        return _key(self.record.source, self.generation)

    def renew(self) -> bool:
        """Push the expiry forward; False once another run has taken the lease over."""
        now = self._clock()
        with self._lock:
            if self.lost:
                return False
            renewed = replace(self.record, renewed_at=_iso(now), expires_at=_iso(now + STALE_AFTER))
            return self._write_next(renewed)

    def release(self) -> None:
        """Stop renewing and mark the lease free; never raises (the run's outcome matters more)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if self.lost:
                return
            try:
                self._write_next(
                    replace(self.record, renewed_at=_iso(self._clock()), released=True)
                )
            except StoreError as exc:
                log.warning(
                    "could not release the %s lease (%s); the next run takes it over once it "
                    "is stale",
                    self.record.source,
                    exc,
                    extra={"event": "lease.release_failed", "key": self.key},
                )

    def keep_alive(self, on_lost: Callable[[], None]) -> None:
        """Renew every RENEW_EVERY_SECONDS from a daemon thread; `on_lost` if taken over."""
        self._thread = threading.Thread(
            target=self._renew_until_released, args=(on_lost,), name="lease", daemon=True
        )
        self._thread.start()

    def _renew_until_released(self, on_lost: Callable[[], None]) -> None:
        while not self._stop.wait(RENEW_EVERY_SECONDS):
            try:
                if self.renew():
                    continue
            except StoreError as exc:
                log.warning(
                    "could not renew the %s lease (%s); trying again in %.0f s",
                    self.record.source,
                    exc,
                    RENEW_EVERY_SECONDS,
                    extra={"event": "lease.renew_failed", "key": self.key},
                )
                continue
            on_lost()
            return

    def _write_next(self, record: LeaseRecord) -> bool:
        try:
            self.store.put_bytes(_key(record.source, self.generation + 1), record.to_json())
        except ObjectConflict:
            self.lost = True
            log.error(
                "another run took the %s lease over (this run was not renewing it); stopping "
                "at the next safe point",
                record.source,
                extra={"event": "lease.lost", "key": self.key},
            )
            return False
        self.generation += 1
        self.record = record
        return True


def acquire(store: Store, source: str, owner: str, *, clock: Clock = utc_now) -> Lease:
    """Take the lease of `source`, or raise `LeaseBusy` naming its live holder."""
    advisory = not store.honours_conditional_writes()
    if advisory:
        log.warning(
            "%s ignores conditional writes: the %s lease is only advisory, two runs starting "
            "at the same moment could both proceed",
            store.url,
            source,
            extra={"event": "lease.advisory"},
        )
    generation, current = _latest(store, source)
    now = clock()
    if current is not None and not current.released:
        why_free = _why_free(current, now)
        if why_free is None:
            raise LeaseBusy(source, current.holder, current.started_at, _key(source, generation))
        log.warning(
            "taking over the %s lease of %s, started %s: %s",
            source,
            current.holder,
            current.started_at,
            why_free,
            extra={"event": "lease.taken_over", "previous_owner": current.owner},
        )
    record = LeaseRecord(
        source=source,
        owner=owner,
        host=socket.gethostname(),
        pid=os.getpid(),
        machine=_machine(),
        started_at=_iso(now),
        renewed_at=_iso(now),
        expires_at=_iso(now + STALE_AFTER),
    )
    try:
        store.put_bytes(_key(source, generation + 1), record.to_json())
    except ObjectConflict:
        # Another run wrote the same generation first: it is the holder now.
        winner_generation, winner = _latest(store, source)
        holder = winner.holder if winner else "another run"
        started = winner.started_at if winner else _iso(now)
        raise LeaseBusy(source, holder, started, _key(source, winner_generation)) from None
    return Lease(store, record, generation + 1, clock, advisory)


def _why_free(current: LeaseRecord, now: datetime) -> str | None:
    """Why a lease nobody released may be taken over, or None while its holder may be alive."""
    expires = datetime.fromisoformat(current.expires_at)
    if expires <= now:
        return f"not renewed since {current.renewed_at} (stale after {STALE_AFTER.seconds} s)"
    if current.machine == _machine() and current.pid != os.getpid() and _gone(current.pid):
        return f"its process {current.pid} on this machine is gone"
    return None


def _latest(store: Store, source: str) -> tuple[int, LeaseRecord | None]:
    """The newest generation and its record; a damaged record counts as released."""
    last = None
    for info in store.list(lease_prefix(source)):
        last = info.key
    if last is None:
        return 0, None
    generation = int(last.rsplit("/", 1)[1].removesuffix(".json"))
    try:
        return generation, LeaseRecord.from_json(store.get_bytes(last))
    except (ValueError, TypeError, KeyError, FileNotFoundError):
        log.warning(
            "the lease record %s is unreadable; treating the lease as free",
            last,
            extra={"event": "lease.unreadable", "key": last},
        )
        return generation, None


def _key(source: str, generation: int) -> str:
    return f"{lease_prefix(source)}{generation:012d}.json"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it exists, under another user
        return False
    return False


def _machine() -> str:
    """This host, boot and PID namespace: where a PID means the same process as here."""
    parts = [socket.gethostname()]
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip())
    with contextlib.suppress(OSError):
        parts.append(str(Path("/proc/self/ns/pid").stat().st_ino))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
