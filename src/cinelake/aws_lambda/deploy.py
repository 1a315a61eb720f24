"""Deploy the TMDB Lambda with CloudFormation and talk to it afterwards.

Artifacts go under content-addressed keys (`cinelake/lambda/<sha256>/<name>`): a rebuild with
the same bytes re-uses the uploaded object and leaves the stack alone, a changed artifact is a
new key and therefore a real update. Every stack change goes through a change set, so a no-op
deploy is recognised instead of failing. The TMDB credential travels from the caller straight
into Secrets Manager; it is never part of the template, a parameter, a log line or a message.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, WaiterError

from cinelake.aws_lambda.build import Arch, Artifact, PythonVersion, build_artifacts, load_artifacts
from cinelake.errors import RunError, UsageError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import ParameterTypeDef, WaiterConfigTypeDef
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient

ARTIFACT_PREFIX = "cinelake/lambda"
CREDENTIAL_NAMES = ("TMDB_API_KEY", "TMDB_READ_ACCESS_TOKEN")
# Parameters kept from the running stack on update unless the caller sets them: re-deploying
# new code must not silently re-enable a schedule or rename (replace) the raw bucket.
STICKY_PARAMETERS = (
    "RawBucketName",
    "MemorySize",
    "ScheduleExpression",
    "ScheduleState",
    "LogRetentionDays",
    "MaxHops",
    "ReservedConcurrency",
    "AlarmEmail",
    "FreshnessPlan",
)
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
# A synchronous invoke may run the full 900 s; a retry would start a second, overlapping run.
INVOKE_CONFIG = Config(read_timeout=910, connect_timeout=10, retries={"total_max_attempts": 1})


@dataclass(frozen=True)
class AwsClients:
    """The clients a deploy needs; endpoints follow the standard AWS_ENDPOINT_URL_* variables."""

    s3: S3Client
    cloudformation: CloudFormationClient
    secretsmanager: SecretsManagerClient
    lambda_: LambdaClient
    account_id: str
    region: str
    stepfunctions: Any = None
    """A Step Functions client (untyped: no stubs for it are installed)."""

    @classmethod
    def from_session(cls, session: boto3.Session) -> AwsClients:
        region = session.region_name
        if not region:
            raise UsageError("no AWS region: pass --region or set AWS_REGION")
        sts: Any = session.client("sts")
        try:
            account_id = str(sts.get_caller_identity()["Account"])
        except ClientError as exc:
            raise UsageError(f"AWS credentials were refused: {exc}") from exc
        return cls(
            s3=session.client("s3"),
            cloudformation=session.client("cloudformation"),
            secretsmanager=session.client("secretsmanager"),
            lambda_=session.client("lambda", config=INVOKE_CONFIG),
            account_id=account_id,
            region=region,
            stepfunctions=session.client("stepfunctions"),
        )


@dataclass(frozen=True)
class DeployResult:
    """What a deploy left behind, and what the user should do next."""

    stack_name: str
    function_name: str
    secret_arn: str
    raw_bucket: str
    layer_key: str
    function_key: str
    stack_changed: bool
    secret_updated: bool
    next_steps: str


def default_template() -> Path:
    """`deploy/template.yaml` of the repository holding this package (or the working dir)."""
    package_dir = Path(__file__).resolve().parent
    for base in (*package_dir.parents, Path.cwd()):
        candidate = base / "deploy" / "template.yaml"
        if candidate.is_file():
            return candidate
    raise UsageError("deploy/template.yaml not found; run from the cinelake repository")


def artifact_key(artifact: Artifact) -> str:
    return f"{ARTIFACT_PREFIX}/{artifact.sha256}/{artifact.name}"


def ensure_bucket(s3: S3Client, bucket: str, region: str) -> None:
    """Create the private artifact bucket once; an existing bucket is used as it is."""
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket", "NotFound"}:
            raise UsageError(f"artifact bucket {bucket} cannot be used: {exc}") from exc
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(
            Bucket=bucket,
            CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
        )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def upload_artifact(s3: S3Client, bucket: str, artifact: Artifact) -> str:
    """Upload unless the content-addressed key already holds it; return the key."""
    key = artifact_key(artifact)
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchKey", "NotFound"}:
            raise
        s3.upload_file(
            str(artifact.path),
            bucket,
            key,
            ExtraArgs={"ChecksumAlgorithm": "SHA256", "ContentType": "application/zip"},
        )
    return key


def stack_status(cloudformation: CloudFormationClient, stack_name: str) -> str | None:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return stacks[0]["StackStatus"] if stacks else None


def stack_outputs(cloudformation: CloudFormationClient, stack_name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _parameters(values: Mapping[str, str], previous: set[str]) -> list[ParameterTypeDef]:
    parameters: list[ParameterTypeDef] = [
        {"ParameterKey": key, "ParameterValue": value} for key, value in sorted(values.items())
    ]
    parameters += [
        {"ParameterKey": key, "UsePreviousValue": True}
        for key in STICKY_PARAMETERS
        if key in previous and key not in values
    ]
    return parameters


def _current_parameter_keys(cloudformation: CloudFormationClient, stack_name: str) -> set[str]:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {p["ParameterKey"] for p in stack.get("Parameters", []) if "ParameterKey" in p}


def apply_change_set(
    cloudformation: CloudFormationClient,
    stack_name: str,
    template_body: str,
    parameters: Mapping[str, str],
    poll_delay_s: int = 5,
) -> bool:
    """Create or update the stack through a change set; return False when nothing changed."""
    status = stack_status(cloudformation, stack_name)
    if status == "ROLLBACK_COMPLETE":
        raise UsageError(
            f"stack {stack_name} failed its first creation (ROLLBACK_COMPLETE); delete it "
            "(aws cloudformation delete-stack) and deploy again"
        )
    updating = status not in {None, "REVIEW_IN_PROGRESS"}
    change_set = f"cinelake-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    try:
        cloudformation.create_change_set(
            StackName=stack_name,
            ChangeSetName=change_set,
            ChangeSetType="UPDATE" if updating else "CREATE",
            TemplateBody=template_body,
            Parameters=_parameters(
                parameters,
                _current_parameter_keys(cloudformation, stack_name) if updating else set(),
            ),
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
    except ClientError as exc:
        if any(marker in str(exc) for marker in NO_CHANGES):
            return False
        raise
    waiting: WaiterConfigTypeDef = {"Delay": poll_delay_s, "MaxAttempts": 360}
    try:
        cloudformation.get_waiter("change_set_create_complete").wait(
            StackName=stack_name, ChangeSetName=change_set, WaiterConfig=waiting
        )
    except WaiterError as exc:
        described = cloudformation.describe_change_set(
            StackName=stack_name, ChangeSetName=change_set
        )
        reason = described.get("StatusReason", "")
        if any(marker in reason for marker in NO_CHANGES):
            cloudformation.delete_change_set(StackName=stack_name, ChangeSetName=change_set)
            return False
        raise RunError(f"change set for {stack_name} failed: {reason or exc}") from exc
    cloudformation.execute_change_set(StackName=stack_name, ChangeSetName=change_set)
    try:
        if updating:
            cloudformation.get_waiter("stack_update_complete").wait(
                StackName=stack_name, WaiterConfig=waiting
            )
        else:
            cloudformation.get_waiter("stack_create_complete").wait(
                StackName=stack_name, WaiterConfig=waiting
            )
    except WaiterError as exc:
        raise RunError(
            f"stack {stack_name} did not finish its {'update' if updating else 'creation'}: "
            f"{stack_status(cloudformation, stack_name)}; see its events in the console"
        ) from exc
    return True


@contextmanager
def _no_request_logging() -> Iterator[None]:
    """botocore logs request parameters (the secret value among them) at DEBUG; not this call."""
    botocore_log = logging.getLogger("botocore")
    previous = botocore_log.level
    botocore_log.setLevel(max(previous, logging.INFO))
    try:
        yield
    finally:
        botocore_log.setLevel(previous)


def set_tmdb_secret(
    secretsmanager: SecretsManagerClient, secret_arn: str, credentials: Mapping[str, str]
) -> bool:
    """Store the TMDB credential as JSON; return False when the caller gave none."""
    value = {name: credentials[name] for name in CREDENTIAL_NAMES if credentials.get(name)}
    if not value:
        return False
    with _no_request_logging():
        secretsmanager.put_secret_value(SecretId=secret_arn, SecretString=json.dumps(value))
    return True


def _next_steps(result_stack: str, schedule: str | None, secret_updated: bool) -> str:
    steps = []
    if not secret_updated:
        steps.append(
            "set the TMDB credential: export TMDB_API_KEY (or TMDB_READ_ACCESS_TOKEN) and run "
            f"`cinelake lambda deploy --stack {result_stack}` again"
        )
    steps.append(f"try a run: `cinelake lambda invoke --stack {result_stack}`")
    if schedule != "ENABLED":
        steps.append(
            f"enable the schedule: `cinelake lambda deploy --stack {result_stack} "
            "--schedule ENABLED`"
        )
    return "\n".join(f"next: {step}" for step in steps)


def deploy_stack(
    stack_name: str,
    *,
    session: boto3.Session | None = None,
    clients: AwsClients | None = None,
    artifact_bucket: str | None = None,
    out_dir: Path = Path("dist/lambda"),
    arch: Arch = "x86_64",
    python_version: PythonVersion = "3.12",
    credentials: Mapping[str, str] | None = None,
    parameters: Mapping[str, str] | None = None,
    template: Path | None = None,
    poll_delay_s: int = 5,
) -> DeployResult:
    """Build (if needed), upload, create/update the stack, then set the TMDB secret.

    `parameters` overrides template parameters (RawBucketName, ScheduleState, ...); those not
    given keep their current value on update. `credentials` maps TMDB_API_KEY and/or
    TMDB_READ_ACCESS_TOKEN to their values.
    """
    aws = clients or AwsClients.from_session(session or boto3.Session())
    artifacts = load_artifacts(out_dir, arch, python_version) or build_artifacts(
        out_dir, arch, python_version
    )
    by_name = {artifact.name: artifact for artifact in artifacts}
    bucket = artifact_bucket or f"cinelake-artifacts-{aws.account_id}-{aws.region}"
    ensure_bucket(aws.s3, bucket, aws.region)
    layer_key = upload_artifact(aws.s3, bucket, by_name["layer.zip"])
    function_key = upload_artifact(aws.s3, bucket, by_name["function.zip"])
    values = {
        **(parameters or {}),
        "ArtifactBucket": bucket,
        "LayerKey": layer_key,
        "FunctionKey": function_key,
        "Architecture": arch,
        "Runtime": f"python{python_version}",
    }
    body = (template or default_template()).read_text(encoding="utf-8")
    changed = apply_change_set(aws.cloudformation, stack_name, body, values, poll_delay_s)
    outputs = stack_outputs(aws.cloudformation, stack_name)
    missing = {"FunctionName", "SecretArn", "RawBucketName"} - set(outputs)
    if missing:
        raise RunError(f"stack {stack_name} lacks outputs {sorted(missing)}; is it cinelake's?")
    secret_updated = set_tmdb_secret(aws.secretsmanager, outputs["SecretArn"], credentials or {})
    return DeployResult(
        stack_name=stack_name,
        function_name=outputs["FunctionName"],
        secret_arn=outputs["SecretArn"],
        raw_bucket=outputs["RawBucketName"],
        layer_key=layer_key,
        function_key=function_key,
        stack_changed=changed,
        secret_updated=secret_updated,
        next_steps=_next_steps(stack_name, (parameters or {}).get("ScheduleState"), secret_updated),
    )


def invoke_function(
    stack_name: str,
    event: Mapping[str, Any] | Sequence[Any] | None = None,
    *,
    session: boto3.Session | None = None,
    clients: AwsClients | None = None,
) -> dict[str, Any]:
    """Invoke the stack's function synchronously and return its JSON summary."""
    aws = clients or AwsClients.from_session(session or boto3.Session())
    function_name = stack_outputs(aws.cloudformation, stack_name)["FunctionName"]
    response = aws.lambda_.invoke(
        FunctionName=function_name,
        InvocationType="RequestResponse",
        Payload=json.dumps(event if event is not None else {}).encode(),
    )
    payload = json.loads(response["Payload"].read() or b"null")
    if "FunctionError" in response:
        detail = payload if isinstance(payload, dict) else {}
        raise RunError(
            f"{function_name} failed: {detail.get('errorType', response['FunctionError'])}: "
            f"{detail.get('errorMessage', '')}"
        )
    if not isinstance(payload, dict):
        raise RunError(f"{function_name} returned {type(payload).__name__}, not a JSON object")
    return payload


