"""`cinelake lambda build|deploy|invoke`: a thin shell over lambda_build and lambda_deploy.

Commands accept the `Settings` the main CLI loads (so TMDB credentials may come from `.env`)
and fall back to the process environment when called on their own.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cinelake.errors import (
    NO_AWS_CREDENTIALS,
    NO_SSO_SESSION,
    ConfigError,
    InputError,
    RunError,
)

if TYPE_CHECKING:
    import boto3

    from cinelake.settings import Settings

DEFAULT_OUT = Path("dist/lambda")
BUSY = 75
"""EX_TEMPFAIL, as `ingest-tmdb` exits when another run holds the lake."""


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser | None = None,
) -> None:
    """Add the `lambda` command group; `common` holds the main CLI's shared options."""
    parents = [common] if common is not None else []
    group = subparsers.add_parser(
        "lambda",
        help="build, deploy and invoke the TMDB ingestion on AWS Lambda",
        description="Package cinelake for AWS Lambda and manage its CloudFormation stack.",
    )
    commands = group.add_subparsers(dest="lambda_command", metavar="SUBCOMMAND", required=True)

    build = commands.add_parser(
        "build", parents=parents, help="build layer.zip and function.zip reproducibly"
    )
    _add_target_options(build)
    build.set_defaults(func=run_build)

    deploy = commands.add_parser(
        "deploy",
        parents=parents,
        help="upload the artifacts and create or update the stack, then set the TMDB secret",
    )
    deploy.add_argument("--stack", required=True, help="CloudFormation stack name")
    deploy.add_argument(
        "--bucket",
        help="artifact bucket (created if missing; default cinelake-artifacts-<account>-<region>)",
    )
    deploy.add_argument("--region", help="AWS region (default: the AWS configuration's)")
    deploy.add_argument(
        "--raw-bucket",
        help="name for the raw-zone bucket the stack creates (default: generated; kept on update)",
    )
    deploy.add_argument(
        "--schedule",
        choices=("ENABLED", "DISABLED"),
        help="state of the daily schedule (default DISABLED on create; kept on update)",
    )
    deploy.add_argument(
        "--alarm-email",
        help="subscribe this address to the alarm topic (kept on update; confirm AWS's mail)",
    )
    _add_target_options(deploy)
    deploy.set_defaults(func=run_deploy)

    invoke = commands.add_parser(
        "invoke",
        parents=parents,
        help="start the state machine and follow it to the end, printing each hop's summary",
    )
    invoke.add_argument("--stack", required=True, help="CloudFormation stack name")
    invoke.add_argument(
        "--event", default="{}", help="execution input / event as a JSON object (default {})"
    )
    invoke.add_argument(
        "--hop",
        action="store_true",
        help="invoke the function once, directly, for a single hop (no state machine)",
    )
    invoke.add_argument("--region", help="AWS region (default: the AWS configuration's)")
    invoke.set_defaults(func=run_invoke)


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--arch",
        choices=("x86_64", "arm64"),
        default="x86_64",
        help="Lambda architecture the layer is built for (default x86_64)",
    )
    parser.add_argument(
        "--python",
        choices=("3.12", "3.13"),
        default="3.12",
        help="Lambda Python runtime the layer is built for (default 3.12)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"directory for the artifacts (default {DEFAULT_OUT})",
    )


def run_build(args: argparse.Namespace, settings: Settings) -> int:
    from cinelake.aws_lambda.build import build_artifacts

    if args.out.exists() and not args.out.is_dir():
        raise InputError(f"--out {args.out}: is a file; pass a directory for the artifacts")
    for artifact in build_artifacts(args.out, args.arch, args.python):
        print(f"{artifact.name}  {artifact.size_bytes} bytes  sha256:{artifact.sha256}")
    return 0


def _session(region: str | None, settings: Settings) -> boto3.Session:
    from cinelake.store import aws_session

    return aws_session(settings, region)


def _credentials(settings: Settings) -> dict[str, str]:
    values = {
        "TMDB_API_KEY": settings.tmdb_api_key,
        "TMDB_READ_ACCESS_TOKEN": settings.tmdb_read_token,
    }
    return {name: value for name, value in values.items() if value}


_STACK_NAME = re.compile(r"[A-Za-z][-A-Za-z0-9]{0,127}")


