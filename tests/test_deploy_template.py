"""deploy/template.yaml lints clean and deploys; each service's API shows what the stack set up.

moto honours IAM inline policies, log retention, events rules, bucket encryption and the
function's runtime settings, so those are checked through the APIs. What moto ignores
(versioning, public access block, lifecycle, the function's Layers and Architectures) is
asserted on the parsed template instead.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.parsers import ResponseParserError
from cfnlint.decode import decode
from lambda_rig.moto_cfn import FAKE_CREDENTIALS, UNSUPPORTED_IS_FATAL, running_moto

pytestmark = pytest.mark.filterwarnings(UNSUPPORTED_IS_FATAL)

TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "template.yaml"
STACK = "cinelake-test"
# moto keeps state per process, shared with other modules' servers: names must not collide.
ARTIFACTS = f"cinelake-template-artifacts-{uuid.uuid4().hex[:8]}"
RAW_BUCKET = f"cinelake-raw-{uuid.uuid4().hex[:8]}"
WRITE_PREFIXES = {"Raw/TMDB/*", "Raw/_manifests/*", "Raw/_state/*"}


@pytest.fixture(scope="module")
def session() -> Iterator[boto3.Session]:
    with pytest.MonkeyPatch.context() as patch, running_moto() as endpoint:
        for name, value in FAKE_CREDENTIALS.items():
            patch.setenv(name, value)
        patch.setenv("AWS_ENDPOINT_URL", endpoint)
        yield boto3.Session(region_name="us-east-1")


@pytest.fixture(scope="module")
def stack(session: boto3.Session) -> dict[str, Any]:
    s3 = session.client("s3")
    s3.create_bucket(Bucket=ARTIFACTS)
    for key in ("layer.zip", "function.zip"):
        s3.put_object(
            Bucket=ARTIFACTS, Key=f"cinelake/lambda/0/{key}", Body=b"PK\x05\x06" + b"\0" * 18
        )
    cloudformation = session.client("cloudformation")
    cloudformation.create_stack(
        StackName=STACK,
        TemplateBody=TEMPLATE.read_text(),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[
            {"ParameterKey": "RawBucketName", "ParameterValue": RAW_BUCKET},
            {"ParameterKey": "ArtifactBucket", "ParameterValue": ARTIFACTS},
            {"ParameterKey": "LayerKey", "ParameterValue": "cinelake/lambda/0/layer.zip"},
            {"ParameterKey": "FunctionKey", "ParameterValue": "cinelake/lambda/0/function.zip"},
        ],
    )
    description = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    resources = cloudformation.describe_stack_resources(StackName=STACK)["StackResources"]
    return {
        "status": description["StackStatus"],
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])},
        "physical": {r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in resources},
    }


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    parsed, problems = decode(str(TEMPLATE))
    assert not problems
    return parsed  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def role_statements(session: boto3.Session, stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    iam = session.client("iam")
    role = stack["physical"]["ExecutionRole"]
    document = iam.get_role_policy(RoleName=role, PolicyName="cinelake-tmdb")["PolicyDocument"]
    if isinstance(document, str):
        # moto keeps a CloudFormation role's inline policy as a Python repr, not JSON.
        document = ast.literal_eval(document)
    return {statement["Sid"]: statement for statement in document["Statement"]}


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _object_prefixes(resources: str | list[str]) -> set[str]:
    return {resource.split(":::", 1)[1].split("/", 1)[1] for resource in _as_list(resources)}


def test_template_passes_cfn_lint_with_no_errors_or_warnings() -> None:
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(TEMPLATE)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_unsupported_resource_types_fail_the_deploy(session: boto3.Session) -> None:
    body = json.dumps(
        {"Resources": {"Unknown": {"Type": "AWS::AppRunner::Service", "Properties": {}}}}
    )

    client = session.client("cloudformation", config=Config(retries={"total_max_attempts": 1}))

    with pytest.raises(ResponseParserError, match="500 Internal Server Error"):
        client.create_stack(StackName="unsupported", TemplateBody=body)


def test_stack_is_created(stack: dict[str, Any]) -> None:
    assert stack["status"] == "CREATE_COMPLETE"


def test_outputs_name_the_function_the_secret_and_the_raw_bucket(stack: dict[str, Any]) -> None:
    assert stack["outputs"]["FunctionName"] == f"{STACK}-tmdb"
    assert stack["outputs"]["SecretArn"].startswith("arn:aws:secretsmanager:us-east-1:")
    assert stack["outputs"]["RawBucketName"] == RAW_BUCKET


def test_secret_is_created_without_a_usable_value(
    session: boto3.Session, stack: dict[str, Any]
) -> None:
    secret = session.client("secretsmanager").get_secret_value(
        SecretId=stack["outputs"]["SecretArn"]
    )

    assert set(json.loads(secret["SecretString"])) == {"placeholder"}


def test_function_reads_the_stack_secret_and_lands_in_the_raw_bucket(
    session: boto3.Session, stack: dict[str, Any]
) -> None:
    configuration = session.client("lambda").get_function_configuration(
        FunctionName=stack["outputs"]["FunctionName"]
    )

    assert configuration["Environment"]["Variables"] == {
        "NOME_DO_BUCKET_S3": RAW_BUCKET,
        "TMDB_SECRET_ID": stack["outputs"]["SecretArn"],
        "CINELAKE_LOG_FORMAT": "json",
    }


def test_function_runs_the_lambda_handler_on_python312_for_up_to_900_seconds(
    session: boto3.Session, stack: dict[str, Any]
) -> None:
    configuration = session.client("lambda").get_function_configuration(
        FunctionName=stack["outputs"]["FunctionName"]
    )

    assert configuration["Runtime"] == "python3.12"
    assert configuration["Handler"] == "cinelake.aws_lambda.handler.handler"
    assert configuration["Timeout"] == 900
    assert configuration["MemorySize"] == 512


def test_stacks_deployed_with_the_old_handler_path_still_find_the_handler() -> None:
    from cinelake.aws_lambda.handler import handler
    from cinelake.lambda_handler import handler as old_path

    assert old_path is handler


def test_role_writes_only_under_tmdb_manifests_and_state(
    role_statements: dict[str, dict[str, Any]],
) -> None:
    statement = role_statements["WriteRawTmdbManifestsAndState"]

    assert set(_as_list(statement["Action"])) == {
        "s3:PutObject",
        "s3:GetObject",
        "s3:AbortMultipartUpload",
    }
    assert _object_prefixes(statement["Resource"]) == WRITE_PREFIXES


def test_role_reads_local_csvs_without_writing_them(
    role_statements: dict[str, dict[str, Any]],
) -> None:
    statement = role_statements["ReadLocalCsvIds"]

    assert _as_list(statement["Action"]) == ["s3:GetObject"]
    assert _object_prefixes(statement["Resource"]) == {"Raw/Local/CSV/*"}


def test_role_may_list_the_raw_bucket_so_missing_keys_answer_404_not_403(
    role_statements: dict[str, dict[str, Any]],
) -> None:
    statement = role_statements["ListRawBucket"]

    assert _as_list(statement["Action"]) == ["s3:ListBucket"]
    assert "Condition" not in statement


def test_role_reads_only_the_stack_secret(
    role_statements: dict[str, dict[str, Any]], stack: dict[str, Any]
) -> None:
    statement = role_statements["ReadTmdbSecret"]

    assert _as_list(statement["Action"]) == ["secretsmanager:GetSecretValue"]
    assert _as_list(statement["Resource"]) == [stack["outputs"]["SecretArn"]]


def test_role_writes_only_its_own_log_group(
    role_statements: dict[str, dict[str, Any]],
) -> None:
    statement = role_statements["WriteOwnLogs"]

    assert set(_as_list(statement["Action"])) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert _as_list(statement["Resource"])[0].endswith(f":log-group:/aws/lambda/{STACK}-tmdb:*")


def test_role_may_not_invoke_any_function(role_statements: dict[str, dict[str, Any]]) -> None:
    actions = {a for s in role_statements.values() for a in _as_list(s["Action"])}

    assert not {a for a in actions if a.startswith("lambda:")}


@pytest.fixture(scope="module")
def failed_invocations_queue(session: boto3.Session, stack: dict[str, Any]) -> dict[str, str]:
    sqs = session.client("sqs")
    physical = stack["physical"]["FailedInvocationsQueue"]
    url = (
        physical
        if physical.startswith("http")
        else sqs.get_queue_url(QueueName=physical)["QueueUrl"]
    )
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return dict(attributes)


def test_role_may_only_keep_failed_async_invocations_in_their_queue(
    role_statements: dict[str, dict[str, Any]], failed_invocations_queue: dict[str, str]
) -> None:
    statement = role_statements["KeepFailedAsyncInvocations"]

    assert _as_list(statement["Action"]) == ["sqs:SendMessage"]
    assert _as_list(statement["Resource"]) == [failed_invocations_queue["QueueArn"]]


def test_role_grants_nothing_else(role_statements: dict[str, dict[str, Any]]) -> None:
    assert set(role_statements) == {
        "WriteRawTmdbManifestsAndState",
        "ReadLocalCsvIds",
        "ListRawBucket",
        "ReadTmdbSecret",
        "WriteOwnLogs",
        "KeepFailedAsyncInvocations",
    }


def test_log_group_keeps_logs_30_days(session: boto3.Session, stack: dict[str, Any]) -> None:
    groups = session.client("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/lambda/{STACK}-tmdb"
    )["logGroups"]

    assert [group["retentionInDays"] for group in groups] == [30]


def test_schedule_is_disabled_until_enabled_on_purpose(
    session: boto3.Session, stack: dict[str, Any]
) -> None:
    rule = session.client("events").describe_rule(Name=stack["physical"]["ScheduleRule"])

    assert rule["State"] == "DISABLED"
    assert rule["ScheduleExpression"] == "rate(1 day)"


def test_schedule_starts_the_state_machine_with_the_daily_plan(
    session: boto3.Session, stack: dict[str, Any]
) -> None:
    targets = session.client("events").list_targets_by_rule(Rule=stack["physical"]["ScheduleRule"])[
        "Targets"
    ]

    assert [target["Arn"] for target in targets] == [stack["outputs"]["StateMachineArn"]]
    assert json.loads(targets[0]["Input"]) == {"plan": "daily"}
    assert targets[0]["RoleArn"].endswith(stack["physical"]["ScheduleRole"])


def test_nothing_but_the_state_machine_role_may_invoke_the_function(
    session: boto3.Session, stack: dict[str, Any]
) -> None:
    lambda_ = session.client("lambda")

    with pytest.raises(lambda_.exceptions.ResourceNotFoundException):
        lambda_.get_policy(FunctionName=stack["outputs"]["FunctionName"])


def test_state_machine_role_may_invoke_only_the_function(
    session: boto3.Session, stack: dict[str, Any]
) -> None:
    document = session.client("iam").get_role_policy(
        RoleName=stack["physical"]["StateMachineRole"], PolicyName="cinelake-state-machine"
    )["PolicyDocument"]
    if isinstance(document, str):
        document = ast.literal_eval(document)
    [statement] = document["Statement"]

    assert _as_list(statement["Action"]) == ["lambda:InvokeFunction"]
    assert {r.split(":function:", 1)[1] for r in _as_list(statement["Resource"])} == {
        f"{STACK}-tmdb",
        f"{STACK}-tmdb:*",
    }


def test_state_machine_runs_the_template_definition_against_the_function(
    session: boto3.Session, stack: dict[str, Any], template: dict[str, Any]
) -> None:
    machine = session.client("stepfunctions").describe_state_machine(
        stateMachineArn=stack["outputs"]["StateMachineArn"]
    )
    definition = json.loads(machine["definition"])

    assert definition["StartAt"] == "Start"
    assert definition["States"]["Hop"]["Parameters"]["FunctionName"].endswith(
        f":function:{STACK}-tmdb"
    )
    assert definition["States"]["Start"]["Parameters"]["max_hops.$"] == (
        "States.StringToJson('200')"
    )
    assert set(definition["States"]) == set(
        template["Resources"]["IngestStateMachine"]["Properties"]["Definition"]["States"]
    )


def test_function_runs_one_hop_at_a_time(session: boto3.Session, stack: dict[str, Any]) -> None:
    concurrency = session.client("lambda").get_function_concurrency(
        FunctionName=stack["outputs"]["FunctionName"]
    )

    assert concurrency["ReservedConcurrentExecutions"] == 1


def test_a_failed_async_invocation_is_not_retried_and_is_kept_for_14_days(
    session: boto3.Session, stack: dict[str, Any], failed_invocations_queue: dict[str, str]
) -> None:
    config = session.client("lambda").get_function_event_invoke_config(
        FunctionName=stack["outputs"]["FunctionName"]
    )
    destination = config["DestinationConfig"]["OnFailure"]["Destination"]

    assert config["MaximumRetryAttempts"] == 0
    assert destination == failed_invocations_queue["QueueArn"]
    assert failed_invocations_queue["MessageRetentionPeriod"] == str(14 * 24 * 3600)


@pytest.fixture(scope="module")
def alarms(session: boto3.Session, stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = session.client("cloudwatch").describe_alarms()["MetricAlarms"]
    return {alarm["MetricName"]: alarm for alarm in found}


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"])
def test_an_execution_that_fails_times_out_or_is_aborted_notifies_the_topic(
    alarms: dict[str, dict[str, Any]], stack: dict[str, Any], metric: str
) -> None:
    alarm = alarms[metric]

    assert alarm["Namespace"] == "AWS/States"
    assert alarm["Dimensions"] == [
        {"Name": "StateMachineArn", "Value": stack["outputs"]["StateMachineArn"]}
    ]
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Sum", 1.0)
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [stack["outputs"]["AlarmTopicArn"]]


def test_a_kept_failed_invocation_notifies_the_topic(
    alarms: dict[str, dict[str, Any]],
    stack: dict[str, Any],
    failed_invocations_queue: dict[str, str],
) -> None:
    alarm = alarms["ApproximateNumberOfMessagesVisible"]
    queue_name = failed_invocations_queue["QueueArn"].rsplit(":", 1)[1]

    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": queue_name}]
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Maximum", 1.0)
    assert alarm["AlarmActions"] == [stack["outputs"]["AlarmTopicArn"]]


def test_a_schedule_that_cannot_start_the_state_machine_notifies_the_topic(
    alarms: dict[str, dict[str, Any]], stack: dict[str, Any]
) -> None:
    alarm = alarms["FailedInvocations"]

    assert alarm["Namespace"] == "AWS/Events"
    assert alarm["Dimensions"] == [{"Name": "RuleName", "Value": stack["physical"]["ScheduleRule"]}]
    assert alarm["AlarmActions"] == [stack["outputs"]["AlarmTopicArn"]]


def test_no_successful_daily_run_for_36_hours_raises_the_freshness_alarm(
    alarms: dict[str, dict[str, Any]], stack: dict[str, Any]
) -> None:
    alarm = alarms["Succeeded"]

    assert alarm["Namespace"] == "cinelake"
    assert {(d["Name"], d["Value"]) for d in alarm["Dimensions"]} == {
        ("command", "ingest-tmdb"),
        ("plan", "daily"),
    }
    assert alarm["Period"] * alarm["EvaluationPeriods"] == 36 * 3600
    assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"]
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "Sum",
        "LessThanThreshold",
        1.0,
    )
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["AlarmActions"] == [stack["outputs"]["AlarmTopicArn"]]


def test_the_freshness_alarm_stays_quiet_while_the_schedule_is_disabled(
    alarms: dict[str, dict[str, Any]],
) -> None:
    assert alarms["Succeeded"]["ActionsEnabled"] is False


def test_the_alarm_topic_has_no_subscriber_unless_an_email_is_given(
    session: boto3.Session, stack: dict[str, Any], template: dict[str, Any]
) -> None:
    subscriptions = session.client("sns").list_subscriptions_by_topic(
        TopicArn=stack["outputs"]["AlarmTopicArn"]
    )["Subscriptions"]

    assert subscriptions == []
    topic = template["Resources"]["AlarmTopic"]["Properties"]
    assert topic["Subscription"]["Fn::If"][0] == "HasAlarmEmail"
    assert topic["Subscription"]["Fn::If"][1] == [
        {"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}
    ]


def test_template_lets_lambda_stop_any_recursive_loop(template: dict[str, Any]) -> None:
    """moto ignores RecursiveLoop; only AWS enforces it."""
    assert template["Resources"]["TmdbFunction"]["Properties"]["RecursiveLoop"] == "Terminate"


def test_raw_bucket_is_encrypted_at_rest(session: boto3.Session, stack: dict[str, Any]) -> None:
    encryption = session.client("s3").get_bucket_encryption(Bucket=RAW_BUCKET)
    rules = encryption["ServerSideEncryptionConfiguration"]["Rules"]

    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_raw_bucket_refuses_plain_http(session: boto3.Session, stack: dict[str, Any]) -> None:
    policy = json.loads(session.client("s3").get_bucket_policy(Bucket=RAW_BUCKET)["Policy"])

    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert policy["Statement"][0]["Effect"] == "Deny"


def test_template_versions_the_raw_bucket(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["RawBucket"]["Properties"]

    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}


def test_template_blocks_all_public_access_to_the_raw_bucket(template: dict[str, Any]) -> None:
    block = template["Resources"]["RawBucket"]["Properties"]["PublicAccessBlockConfiguration"]

    assert set(block) == {
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    }
    assert all(value is True for value in block.values())


def test_template_aborts_incomplete_multipart_uploads_within_a_week(
    template: dict[str, Any],
) -> None:
    rules = template["Resources"]["RawBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    days = [rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] for rule in rules]

    assert len(days) == 1
    assert 1 <= days[0] <= 7


def test_template_keeps_the_raw_bucket_when_the_stack_goes(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["RawBucket"]

    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"


def test_template_gives_the_function_the_layer_and_the_chosen_architecture(
    template: dict[str, Any],
) -> None:
    function = template["Resources"]["TmdbFunction"]["Properties"]

    assert function["Layers"] == [{"Ref": "DependenciesLayer"}]
    assert function["Architectures"] == [{"Ref": "Architecture"}]
    layer = template["Resources"]["DependenciesLayer"]["Properties"]
    assert layer["CompatibleArchitectures"] == [{"Ref": "Architecture"}]
    assert layer["CompatibleRuntimes"] == [{"Ref": "Runtime"}]


def test_template_puts_no_secret_value_in_the_template(template: dict[str, Any]) -> None:
    secret = template["Resources"]["TmdbSecret"]["Properties"]

    assert "SecretString" not in secret
    assert "GenerateSecretString" in secret