@dataclass(frozen=True)
class ExecutionResult:
    """How a state machine execution ended, and what its hops answered."""

    arn: str
    status: str
    """SUCCEEDED, FAILED, TIMED_OUT or ABORTED."""
    output: dict[str, Any]
    error: str | None
    cause: str | None


HopCallback = Callable[[dict[str, Any]], None]
"""Called with each hop's summary (the handler's result) or `{"failed": error, "cause": ...}`."""


def run_execution(
    stack_name: str,
    event: Mapping[str, Any],
    *,
    session: boto3.Session | None = None,
    clients: AwsClients | None = None,
    on_hop: HopCallback | None = None,
    poll_seconds: float = 5.0,
) -> ExecutionResult:
    """Start the stack's state machine with `event` and follow it to its end."""
    aws = clients or AwsClients.from_session(session or boto3.Session())
    outputs = stack_outputs(aws.cloudformation, stack_name)
    if "StateMachineArn" not in outputs:
        raise RunError(
            f"stack {stack_name} has no state machine; run `cinelake lambda deploy --stack "
            f"{stack_name}` to update it, or pass --hop to invoke the function once"
        )
    sfn = aws.stepfunctions
    execution_arn = sfn.start_execution(
        stateMachineArn=outputs["StateMachineArn"], input=json.dumps(dict(event))
    )["executionArn"]
    last_seen = 0
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        for history_event in _new_history(sfn, execution_arn, last_seen):
            last_seen = max(last_seen, int(history_event["id"]))
            report = _hop_report(history_event)
            if report is not None and on_hop is not None:
                on_hop(report)
        if described["status"] != "RUNNING":
            return ExecutionResult(
                arn=execution_arn,
                status=str(described["status"]),
                output=json.loads(described.get("output") or "{}"),
                error=described.get("error"),
                cause=described.get("cause"),
            )
        time.sleep(poll_seconds)


def _new_history(sfn: Any, execution_arn: str, after_id: int) -> list[dict[str, Any]]:
    """Events with an id above `after_id`, oldest first, reading newest pages only."""
    found: list[dict[str, Any]] = []
    token = None
    while True:
        page = sfn.get_execution_history(
            executionArn=execution_arn,
            reverseOrder=True,
            maxResults=100,
            **({"nextToken": token} if token else {}),
        )
        events = [e for e in page["events"] if int(e["id"]) > after_id]
        found.extend(events)
        token = page.get("nextToken")
        if not token or len(events) < len(page["events"]):
            return sorted(found, key=lambda e: int(e["id"]))


def _hop_report(history_event: Mapping[str, Any]) -> dict[str, Any] | None:
    if history_event["type"] == "TaskSucceeded":
        output = json.loads(history_event["taskSucceededEventDetails"].get("output") or "{}")
        payload = output.get("Payload")
        return payload if isinstance(payload, dict) else None
    if history_event["type"] == "TaskFailed":
        details = history_event["taskFailedEventDetails"]
        return {"failed": details.get("error", ""), "cause": details.get("cause", "")}
    return None
