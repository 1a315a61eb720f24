"""AWS Lambda entry point: a thin shell over the same engine as `cinelake ingest-tmdb`.

The handler turns an event into a `TmdbIngestRequest`, gives the engine a deadline 60 s short
of Lambda's, and, when asked to, re-invokes its own function to continue a partial plan.
Settings and the TMDB credential are read once per container, not once per invocation.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, Protocol

from cinelake.aws_lambda import events
from cinelake.errors import CinelakeError, ConfigError, InputError, TmdbAuthError
from cinelake.logs import SecretFilter, configure_logging
from cinelake.settings import Settings, load_settings
from cinelake.tmdb.engine import Deadline
from cinelake.tmdb.plans import DEFAULT_APPEND
from cinelake.tmdb.request import PLANS, PlanName, TmdbIngestRequest

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


def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings, scrubber = _container_settings()
    hop = 0
    try:
        event = events.as_mapping(event)
        hop = events.whole_number(event.get("hop", 0), "hop", minimum=0)
        request = request_from_event(event, datetime.now(UTC).date())
        remaining = context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS
        if remaining <= 0:
            raise ConfigError(
                "the function timeout leaves no time after the 60 s safety margin; "
                "set Timeout to 900 s"
            )
        from cinelake.store import open_store
        from cinelake.tmdb.service import run_tmdb_ingest

        manifest = run_tmdb_ingest(
            request,
            settings=settings,
            store=open_store(settings),
            deadline=Deadline(remaining),
        )
    except CinelakeError as exc:
        if isinstance(exc, TmdbAuthError):
            _container.clear()  # the secret may have been rotated: read it again next time
        log.error(scrubber.scrub(str(exc)), extra={"event": "lambda.failed", "hop": hop})
        raise
    except Exception as exc:  # a bug or an unmapped library error: still logged as a failure
        log.error(
            scrubber.scrub(f"unexpected {type(exc).__name__}: {exc}"),
            extra={"event": "lambda.failed", "hop": hop},
        )
        raise
    summary = {
        "run_id": manifest.run_id,
        "status": manifest.status,
        "date": request.run_date.isoformat(),
        "plan": request.plan,
        "counts": manifest.counts,
        "manifest": manifest.key,
        "files": len(manifest.objects),
        "hop": hop,
        "continued": False,
    }
    if manifest.counts.get("stopped_early"):
        summary["continued"] = _continue(event, request, hop, context, settings)
    log.info(
        "ingest-tmdb %s: %s landed, %s failed",
        manifest.status,
        manifest.counts.get("landed", 0),
        manifest.counts.get("failed", 0),
        extra={"event": "lambda.finished", "run_id": manifest.run_id, "hop": hop},
    )
    return summary


def request_from_event(event: Mapping[str, Any], today: date) -> TmdbIngestRequest:
    """Event fields use the CLI's names; an empty or scheduled event is the default plan."""
    if event.get("source") == "aws.events" or event.get("detail-type") == "Scheduled Event":
        event = {}
    plan = event.get("plan", "from-csv")
    if plan not in PLANS:
        raise InputError(f"event plan {str(plan)[:40]!r}: use one of {', '.join(PLANS)}")
    plan_name: PlanName = plan
    max_pages = event.get("max_pages")
    return TmdbIngestRequest(
        plan=plan_name,
        run_date=events.day(event.get("date"), "date") or today,
        ids=tuple(events.text_list(event.get("ids"), "ids")),
        kind=events.kind(event.get("kind")),
        discover_params=events.params(event.get("params")),
        max_pages=None
        if max_pages is None
        else events.whole_number(max_pages, "max_pages", minimum=1),
        since=events.day(event.get("since"), "since"),
        append=tuple(events.text_list(event.get("append"), "append"))
        if "append" in event
        else DEFAULT_APPEND,
        batch_size=events.whole_number(event.get("batch_size", 100), "batch_size", minimum=1),
        rate=events.real_number(event.get("rate", 35.0), "rate"),
    ).checked()


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
    payload.pop("source", None)
    payload.pop("detail-type", None)
    boto3.client("lambda").invoke(
        FunctionName=context.invoked_function_arn,
        InvocationType="Event",
        Payload=json.dumps(payload).encode(),
    )
    log.info("continuing in a new invocation", extra={"event": "lambda.continued", "hop": hop + 1})
    return True
