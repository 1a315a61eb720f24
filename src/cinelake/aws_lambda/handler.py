"""AWS Lambda entry point: one deadline-aware hop of `ingest-tmdb`, driven by Step Functions.

The function never invokes itself (Lambda's recursive loop detection stops such chains after
about 16 hops): the state machine in `deploy/template.yaml` invokes it again while a hop
reports work left. Settings and the TMDB credential are read once per container.

The hop contract, which the state machine relies on:

- **event**: a plain event (`{"plan": "ids", "ids": [...]}`, `{"plan": "from-csv", "date":
  "YYYY-MM-DD"}`, ...; an empty or scheduled event, or `{"plan": "daily"}`, runs the daily
  job of `ingest-tmdb --daily`), or the state machine's envelope
  `{"input": <execution input>, "hop": n, "started": <execution start>}`.
  Without a `date`, a hop runs for the UTC date its execution started, so every hop of one
  execution continues the same plan, even across midnight.
- **result**: `{"status", "more", "hop", "plan", "date", "run_id", "counts", "manifest",
  "files"}`; the daily job adds `runs` and `notes`. `status` is the manifest's (`succeeded`,
  `partial`, `failed`) or `busy`. `more` is true only when the hop stopped at its deadline with
  work left: invoke again with the same event. `busy` (with `holder`, `started_at`, `lease`;
  `more` false) means another run holds the lake's lease and this hop made no TMDB request.
- **errors**: raised; the state machine retries or reports them (see the template).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from cinelake.aws_lambda import events
from cinelake.errors import CinelakeError, ConfigError, InputError, LeaseBusy, TmdbAuthError
from cinelake.logs import SecretFilter, configure_logging
from cinelake.settings import Settings, check_credential, load_settings
from cinelake.tmdb.phase import Deadline
from cinelake.tmdb.plans import DEFAULT_APPEND
from cinelake.tmdb.request import PLANS, PlanName, TmdbIngestRequest

if TYPE_CHECKING:
    from cinelake.store.base import Store

log = logging.getLogger("cinelake.lambda")

SAFETY_MARGIN_SECONDS = 60.0


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
        hop, started, inner = unwrap(event)
        daily = is_daily(inner)
        request = request_from_event(inner, started or datetime.now(UTC).date())
        remaining = context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS
        if remaining <= 0:
            raise ConfigError(
                "the function timeout leaves no time after the 60 s safety margin; "
                "set Timeout to 900 s"
            )
        from cinelake.store import open_store

        summary = _run(request, daily, settings, open_store(settings), Deadline(remaining))
    except LeaseBusy as busy:
        log.warning(str(busy), extra={"event": "lambda.busy", "hop": hop})
        return {
            "status": "busy",
            "more": False,
            "hop": hop,
            "plan": "daily" if daily else request.plan,
            "date": request.run_date.isoformat(),
            "holder": busy.holder,
            "started_at": busy.started_at,
            "lease": busy.key,
        }
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
    summary["hop"] = hop
    log.info(
        "ingest-tmdb %s %s: %s landed, %s failed%s",
        summary["plan"],
        summary["status"],
        summary["counts"].get("landed", 0),
        summary["counts"].get("failed", 0),
        "; more work left for the next hop" if summary["more"] else "",
        extra={"event": "lambda.finished", "run_id": summary["run_id"], "hop": hop},
    )
    return summary


def unwrap(event: object) -> tuple[int, date | None, dict[str, Any]]:
    """(hop, execution start date, the request's event) of a plain event or an envelope."""
    event = events.as_mapping({} if event is None else event)
    if "input" not in event:
        return events.whole_number(event.pop("hop", 0), "hop", minimum=0), None, event
    if not isinstance(event["input"], Mapping):
        raise InputError('event input: use a JSON object, e.g. {"plan": "daily"}')
    inner = events.as_mapping(event["input"])
    started = event.get("started")
    day = None
    if started:
        try:
            day = datetime.fromisoformat(str(started).replace("Z", "+00:00")).astimezone(UTC).date()
        except ValueError:
            raise InputError(f"event started {str(started)[:40]!r}: use an ISO 8601 time") from None
    return events.whole_number(event.get("hop", 0), "hop", minimum=0), day, inner


def _run(
    request: TmdbIngestRequest, daily: bool, settings: Settings, store: Store, deadline: Deadline
) -> dict[str, Any]:
    """One hop's work and its summary; the state machine invokes again while `more` is true,
    and each hop resumes from the lake."""
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
            "more": result.work_remains,
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
        "more": bool(manifest.counts.get("stopped_early")),
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
        raise InputError(f"event plan {plan[:40]!r}: use daily or one of {', '.join(PLANS)}")
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
        if not isinstance(data, dict):
            raise ConfigError(f"{origin}: the secret is JSON but not an object")
        key, token = data.get("TMDB_API_KEY"), data.get("TMDB_READ_ACCESS_TOKEN")
        for name, found in (("TMDB_API_KEY", key), ("TMDB_READ_ACCESS_TOKEN", token)):
            if found is not None and not isinstance(found, str):
                raise ConfigError(f"{origin}: {name} in the secret is not a string")
            if found:
                check_credential(f"{origin} ({name})", found)
        return replace(settings, tmdb_api_key=key or None, tmdb_read_token=token or None)
    check_credential(origin, value)
    if value.startswith("eyJ"):
        return replace(settings, tmdb_read_token=value, tmdb_api_key=None)
    return replace(settings, tmdb_api_key=value, tmdb_read_token=None)
