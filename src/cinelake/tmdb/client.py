"""A TMDB client that returns bodies exactly as received and never lets a credential escape.

It retries what is worth retrying (429, 5xx, resets, timeouts, truncated bodies) within a
bounded policy, stops the whole run on 401, and reports every other answer to the caller,
which decides what lands where. Error messages name the endpoint without the query string.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from cinelake.errors import ConfigError, TmdbAuthError
from cinelake.tmdb.ratelimit import TokenBucket
from cinelake.tmdb.retry import RETRYABLE_STATUSES, RetryPolicy, parse_retry_after

log = logging.getLogger(__name__)

_MAX_QUOTED = 200
"""TMDB's own words are quoted, never a whole body someone put behind its address."""


@dataclass(frozen=True)
class TmdbAnswer:
    """One final answer for one endpoint, after retries."""

    endpoint: str
    status: int | None
    body: bytes
    attempts: int
    error: str | None = None
    never_connected: bool = False
    """The last attempt could not even open a connection: TMDB, not this item, is out of reach."""

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None

    def tmdb_status(self) -> tuple[int | None, str | None]:
        """TMDB's own `status_code` / `status_message`, when the body carries them."""
        try:
            parsed = json.loads(self.body)
        except ValueError:
            return None, None
        if not isinstance(parsed, dict):
            return None, None
        code = parsed.get("status_code")
        message = parsed.get("status_message")
        return (
            code if isinstance(code, int) else None,
            message if isinstance(message, str) else None,
        )


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    throttled: int = 0


class TmdbClient:
    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        read_token: str | None = None,
        rate: float = 35.0,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        pool_size: int = 16,
        session: requests.Session | None = None,
        stop: Callable[[], bool] = lambda: False,
    ) -> None:
        if not api_key and not read_token:
            raise ConfigError(
                "no TMDB credential: set TMDB_API_KEY (v3 key) or TMDB_READ_ACCESS_TOKEN "
                "(v4 read token) in .env or the environment"
            )
        try:
            parts = urlsplit(base_url)
            port_ok = parts.port is None or parts.port > 0
        except ValueError:  # `http://[::1/3`, a port above 65535
            parts, port_ok = urlsplit(""), False
        if parts.scheme not in {"http", "https"} or not parts.hostname or not port_ok:
            raise ConfigError(
                "TMDB_BASE_URL (or --tmdb-base-url) is not an http:// or https:// URL with a "
                "host: use https://api.themoviedb.org/3 or your emulator's address"
            )
        self.base_url = base_url.rstrip("/")
        self._params = {} if read_token else {"api_key": api_key or ""}
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "cinelake"
        if read_token:
            self.session.headers["Authorization"] = f"Bearer {read_token}"
        self.limiter = TokenBucket(rate)
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.stop = stop
        self.remaining: Callable[[], float] = lambda: float("inf")
        self.stats = ClientStats()
        self._stats_lock = threading.Lock()
        self._secrets = tuple(s for s in (api_key, read_token) if s)
        self._refusal: str | None = None  # set by the first 401: no worker sends another request
        self._not_the_api = False  # set by the first 404 that is not TMDB's: likewise

    def get(self, path: str, params: Mapping[str, str] | None = None) -> TmdbAnswer:
        """GET `path` (e.g. `/movie/550`); raises only on 401, which ends the run."""
        endpoint = f"{path}?{_query(params)}" if params else path
        started = time.monotonic()
        attempt = 0
        last_status: int | None = None
        last_body = b""
        last_error: str | None = None
        answered = False
        never_connected = False
        while True:
            attempt += 1
            if not self.limiter.acquire(self.remaining):
                return TmdbAnswer(
                    endpoint, last_status, last_body, attempt - 1, "interrupted", never_connected
                )
            if self._refusal is not None:
                raise TmdbAuthError(self._refusal)
            if self._not_the_api:
                raise ConfigError(_not_the_api(self.base_url))
            self._count("requests")
            retry_after: float | None = None
            timeout = max(0.5, min(self.timeout, self.remaining()))
            try:
                response = self.session.get(
                    f"{self.base_url}{path}",
                    params={**(params or {}), **self._params},
                    timeout=timeout,
                )
                body = response.content
                answered, never_connected = True, False
                last_status = response.status_code
                last_body = body
                last_error = _truncation(response, body)
                if last_error is None and response.status_code == 401:
                    self._refusal = self._refusal or self._refusal_message(body)
                    raise TmdbAuthError(self._refusal)
                if response.status_code == 404 and not _tmdb_not_found(body):
                    self._not_the_api = True
                    raise ConfigError(_not_the_api(self.base_url))
                if last_error is None and response.status_code not in RETRYABLE_STATUSES:
                    return TmdbAnswer(endpoint, response.status_code, body, attempt)
                if response.status_code == 429:
                    self._count("throttled")
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
            except requests.RequestException as exc:
                last_status, last_body = None, b""
                last_error = _describe(exc)
                # A connect timeout our deadline shortened says nothing about TMDB itself.
                never_connected = (
                    not answered
                    and _never_connected(exc)
                    and not (isinstance(exc, requests.Timeout) and timeout < self.timeout)
                )
            elapsed = time.monotonic() - started
            if attempt >= self.policy.max_attempts or elapsed >= self.policy.max_seconds:
                break
            if self.stop():
                return TmdbAnswer(
                    endpoint, last_status, last_body, attempt, "interrupted", never_connected
                )
            wait = self.policy.delay(attempt, retry_after)
            if last_status == 429:
                self.limiter.pause(wait)
            self._count("retries")
            log.debug(
                "retrying %s after %s",
                endpoint,
                last_error or last_status,
                extra={"event": "tmdb.retry", "endpoint": endpoint, "attempt": attempt},
            )
            time.sleep(max(0.0, min(wait, self.remaining())))
        return TmdbAnswer(
            endpoint,
            last_status,
            last_body,
            attempt,
            last_error or f"HTTP {last_status}",
            never_connected,
        )

    def _refusal_message(self, body: bytes) -> str:
        """The message of a 401, quoting TMDB's own `status_code` and `status_message`.

        TMDB has several 401s (invalid key, suspended key, invalid token, denied session...), and
        only its own words tell them apart. The credential is scrubbed from the quote all the
        same: a proxy in front of TMDB could echo the request back.
        """
        code, message = TmdbAnswer("", 401, body, 1).tmdb_status()
        said = "no TMDB status in the body"
        if code is not None or message:
            text = " ".join((message or "").split())[:_MAX_QUOTED]
            for secret in self._secrets:
                text = text.replace(secret, "***")
            said = f"status_code {code}, status_message {text!r}"
        return (
            f"TMDB refused the credential (HTTP 401, {said}): check TMDB_API_KEY or "
            "TMDB_READ_ACCESS_TOKEN; no further request was sent"
        )

    def _count(self, name: str) -> None:
        with self._stats_lock:
            setattr(self.stats, name, getattr(self.stats, name) + 1)

    def close(self) -> None:
        self.session.close()


