"""A stand-in for the Lambda Invoke API that answers from a script, for moto's Step Functions.

moto runs a state machine's `lambda:invoke` Task through a boto3 client aimed at
`localhost:$MOTO_PORT`; pointing MOTO_PORT here lets a test decide each hop's answer: a
result, a function error (as the runtime reports an uncaught exception), or throttling (429
TooManyRequestsException, as Lambda answers when the reserved concurrency is in use).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class FunctionError:
    error_type: str
    message: str


@dataclass(frozen=True)
class Throttled:
    """Lambda's answer while the function's reserved concurrency is taken."""


Answer = dict[str, Any] | FunctionError | Throttled


class ScriptedLambda:
    """Answers invocations in order; the last answer repeats once the script runs out."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> ScriptedLambda:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self, event: dict[str, Any]) -> Answer:
        with self._lock:
            self.events.append(event)
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        script = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test asserts on recorded events."""

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = script._next(json.loads(raw or b"{}"))
                headers = {
                    "Content-Type": "application/json",
                    "x-amzn-RequestId": str(uuid.uuid4()),
                }
                status = 200
                if isinstance(answer, Throttled):
                    status = 429
                    headers["x-amzn-ErrorType"] = "TooManyRequestsException"
                    body: Any = {"Type": "User", "message": "Rate Exceeded."}
                elif isinstance(answer, FunctionError):
                    headers["X-Amz-Function-Error"] = "Unhandled"
                    body = {"errorType": answer.error_type, "errorMessage": answer.message}
                else:
                    body = answer
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
