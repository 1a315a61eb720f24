"""A local stand-in for TMDB API v3, so clients can be tested against faults on demand.

Real TMDB cannot be asked to fail, rate-limit or cut a connection when a test wants it to, and
the tests here have no internet. Every fault decision is a pure function of the seed, the
request (without credentials) and how many times it was asked, so a failing run replays
identically however the client's threads interleave.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import hmac
import json
import math
import os
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from random import Random
from types import FrameType
from typing import Any, Literal, cast
from urllib.parse import parse_qsl, urlencode, urlsplit

from cinelake.testing.tmdb_catalogue import (
    KNOWN_SUB_RESOURCES,
    Catalogue,
    JsonObject,
    Kind,
    details,
    discover_item,
    find_item,
    sub_resource,
)
from cinelake.testing.tmdb_find_shapes import FindHit, awkward_finds, check_hits, find_body

__all__ = [
    "AUTH_ERRORS",
    "Catalogue",
    "EmulatorConfig",
    "EmulatorStats",
    "Faults",
    "FindHit",
    "TmdbEmulator",
    "main",
]

RESET = 0
"""Pseudo-status for ``EmulatorConfig.scripted``: drop the connection with a TCP RST."""
TRUNCATE = 1
"""Pseudo-status for ``EmulatorConfig.scripted``: send half the body, then close."""

_ERRORS: dict[int, tuple[int, str]] = {
    400: (22, "Invalid page: Pages start at 1 and max at 500. They are expected to be an integer."),
    404: (34, "The resource you requested could not be found."),
    422: (20, "Invalid date range: Should be a range no longer than 14 days."),
    429: (25, "Your request count (#) is over the allowed limit of (40)."),
    500: (11, "Internal error: Something went wrong, contact TMDb."),
    503: (9, "Service offline: This service is temporarily offline, try again later."),
}
AUTH_ERRORS: dict[int, str] = {
    3: "Authentication failed: You do not have permissions to access the service.",
    7: "Invalid API key: You must be granted a valid key.",
    10: "Suspended API key: Access to your account has been suspended, contact TMDB.",
    14: "Authentication failed.",
    16: "Device denied.",
    17: "Session denied.",
    30: "Invalid username and/or password: You did not provide a valid login.",
    31: "Account disabled: Your account is no longer active. Contact TMDB if this is an error.",
    32: "Email not verified: Your email address has not been verified.",
    33: "Invalid request token: The request token is either expired or invalid.",
    35: "Invalid token.",
    36: "This token hasn't been granted write permission by the user.",
    38: "You don't have permission to edit this resource.",
    39: "This resource is private.",
}
"""Every `status_code` TMDB's error table (developer.themoviedb.org/docs/errors) lists with HTTP
401, with its message: ``EmulatorConfig.auth_error`` picks the one a refusal answers."""
_TOO_MANY_APPENDS = (
    27,
    "Too many append to response objects: The maximum number of remote calls is 20.",
)
_INVALID_PARAMETERS = (5, "Invalid parameters: Your request parameters are incorrect.")
_MAX_PAGE = 500
_DISCOVER_PAGE_SIZE = 20
_CHANGES_PAGE_SIZE = 100
_MAX_CHANGES_DAYS = 14
_MAX_APPENDS = 20
_DAILY_CHANGE_RATE = 0.03
_EXTERNAL_SOURCES = frozenset(
    {"imdb_id", "facebook_id", "instagram_id", "tvdb_id", "tiktok_id", "twitter_id", "wikidata"}
)
_IDLE_TIMEOUT_S = 120.0


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in 0..1, got {value!r}")


@dataclass(frozen=True)
class Faults:
    """Per-request probabilities (0..1) of each injected failure.

    500, 503, reset and truncate exclude one another (checked in that order); slow can
    come on top of any of them.
    """

    error_500: float = 0.0
    error_503: float = 0.0
    reset: float = 0.0
    truncate: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 2.0

    def __post_init__(self) -> None:
        for name in ("error_500", "error_503", "reset", "truncate", "slow"):
            _check_probability(name, getattr(self, name))
        if self.slow_seconds < 0:
            raise ValueError("slow_seconds must not be negative")


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes the emulator's answers; two equal configs answer identically."""

    api_key: str = "emulator-api-key"
    read_token: str = "emulator-read-token"  # noqa: S105 - a dummy for local tests
    rate_limit: float | None = None
    """Requests per second across all clients (token bucket, burst = rate); above it: 429."""
    retry_after: int | None = 1
    """``Retry-After`` value sent with a 429; None leaves the header out, as TMDB may."""
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    faults: Faults = Faults()
    seed: int = 0
    scripted: Mapping[str, Sequence[int]] = field(default_factory=dict)
    """Path (no query) -> statuses for its 1st, 2nd… requests, then normal.

    Besides HTTP statuses, 0 (``RESET``) drops the connection and 1 (``TRUNCATE``) cuts the body.
    """
    catalogue: Catalogue | None = None
    """None means the bundled sample catalogue matching ``data/sample/``."""
    raw_newline_ids: frozenset[int] = frozenset()
    """Movie ids whose details body is pretty-printed, to test clients that assume one line."""
    find_answers: Mapping[str, Sequence[FindHit]] = field(default_factory=dict)
    """IMDb id -> the hits its ``/find`` answer holds, instead of the catalogue's one hit of
    the id's own kind: other-kind, episode, season, person, several or no hits at all."""
    auth_error: int = 7
    """The TMDB ``status_code`` of the 401 body a refused credential (or a scripted 401) gets."""
    gzip: bool = False
    """Answer ``Content-Encoding: gzip`` to clients that accept it, as TMDB may."""
    changes_adult: tuple[bool | None, ...] = (False,)
    """``adult`` values of ``/changes`` items, taken in turn by id (TMDB sends true, false or
    null)."""

    def __post_init__(self) -> None:
        if self.auth_error not in AUTH_ERRORS:
            raise ValueError(f"auth_error {self.auth_error} is not a 401 status_code of TMDB's")
        if not self.changes_adult:
            raise ValueError("changes_adult needs at least one value")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError("rate_limit must be positive (or None for no limit)")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after must not be negative")
        if self.latency_ms < 0 or self.latency_jitter_ms < 0:
            raise ValueError("latency_ms and latency_jitter_ms must not be negative")
        for path, statuses in self.scripted.items():
            for status in statuses:
                if status not in (RESET, TRUNCATE) and not 100 <= status <= 599:
                    raise ValueError(f"scripted status {status!r} for {path!r} is not valid")


@dataclass(frozen=True)
class EmulatorStats:
    """A consistent snapshot of what the emulator has seen since start or the last reset.

    ``by_status`` counts a reset connection under 0 (no status was sent); a truncated
    reply counts under the status it announced. Paths never include credentials.
    """

    total_requests: int
    by_status: Counter[int]
    by_endpoint: Counter[str]
    rate_limited: int
    faults: Counter[str]
    paths: Counter[str]
    """Request paths without the query string."""
    requests: tuple[str, ...]
    """Every request as ``path?query`` (``api_key`` removed), in arrival order."""


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


_Action = Literal["respond", "reset", "truncate"]
_Outcome = tuple[_Action, _Reply]


@dataclass(frozen=True)
class _Request:
    path: str
    key: str
    """Path and sorted query without ``api_key``: what fault decisions are keyed on."""
    query: dict[str, str]
    n_path: int
    """How many times this path has been requested, this one included."""
    n_key: int
    api_keys: tuple[str, ...]
    authorization: str | None


def _encode(obj: JsonObject, pretty: bool = False) -> bytes:
    if pretty:
        return json.dumps(obj, ensure_ascii=False, indent=2).encode("utf-8")
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json(status: int, obj: JsonObject, pretty: bool = False) -> _Reply:
    return _Reply(status, _encode(obj, pretty))


def _auth_error(code: int) -> _Reply:
    return _error(401, (code, AUTH_ERRORS[code]))


def _error(status: int, code_message: tuple[int, str] | None = None) -> _Reply:
    code, message = code_message or _ERRORS.get(status) or (0, _phrase(status))
    if status == 401:  # TMDB orders this one body differently; clients may compare bytes.
        return _json(status, {"status_code": code, "status_message": message, "success": False})
    return _json(status, {"success": False, "status_code": code, "status_message": message})


def _unit(seed: int, label: str, key: str, n: int) -> float:
    """A uniform number in [0, 1) fixed by its inputs, so faults do not depend on thread order."""
    text = f"{seed}\x1f{label}\x1f{key}\x1f{n}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") / 2.0**64


def _endpoint_kind(path: str) -> str:
    parts = path.split("/")
    if len(parts) < 3 or parts[1] != "3":
        return "other"
    head = parts[2]
    if head in ("movie", "tv") and len(parts) == 4 and parts[3] == "changes":
        return "changes"
    if head in ("find", "movie", "tv", "discover"):
        return head
    return "other"


class _TokenBucket:
    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._capacity = max(rate, 1.0)
        self._tokens = self._capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not stall stop()
    request_queue_size = 256
    emulator: TmdbEmulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up mid-reply are expected here; a traceback would only be noise."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tmdb-emulator"
    sys_version = ""
    timeout = _IDLE_TIMEOUT_S

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._emulator()._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self._emulator()._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the access log would print request lines, and those carry the api_key."""

    def _emulator(self) -> TmdbEmulator:
        return cast(_Server, self.server).emulator

    def do_GET(self) -> None:
        self._drain_body()
        emulator = self._emulator()
        action, reply = emulator._handle(self.path, self.headers.get("Authorization"))
        if action == "reset":
            self._reset()
            return
        body = reply.body
        encoded = emulator.config.gzip and "gzip" in self.headers.get("Accept-Encoding", "")
        if encoded:
            body = gzip.compress(body, mtime=0)
        head = [f"HTTP/1.1 {reply.status} {_phrase(reply.status)}"]
        head.append(f"Date: {self.date_time_string()}")
        head.append(f"Server: {self.server_version}")
        head.append("Content-Type: application/json;charset=utf-8")
        if encoded:
            head.append("Content-Encoding: gzip")
        head.append(f"Content-Length: {len(body)}")
        head.extend(f"{name}: {value}" for name, value in reply.headers)
        if self.close_connection:
            head.append("Connection: close")
        payload = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if action == "truncate":
            self.wfile.write(payload + body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(payload + body)

    def _drain_body(self) -> None:
        length = self.headers.get("Content-Length")
        if length and length.isdigit():
            self.rfile.read(min(int(length), 1 << 20))

    def _reset(self) -> None:
        """Close with SO_LINGER 0 so the kernel sends RST, as a crashed proxy would."""
        self.close_connection = True
        conn = self.connection
        try:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # rfile (a makefile) holds a reference that would defer the real close; wfile does
            # not, and stays open because the base class flushes it after do_GET returns.
            self.rfile.close()
            conn.close()
        except OSError:
            pass


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class TmdbEmulator:
    """A threaded HTTP server answering like TMDB v3 under ``/3``.

    Use as a context manager, or call ``start()`` and ``stop()``.
    """

    def __init__(
        self, config: EmulatorConfig = EmulatorConfig(), host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config
        self.catalogue = config.catalogue if config.catalogue is not None else Catalogue.sample()
        check_hits(self.catalogue, config.find_answers)
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None
        self._stopping = threading.Event()
        self._bucket = _TokenBucket(config.rate_limit) if config.rate_limit else None
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._changes_cache: dict[tuple[Kind, date, date], tuple[int, ...]] = {}
        self._reset_counters()

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> str:
        if self._server is not None:
            raise RuntimeError("emulator already started")
        server = _Server((self._host, self._port), _Handler)
        server.emulator = self
        self._server = server
        self._stopping.clear()
        port = server.server_address[1]
        self._base_url = f"http://{self._host}:{port}/3"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.name = f"tmdb-emulator-{port}"
        self._thread.start()
        return self._base_url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # wake handlers parked on idle keep-alive connections
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> TmdbEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("emulator not started")
        return self._base_url

    # --- statistics ---------------------------------------------------------------------------

    def _reset_counters(self) -> None:
        self._total = 0
        self._by_status: Counter[int] = Counter()
        self._by_endpoint: Counter[str] = Counter()
        self._rate_limited = 0
        self._faults: Counter[str] = Counter()
        self._paths: Counter[str] = Counter()
        self._requests: list[str] = []
        self._seen_path: Counter[str] = Counter()
        self._seen_key: Counter[str] = Counter()

    def stats(self) -> EmulatorStats:
        with self._lock:
            return EmulatorStats(
                total_requests=self._total,
                by_status=Counter(self._by_status),
                by_endpoint=Counter(self._by_endpoint),
                rate_limited=self._rate_limited,
                faults=Counter(self._faults),
                paths=Counter(self._paths),
                requests=tuple(self._requests),
            )

    def reset_stats(self) -> None:
        """Also restarts the per-path request numbering, so scripted replies play again."""
        with self._lock:
            self._reset_counters()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # --- request handling ---------------------------------------------------------------------

    def _handle(self, raw_path: str, authorization: str | None) -> _Outcome:
        """Decide the outcome of one request; the handler only writes it out."""
        split = urlsplit(raw_path)
        path = split.path
        params = parse_qsl(split.query, keep_blank_values=True)
        api_keys = [v for k, v in params if k == "api_key"]
        clean = sorted((k, v) for k, v in params if k != "api_key")
        key = path + ("?" + urlencode(clean) if clean else "")
        query = dict(clean)
        kind = _endpoint_kind(path)
        with self._lock:
            self._total += 1
            self._by_endpoint[kind] += 1
            self._paths[path] += 1
            self._requests.append(key)
            self._seen_path[path] += 1
            self._seen_key[key] += 1
            n_path, n_key = self._seen_path[path], self._seen_key[key]

        request = _Request(path, key, query, n_path, n_key, tuple(api_keys), authorization)
        action, reply = self._decide(request)
        with self._lock:
            self._by_status[0 if action == "reset" else reply.status] += 1
            if reply.status == 429 and action == "respond":
                self._rate_limited += 1
        return action, reply

    def _decide(self, req: _Request) -> _Outcome:
        """Scripted replies win, then the rate limit, then auth, then random faults."""
        self._pause(self._latency_s(req.key, req.n_key))
        return (
            self._scripted(req)
            or self._gate(req)
            or self._injected_fault(req)
            or ("respond", self._route(req.path, req.query))
        )

    def _scripted(self, req: _Request) -> _Outcome | None:
        script = self.config.scripted.get(req.path, ())
        if req.n_path > len(script):
            return None
        self._count_fault("scripted")
        return self._fault_outcome(script[req.n_path - 1], req)

    def _fault_outcome(self, status: int, req: _Request) -> _Outcome:
        if status == RESET:
            return "reset", _Reply(0, b"")
        if status == TRUNCATE:
            return "truncate", self._route(req.path, req.query)
        return "respond", self._status_reply(status)

    def _gate(self, req: _Request) -> _Outcome | None:
        if self._bucket is not None and not self._bucket.take():
            return "respond", self._status_reply(429)
        if not self._authorised(req.api_keys, req.authorization):
            return "respond", _auth_error(self.config.auth_error)
        return None

    def _injected_fault(self, req: _Request) -> _Outcome | None:
        seed, faults = self.config.seed, self.config.faults
        if faults.slow and _unit(seed, "slow", req.key, req.n_key) < faults.slow:
            self._count_fault("slow")
            self._pause(faults.slow_seconds)
        # One draw split into consecutive bands keeps the four faults mutually exclusive.
        u = _unit(seed, "fault", req.key, req.n_key)
        for name, status, p in (
            ("500", 500, faults.error_500),
            ("503", 503, faults.error_503),
            ("reset", RESET, faults.reset),
            ("truncate", TRUNCATE, faults.truncate),
        ):
            if u < p:
                self._count_fault(name)
                return self._fault_outcome(status, req)
            u -= p
        return None

    def _status_reply(self, status: int) -> _Reply:
        reply = _auth_error(self.config.auth_error) if status == 401 else _error(status)
        if status == 429 and self.config.retry_after is not None:
            return _Reply(
                reply.status, reply.body, (("Retry-After", str(self.config.retry_after)),)
            )
        return reply

    def _count_fault(self, name: str) -> None:
        with self._lock:
            self._faults[name] += 1

    def _latency_s(self, key: str, n_key: int) -> float:
        cfg = self.config
        if not cfg.latency_ms and not cfg.latency_jitter_ms:
            return 0.0
        u = _unit(cfg.seed, "latency", key, n_key)
        return max(0.0, cfg.latency_ms + (2.0 * u - 1.0) * cfg.latency_jitter_ms) / 1000.0

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)  # returns early when stop() is called

    def _authorised(self, api_keys: tuple[str, ...], authorization: str | None) -> bool:
        cfg = self.config
        if any(hmac.compare_digest(k.encode(), cfg.api_key.encode()) for k in api_keys):
            return True
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() == "bearer":
                return hmac.compare_digest(token.strip().encode(), cfg.read_token.encode())
        return False

    # --- routes -------------------------------------------------------------------------------

    def _route(self, path: str, query: dict[str, str]) -> _Reply:
        parts = path.split("/")[1:]
        if len(parts) < 3 or parts[0] != "3":
            # Outside the API's versioned root the web server answers, not the API.
            return _Reply(404, b"Not Found", (("Content-Type", "text/plain"),))
        head, rest = parts[1], parts[2:]
        if head == "find" and len(rest) == 1:
            return self._find(rest[0], query)
        if head == "discover" and len(rest) == 1 and rest[0] in ("movie", "tv"):
            return self._discover(cast(Kind, rest[0]), query)
        if head in ("movie", "tv") and rest == ["changes"]:
            return self._changes(cast(Kind, head), query)
        if head in ("movie", "tv") and len(rest) in (1, 2, 3):
            return self._title_by_any_id(cast(Kind, head), rest, query)
        return _error(404)

    def _title_by_any_id(self, kind: Kind, rest: list[str], query: dict[str, str]) -> _Reply:
        """`/movie/550`, and `/movie/tt0137523`: observed on TMDB, not in its API reference.

        A movie answers by its IMDb id as by its TMDB id; `/tv/tt…` answers 404 there, as here.
        An id given `find_answers` answers as the first movie its `/find` names, or 404.
        """
        if rest[0].isdigit():
            return self._title(kind, int(rest[0]), rest[1:], query)
        if kind != "movie":
            return _error(404)
        if rest[0] in self.config.find_answers:  # the movie `/find` would name first, if any
            hits = [h for h in self.config.find_answers[rest[0]] if h.list_name == "movie_results"]
            if not hits:
                return _error(404)
            return self._title("movie", hits[0].tmdb_id, rest[1:], query)
        movie = self.catalogue.by_imdb_id("movie", rest[0])
        if movie is None:
            return _error(404)
        return self._title("movie", movie.tmdb_id, rest[1:], query)

    def _title(self, kind: Kind, tmdb_id: int, sub: list[str], query: dict[str, str]) -> _Reply:
        title = self.catalogue.by_tmdb_id(kind, tmdb_id)
        name = "/".join(sub)
        if title is None or (sub and name not in KNOWN_SUB_RESOURCES):
            return _error(404)
        if sub:
            return _json(200, sub_resource(title, name))
        appends = [a.strip() for a in query.get("append_to_response", "").split(",")]
        appends = [a for a in appends if a]
        if len(appends) > _MAX_APPENDS:
            return _error(400, _TOO_MANY_APPENDS)
        pretty = kind == "movie" and title.tmdb_id in self.config.raw_newline_ids
        return _json(200, details(title, list(dict.fromkeys(appends))), pretty=pretty)

    def _find(self, external_id: str, query: dict[str, str]) -> _Reply:
        source = query.get("external_source")
        if source not in _EXTERNAL_SOURCES:
            return _error(400, _INVALID_PARAMETERS)
        if source == "imdb_id" and external_id in self.config.find_answers:
            return _json(200, find_body(self.catalogue, self.config.find_answers[external_id]))
        movies: list[JsonObject] = []
        shows: list[JsonObject] = []
        if source == "imdb_id":
            movie = self.catalogue.by_imdb_id("movie", external_id)
            show = self.catalogue.by_imdb_id("tv", external_id)
            movies = [find_item(movie)] if movie else []
            shows = [find_item(show)] if show else []
        return _json(
            200,
            {
                "movie_results": movies,
                "person_results": [],
                "tv_results": shows,
                "tv_episode_results": [],
                "tv_season_results": [],
            },
        )

    @staticmethod
    def _page(query: dict[str, str]) -> int | None:
        raw = query.get("page", "1")
        if not raw.isdigit():
            return None
        page = int(raw)
        return page if 1 <= page <= _MAX_PAGE else None

    def _discover(self, kind: Kind, query: dict[str, str]) -> _Reply:
        page = self._page(query)
        if page is None:
            return _error(400)
        total = self.catalogue.count(kind)
        total_pages = min(math.ceil(total / _DISCOVER_PAGE_SIZE), _MAX_PAGE)
        results: list[JsonObject] = []
        if page <= total_pages:
            start = (page - 1) * _DISCOVER_PAGE_SIZE
            stop = min(start + _DISCOVER_PAGE_SIZE, total)
            results = [discover_item(self.catalogue.at(kind, i)) for i in range(start, stop)]
        return _json(
            200,
            {"page": page, "results": results, "total_pages": total_pages, "total_results": total},
        )

    def _changes(self, kind: Kind, query: dict[str, str]) -> _Reply:
        page = self._page(query)
        if page is None:
            return _error(400)
        try:
            end = _parse_date(query.get("end_date")) or datetime.now(UTC).date()
            start = _parse_date(query.get("start_date")) or end - timedelta(days=1)
        except ValueError:
            return _error(400, _INVALID_PARAMETERS)
        if start > end or (end - start).days > _MAX_CHANGES_DAYS:
            return _error(422)
        ids = self._changed_ids(kind, start, end)
        total_pages = math.ceil(len(ids) / _CHANGES_PAGE_SIZE)
        first = (page - 1) * _CHANGES_PAGE_SIZE
        adult = self.config.changes_adult
        results = [
            {"id": i, "adult": adult[i % len(adult)]}
            for i in ids[first : first + _CHANGES_PAGE_SIZE]
        ]
        return _json(
            200,
            {
                "results": results,
                "page": page,
                "total_pages": total_pages,
                "total_results": len(ids),
            },
        )

    def _changed_ids(self, kind: Kind, start: date, end: date) -> tuple[int, ...]:
        """Ids changed in [start, end]: a seeded sample per day, cheap even for 50,000 titles."""
        cache_key = (kind, start, end)
        with self._lock:
            cached = self._changes_cache.get(cache_key)
        if cached is not None:
            return cached
        total = self.catalogue.count(kind)
        per_day = min(total, max(1, round(total * _DAILY_CHANGE_RATE))) if total else 0
        indices: set[int] = set()
        day = start
        while day <= end:
            # Reproducible, not secret: a seeded PRNG is the point here.
            rng = Random(f"{self.config.seed}:{kind}:changes:{day.isoformat()}")  # noqa: S311
            indices.update(rng.sample(range(total), per_day))
            day += timedelta(days=1)
        ids = tuple(sorted(self.catalogue.tmdb_id_at(kind, i) for i in indices))
        with self._lock:
            if len(self._changes_cache) > 256:
                self._changes_cache.clear()
            self._changes_cache[cache_key] = ids
        return ids


def _parse_date(raw: str | None) -> date | None:
    if raw is None or raw == "":
        return None
    return date.fromisoformat(raw) if len(raw) == 10 else _bad_date()


def _bad_date() -> date:
    raise ValueError("dates must be YYYY-MM-DD")


# --- command line ---------------------------------------------------------------------------


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m cinelake.testing.tmdb_emulator",
        description="Serve a local TMDB v3 emulator until SIGTERM or SIGINT.",
    )
    defaults = EmulatorConfig()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--api-key",
        default=defaults.api_key,
        help="accepted v3 api_key, for TMDB_API_KEY (default: %(default)s)",
    )
    parser.add_argument(
        "--read-token",
        default=defaults.read_token,
        help="accepted v4 Bearer token, for TMDB_READ_ACCESS_TOKEN (default: %(default)s)",
    )
    parser.add_argument("--rate-limit", type=float, default=None, help="requests/s; default none")
    parser.add_argument(
        "--retry-after", default="1", help="seconds sent in Retry-After on 429, or 'none'"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--latency-jitter-ms", type=float, default=0.0)
    for name in ("500", "503", "reset", "truncate", "slow"):
        parser.add_argument(
            f"--fault-{name}", type=float, default=0.0, metavar="P", help="probability per request"
        )
    parser.add_argument("--slow-seconds", type=float, default=Faults().slow_seconds)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--synthetic", default=None, metavar="N_MOVIES,N_TV", help="serve a synthetic catalogue"
    )
    parser.add_argument(
        "--awkward-finds",
        action="store_true",
        help="answer /find in every shape TMDB uses: other kind, episode, season, several, none",
    )
    parser.add_argument("--gzip", action="store_true", help="gzip-encode answers when accepted")
    parser.add_argument(
        "--auth-error", type=int, default=7, help="status_code of the 401 body (default 7)"
    )
    parser.add_argument(
        "--changes-adult",
        default="false",
        help="comma-separated adult values of /changes items: true, false, null",
    )
    parser.add_argument("--ready-file", type=Path, default=None, help="write the base URL here")
    return parser.parse_args(argv)


def _config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    retry_after = None if str(args.retry_after).lower() == "none" else int(args.retry_after)
    catalogue = None
    if args.synthetic:
        n_movies, _, n_tv = str(args.synthetic).partition(",")
        catalogue = Catalogue.synthetic(int(n_movies), int(n_tv or 0), seed=args.seed)
    find_answers: dict[str, tuple[FindHit, ...]] = {}
    if args.awkward_finds:
        awkward = awkward_finds(catalogue or Catalogue.sample())
        catalogue, find_answers = awkward.catalogue, awkward.find_answers
    adult_values = {"true": True, "false": False, "null": None}
    try:
        changes_adult = tuple(adult_values[v.strip()] for v in args.changes_adult.split(","))
    except KeyError:
        raise ValueError("--changes-adult takes true, false and null, comma-separated") from None
    return EmulatorConfig(
        api_key=args.api_key,
        read_token=args.read_token,
        rate_limit=args.rate_limit,
        retry_after=retry_after,
        latency_ms=args.latency_ms,
        latency_jitter_ms=args.latency_jitter_ms,
        faults=Faults(
            error_500=args.fault_500,
            error_503=args.fault_503,
            reset=args.fault_reset,
            truncate=args.fault_truncate,
            slow=args.fault_slow,
            slow_seconds=args.slow_seconds,
        ),
        seed=args.seed,
        catalogue=catalogue,
        find_answers=find_answers,
        auth_error=args.auth_error,
        gzip=args.gzip,
        changes_adult=changes_adult,
    )


def _write_atomically(path: Path, text: str) -> None:
    """A watcher polling for the file must never read it half-written."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        config = _config_from_args(args)
    except ValueError as exc:
        print(f"tmdb emulator: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with TmdbEmulator(config, host=args.host, port=args.port) as emulator:
        if args.ready_file is not None:
            _write_atomically(args.ready_file, emulator.base_url + "\n")
        print(f"TMDB emulator listening on {emulator.base_url}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