def _tmdb_not_found(body: bytes) -> bool:
    """TMDB says "not found" in its own words (`status_code` 34); a web server, a proxy or
    another API at the wrong address does not, and its 404 must not seal a title as missing."""
    return TmdbAnswer("", 404, body, 1).tmdb_status()[0] == 34


def _not_the_api(base_url: str) -> str:
    return (
        f"TMDB_BASE_URL {base_url}: answered 404 without TMDB's error body, so it is not TMDB's "
        "API; the URL must end in the API version, e.g. https://api.themoviedb.org/3; nothing "
        "more was asked and no title was recorded as not found"
    )


def _query(params: Mapping[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items())


def _truncation(response: requests.Response, body: bytes) -> str | None:
    """JSON that does not parse is a truncated body (urllib3 already enforces Content-Length,
    on the wire bytes, so a gzip-encoded answer is not mistaken for a short one)."""
    if response.status_code == 200:
        try:
            json.loads(body)
        except ValueError:
            return "truncated or malformed JSON body"
    return None


_FAILURE_NAMES: tuple[tuple[type[requests.RequestException], str], ...] = (
    (requests.ConnectTimeout, "timeout while connecting"),
    (requests.Timeout, "timeout"),
    (requests.exceptions.ChunkedEncodingError, "truncated body (connection closed mid-body)"),
    (requests.exceptions.SSLError, "TLS handshake failed"),
    (requests.exceptions.ProxyError, "the proxy could not be reached"),
)


def _describe(exc: requests.RequestException) -> str:
    """Name the failure class only: requests' messages embed the URL and its api_key."""
    for kind, name in _FAILURE_NAMES:
        if isinstance(exc, kind):
            return name
    if isinstance(exc, requests.ConnectionError):
        if _never_connected(exc):
            return "connection refused or host not found"
        return "connection reset or closed"
    return type(exc).__name__


def _never_connected(exc: requests.RequestException) -> bool:
    """Refused, unresolvable, timed out while connecting, no TLS session, no proxy: the request
    never reached TMDB, whatever it asked for."""
    if isinstance(
        exc,
        (requests.ConnectTimeout, requests.exceptions.SSLError, requests.exceptions.ProxyError),
    ):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)
