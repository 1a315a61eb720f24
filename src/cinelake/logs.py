"""Logging for people and machines, configured only by entry points.

Modules log with stable event names in `extra={"event": ...}`; this module decides how that
looks (text for people, one JSON object per line for machines) and scrubs every known secret
value from every record, whatever code produced it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("x", 0, "x", 0, "x", None, None)).keys() | {"message", "asctime"}
)
REDACTED = "***"


_run_id: str | None = None


def set_run_id(run_id: str | None) -> None:
    """Tag every later record with the run id; a global, because worker threads log too."""
    global _run_id  # noqa: PLW0603 - one run per process at a time, by design
    _run_id = run_id


class SecretFilter(logging.Filter):
    """Replace known secret values in messages and extra fields before any handler sees them."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets: tuple[str, ...] = ()
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        """Values shorter than 4 characters cannot be scrubbed without mangling every line.

        Each secret is also scrubbed as `repr`, JSON and bytes would escape it, and line by
        line: a message quoting it escaped, or split over lines, must not show it either.
        """
        forms = {form for secret in secrets if secret for form in _forms(secret)}
        self.secrets = tuple(sorted({f for f in forms if len(f) >= 4}, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if _run_id and not hasattr(record, "run_id"):
            record.run_id = _run_id
        if self.secrets:
            if record.exc_info and record.exc_info[0] is not None:
                record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.msg = self.scrub(record.getMessage())
            record.args = None
            for name, value in list(vars(record).items()):
                if name not in _STANDARD_ATTRS and isinstance(value, str):
                    setattr(record, name, self.scrub(value))
        return True


def _forms(secret: str) -> set[str]:
    escaped = {
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret.encode("utf-8", "backslashreplace"))[2:-1],
    }
    return escaped | {line.strip() for line in secret.splitlines()}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", record.name),
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRS and name not in payload:
                payload[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            payload["exception"] = record.exc_info[0].__name__
        return json.dumps(payload, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        line = f"cinelake: {prefix}{record.getMessage()}"
        if record.exc_info and record.exc_info[0] is not None:
            line += "\n" + (record.exc_text or self.formatException(record.exc_info))
        return line


def configure_logging(
    *,
    verbosity: int = 0,
    json_format: bool = False,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> SecretFilter:
    """`verbosity`: -1 quiet (errors only), 0 warnings, 1 info, 2 debug."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    if json_format and verbosity == 0:
        level = logging.INFO
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
    secret_filter = SecretFilter(secrets)
    handler.addFilter(secret_filter)
    root = logging.getLogger("cinelake")
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return secret_filter


EMF_NAMESPACE = "cinelake"


def emf_fields(
    dimensions: Mapping[str, str],
    metrics: Mapping[str, tuple[float, str]],
    *,
    timestamp_ms: int | None = None,
) -> dict[str, Any]:
    """Extra fields that make a JSON log line a CloudWatch Embedded Metric Format document.

    CloudWatch Logs (a Lambda function's log stream, or any agent shipping the line) turns the
    line into metrics; no SDK call, no `PutMetricData` permission, no dependency. `metrics`
    maps a name to its value and unit. Elsewhere the line stays a plain JSON log record.
    """
    moment = timestamp_ms if timestamp_ms is not None else int(datetime.now(UTC).timestamp() * 1000)
    return {
        "_aws": {
            "Timestamp": moment,
            "CloudWatchMetrics": [
                {
                    "Namespace": EMF_NAMESPACE,
                    "Dimensions": [sorted(dimensions)],
                    "Metrics": [
                        {"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()
                    ],
                }
            ],
        },
        **dimensions,
        **{name: value for name, (value, _) in metrics.items()},
    }