def _check_stack(name: str) -> None:
    if not _STACK_NAME.fullmatch(name):
        raise InputError(
            f"--stack {name!r}: not a CloudFormation stack name; use a letter, then letters, "
            "digits and hyphens (at most 128)"
        )


@contextmanager
def _aws_errors(region: str | None) -> Iterator[None]:
    """AWS failures the deploy code does not expect, as one line each with what to do."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        InvalidRegionError,
        NoCredentialsError,
        NoRegionError,
        SSOError,
        TokenRetrievalError,
    )

    try:
        yield
    except NoCredentialsError:
        raise ConfigError(NO_AWS_CREDENTIALS) from None
    except (TokenRetrievalError, SSOError):
        raise ConfigError(NO_SSO_SESSION) from None
    except (InvalidRegionError, NoRegionError):
        raise ConfigError(
            f"--region {region!r}: not a usable AWS region; pass e.g. --region us-east-1 or set "
            "REGIAO_DO_BUCKET"
        ) from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise RunError(
            f"AWS refused {exc.operation_name}: {error.get('Code', '')} "
            f"{' '.join(str(error.get('Message', '')).split())}"
        ) from None
    except BotoCoreError as exc:
        raise RunError(f"AWS call failed: {' '.join(str(exc).split())}") from None


def run_deploy(args: argparse.Namespace, settings: Settings) -> int:
    from cinelake.aws_lambda.deploy import deploy_stack

    _check_stack(args.stack)
    parameters = {}
    if args.raw_bucket:
        parameters["RawBucketName"] = args.raw_bucket
    if args.schedule:
        parameters["ScheduleState"] = args.schedule
    if args.alarm_email:
        parameters["AlarmEmail"] = args.alarm_email
    with _aws_errors(args.region):
        result = deploy_stack(
            args.stack,
            session=_session(args.region, settings),
            artifact_bucket=args.bucket,
            out_dir=args.out,
            arch=args.arch,
            python_version=args.python,
            credentials=_credentials(settings),
            parameters=parameters,
        )
    state = "updated" if result.stack_changed else "unchanged"
    secret = "updated" if result.secret_updated else "not changed"
    print(f"stack {result.stack_name}: {state}; function {result.function_name}")
    print(f"raw bucket {result.raw_bucket}; TMDB secret {secret}")
    print(result.next_steps)
    return 0


def run_invoke(args: argparse.Namespace, settings: Settings) -> int:
    from cinelake.aws_lambda.deploy import invoke_function, run_execution

    _check_stack(args.stack)
    try:
        event = json.loads(args.event)
    except ValueError as exc:
        raise InputError(f"--event is not valid JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise InputError(
            '--event must be a JSON object, e.g. {"plan": "ids", "ids": ["movie:550"]}'
        )
    session = _session(args.region, settings)
    if args.hop:
        with _aws_errors(args.region):
            summary = invoke_function(args.stack, event, session=session)
        print(json.dumps(summary, indent=2, sort_keys=True))
        return BUSY if summary.get("status") == "busy" else 0
    with _aws_errors(args.region):
        result = run_execution(args.stack, event, session=session, on_hop=_print_hop)
    print(json.dumps(result.output, indent=2, sort_keys=True))
    if result.status != "SUCCEEDED":
        raise RunError(
            f"execution {result.arn} {result.status}: {result.error or ''} "
            f"{' '.join(str(result.cause or '').split())[:500]}; once fixed, redrive it: "
            f"aws stepfunctions redrive-execution --execution-arn {result.arn}"
        )
    return BUSY if result.output.get("status") == "busy" else 0


def _print_hop(report: dict[str, Any]) -> None:
    """One line per hop, as the execution reports it."""
    if "failed" in report:
        cause = " ".join(str(report.get("cause", "")).split())[:300]
        print(f"hop failed: {report['failed']}: {cause} (the state machine decides on a retry)")
        return
    counts = report.get("counts") or {}
    if report.get("status") == "busy":
        print(
            f"hop {report.get('hop')}: busy, another run holds the lake "
            f"({report.get('holder')}, started {report.get('started_at')})"
        )
        return
    print(
        f"hop {report.get('hop')}: {report.get('status')}, {counts.get('landed', 0)} landed, "
        f"{counts.get('not_found', 0)} not found, {counts.get('failed', 0)} failed, "
        f"{counts.get('http_requests', 0)} requests; manifest {report.get('manifest')}"
        + ("; more work: next hop" if report.get("more") else ""),
        flush=True,
    )
