"""A stand-in for the Lambda Runtime API (2018-06-01), enough for awslambdaric.

The real service blocks `next` until an invocation arrives and collects one response or error
per request id; an init error ends the sandbox. Only that contract is modelled.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
INVOKE_PREFIX = "/2015-03-31/functions/"
"""The Lambda Invoke API path (synchronous): served here too, so a caller such as moto's Step
Functions reaches this sandbox."""
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:cinelake-test-tmdb"


@dataclass(frozen=True)
class Outcome:
    """What the runtime posted back: `kind` is "response", "error" or "init_error"."""

    kind: str
    body: Any
    error_type: str | None


class RuntimeApi:
    """Serves one sandbox; `invoke` queues an event and waits for its outcome."""

    def __init__(self, timeout_ms: int = 900_000) -> None:
        self.timeout_ms = timeout_ms
        self._events: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._outcomes: dict[str, Outcome] = {}
        self._init_error: Outcome | None = None
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def invoke(self, event: Any, wait_s: float = 60.0) -> Outcome:
        """Queue `event`; return its outcome, or the init error if the sandbox never got ready."""
        request_id = str(uuid.uuid4())
        self._events.put((request_id, json.dumps(event).encode()))
        with self._changed:
            ready = self._changed.wait_for(
                lambda: request_id in self._outcomes or self._init_error is not None, wait_s
            )
        if not ready:
            raise TimeoutError(f"no outcome for request {request_id} within {wait_s} s")
        return self._outcomes.get(request_id) or self._init_error  # type: ignore[return-value]

    def wait_for_outcomes(self, count: int, wait_s: float = 120.0) -> list[Outcome]:
        """Outcomes of every invocation so far (Invoke API calls included), once `count` exist."""
        with self._changed:
            ready = self._changed.wait_for(lambda: len(self._outcomes) >= count, wait_s)
            if not ready:
                raise TimeoutError(f"only {len(self._outcomes)} outcomes within {wait_s} s")
            return list(self._outcomes.values())

    def _record(self, request_id: str | None, outcome: Outcome) -> None:
        with self._changed:
            if request_id is None:
                self._init_error = outcome
            else:
                self._outcomes[request_id] = outcome
            self._changed.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Keep pytest output clean; outcomes are asserted, not logged."""

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    self.send_error(404)
                    return
                request_id, body = api._events.get()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                deadline = int(time.time() * 1000) + api.timeout_ms
                self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN)
                self.send_header("Lambda-Runtime-Trace-Id", f"Root=1-{uuid.uuid4().hex[:24]}")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.startswith(INVOKE_PREFIX):
                    outcome = api.invoke(json.loads(raw or b"null"))  # RequestResponse
                    body = json.dumps(outcome.body).encode()
                    self.send_response(200)
                    if outcome.kind != "response":
                        self.send_header("X-Amz-Function-Error", "Unhandled")
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                payload = json.loads(raw or b"null")
                error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                parts = self.path.removeprefix(PREFIX).strip("/").split("/")
                if parts == ["init", "error"]:
                    api._record(None, Outcome("init_error", payload, error_type))
                elif (
                    len(parts) == 3
                    and parts[0] == "invocation"
                    and parts[2]
                    in {
                        "response",
                        "error",
                    }
                ):
                    api._record(parts[1], Outcome(parts[2], payload, error_type))
                else:
                    self.send_error(404)
                    return
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler
