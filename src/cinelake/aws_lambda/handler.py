"""AWS Lambda entry point: a thin shell over the same engine as `cinelake ingest-tmdb`.

The handler turns an event into a `TmdbIngestRequest`, gives the engine a deadline 60 s short
of Lambda's, and, when asked to, re-invokes its own function to continue a partial plan. An
empty or scheduled event runs the daily job (`ingest-tmdb --daily`); every hop's summary says
whether work remains (`work_remains`).
Settings and the TMDB credential are read once per container, not once per invocation.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from cinelake.errors import CinelakeError, ConfigError, InputError, TmdbAuthError
from cinelake.logs import SecretFilter, configure_logging
from cinelake.settings import Settings, load_settings
from cinelake.tmdb.engine import Deadline
from cinelake.tmdb.plans import DEFAULT_APPEND
from cinelake.tmdb.request import PLANS, PlanName, TmdbIngestRequest

if TYPE_CHECKING:
    from cinelake.store.base import Store

log = logging.getLogger("cinelake.lambda")

SAFETY_MARGIN_SECONDS = 60.0
MAX_HOPS = 48
"""48 continuations of 15 minutes: half a day of ingestion before a human must look."""


class LambdaContext(Protocol):
    function_name: str
    invoked_function_arn: str
    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int: ...


_container: dict[str, Any] = {}


def handler(event: Mapping[str, Any] | None, context: LambdaContext) -> dict[str, Any]:
    settings, scrubber = _container_settings()
    event = dict(event or {})
    hop = 0
    try:
        hop = _int(event.get("hop", 0), "hop")
        daily = is_daily(event)
        request = request_from_event(event, datetime.now(UTC).date())
        remaining = context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS
        if remaining <= 0:
            raise ConfigError(
                "the function timeout leaves no time after the 60 s safety margin; "
                "set Timeout to 900 s"
            )
        from cinelake.store import open_store

        summary = _run(request, daily, settings, open_store(settings), Deadline(remaining))
    except CinelakeError as exc:
        if isinstance(exc, TmdbAuthError):
            _container.clear()  # the secret may have been rotated: read it again next time
        log.error(scrubber.scrub(str(exc)), extra={"event": "lambda.failed", "hop": hop})
        raise
    summary.update(hop=hop, continued=False)
    if summary["work_remains"]:
        summary["continued"] = _continue(event, request, hop, context, settings)
    log.info(
        "ingest-tmdb %s %s: %s landed, %s failed",
        summary["plan"],
        summary["status"],
        summary["counts"].get("landed", 0),
        summary["counts"].get("failed", 0),
        extra={"event": "lambda.finished", "run_id": summary["run_id"], "hop": hop},
    )
    return summary


def _run(
    request: TmdbIngestRequest, daily: bool, settings: Settings, store: Store, deadline: Deadline
) -> dict[str, Any]:
    """One hop's work and its summary; `work_remains` is the whole contract with the caller.

    Whoever drives the hops (this function's own continuation, or a state machine) calls
    again with the same event while `work_remains` is true; each hop resumes from the lake.
    """
    from cinelake.tmdb.daily import run_daily
    from cinelake.tmdb.service import run_tmdb_ingest

    if daily:
        result = run_daily(request, settings=settings, store=store, deadline=deadline)
        counts: dict[str, int] = {}
        for run in result.manifests:
            for name in ("requested", "landed", "not_found", "failed"):
                counts[name] = counts.get(name, 0) + int(run.counts.get(name, 0))
        last = result.manifests[-1] if result.manifests else None
        return {
            "run_id": last.run_id if last else None,
            "status": result.status,
            "date": request.run_date.isoformat(),
            "plan": "daily",
            "counts": counts,
            "manifest": last.key if last else None,
            "files": sum(len(run.objects) for run in result.manifests),
            "runs": [
                {
                    "plan": run.options.get("plan"),
                    "date": run.partition_date.isoformat(),
                    "status": run.status,
                    "manifest": run.key,
                    "counts": run.counts,
                }
                for run in result.manifests
            ],
            "notes": result.notes,
            "work_remains": result.work_remains,
        }
    manifest = run_tmdb_ingest(request, settings=settings, store=store, deadline=deadline)
    return {
        "run_id": manifest.run_id,
        "status": manifest.status,
        "date": request.run_date.isoformat(),
        "plan": request.plan,
        "counts": manifest.counts,
        "manifest": manifest.key,
        "files": len(manifest.objects),
        "work_remains": bool(manifest.counts.get("stopped_early")),
    }


def is_daily(event: Mapping[str, Any]) -> bool:
    """An empty event, a scheduled one, or `{"plan": "daily"}` runs the daily job."""
    return _is_scheduled(event) or str(event.get("plan", "daily")) == "daily"


def _is_scheduled(event: Mapping[str, Any]) -> bool:
    return event.get("source") == "aws.events" or event.get("detail-type") == "Scheduled Event"


def request_from_event(event: Mapping[str, Any], today: date) -> TmdbIngestRequest:
    """Event fields use the CLI's names; an empty or scheduled event is the daily job.

    A scheduled event's run date is the day of its `time` (when EventBridge fired it), so a
    delivery retried after midnight still works for the day it was meant for.
    """
    if _is_scheduled(event):
        fired = str(event.get("time") or "")[:10]
        event = {"date": fired} if fired else {}
    plan = str(event.get("plan", "daily"))
    if plan == "daily":
        plan = "refresh"
    if plan not in PLANS:
        raise InputError(f"event plan {plan!r}: use daily or one of {', '.join(PLANS)}")
    plan_name: PlanName = plan
    try:
        return TmdbIngestRequest(
            plan=plan_name,
            run_date=_date(event.get("date")) or today,
            ids=tuple(_list(event.get("ids"))),
            kind=event.get("kind"),
            discover_params=tuple(sorted(dict(event.get("params") or {}).items())),
            max_pages=None
            if event.get("max_pages") is None
            else _int(event["max_pages"], "max_pages"),
            since=_date(event.get("since")),
            append=tuple(_list(event.get("append"))) if "append" in event else DEFAULT_APPEND,
            batch_size=int(event.get("batch_size", 100)),
            rate=float(event.get("rate", 35.0)),
        ).checked()
    except (TypeError, ValueError) as exc:
        raise InputError(f"event: {exc}") from None


def _container_settings() -> tuple[Settings, SecretFilter]:
    """Once per container: warm invocations reuse settings, the secret and the log setup."""
    if "settings" not in _container:
        scrubber = configure_logging(json_format=True)
        settings = load_settings(environ=os.environ, ignore_static_aws_keys=True)
        settings = _with_tmdb_credential(settings)
        scrubber.set_secrets(settings.secrets())
        _container.update(settings=settings, scrubber=scrubber)
    return _container["settings"], _container["scrubber"]


def _with_tmdb_credential(settings: Settings) -> Settings:
    """Secrets Manager or SSM first (preferred); plain environment variables otherwise."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if settings.tmdb_secret_id:
            secret = boto3.client("secretsmanager").get_secret_value(
                SecretId=settings.tmdb_secret_id
            )
            return _apply_secret(settings, str(secret.get("SecretString", "")), "TMDB_SECRET_ID")
        if settings.tmdb_parameter_name:
            parameter = boto3.client("ssm").get_parameter(
                Name=settings.tmdb_parameter_name, WithDecryption=True
            )
            return _apply_secret(
                settings, parameter["Parameter"].get("Value", ""), "TMDB_PARAMETER_NAME"
            )
    except (ClientError, BotoCoreError) as exc:
        origin = "TMDB_SECRET_ID" if settings.tmdb_secret_id else "TMDB_PARAMETER_NAME"
        code = exc.response["Error"].get("Code", "") if isinstance(exc, ClientError) else ""
        raise ConfigError(
            f"{origin}: cannot read the TMDB credential ({code or type(exc).__name__}); check "
            "the name and that the execution role may read it"
        ) from None
    return settings


def _apply_secret(settings: Settings, value: str, origin: str) -> Settings:
    """A JSON object with TMDB_API_KEY / TMDB_READ_ACCESS_TOKEN, or the bare credential."""
    value = value.strip()
    if not value:
        raise ConfigError(f"{origin}: the secret is empty; run `cinelake lambda deploy` to set it")
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except ValueError:
            raise ConfigError(f"{origin}: the secret is not valid JSON") from None
        return replace(
            settings,
            tmdb_api_key=data.get("TMDB_API_KEY") or None,
            tmdb_read_token=data.get("TMDB_READ_ACCESS_TOKEN") or None,
        )
    if value.startswith("eyJ"):
        return replace(settings, tmdb_read_token=value, tmdb_api_key=None)
    return replace(settings, tmdb_api_key=value, tmdb_read_token=None)


def _continue(
    event: Mapping[str, Any],
    request: TmdbIngestRequest,
    hop: int,
    context: LambdaContext,
    settings: Settings,
) -> bool:
    """Invoke this function again, asynchronously, for the same plan and date."""
    if not settings.continue_on_lambda:
        return False
    if hop + 1 > MAX_HOPS:
        log.error(
            "not continuing: %s hops reached; invoke again by hand to go on",
            MAX_HOPS,
            extra={"event": "lambda.hop_limit", "hop": hop},
        )
        return False
    import boto3

    payload = {**event, "date": request.run_date.isoformat(), "hop": hop + 1}
    for scheduled_field in ("source", "detail-type", "time"):
        payload.pop(scheduled_field, None)
    boto3.client("lambda").invoke(
        FunctionName=context.invoked_function_arn,
        InvocationType="Event",
        Payload=json.dumps(payload).encode(),
    )
    log.info("continuing in a new invocation", extra={"event": "lambda.continued", "hop": hop + 1})
    return True


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"event date {value!r}: use YYYY-MM-DD") from None


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InputError(f"event {name} {value!r}: use a whole number") from None
