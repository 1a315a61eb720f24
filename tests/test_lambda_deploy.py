"""deploy_stack against moto: artifacts uploaded by content, stack through change sets, secret set.

moto cannot run Lambda code without Docker, so `invoke_function` is not exercised here.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from lambda_rig.moto_cfn import FAKE_CREDENTIALS, UNSUPPORTED_IS_FATAL, running_moto

from cinelake.aws_lambda.build import Artifact, build_artifacts
from cinelake.aws_lambda.deploy import DeployResult, deploy_stack

pytestmark = pytest.mark.filterwarnings(UNSUPPORTED_IS_FATAL)

STACK = f"cinelake-dev-{uuid.uuid4().hex[:8]}"
# moto keeps state per process, shared with other modules' servers: names must not collide.
BUCKET = f"cinelake-deploy-artifacts-{uuid.uuid4().hex[:8]}"
TMDB_KEY = "tmdb-key-that-must-never-be-printed-0123456789"


@pytest.fixture(scope="module")
def session() -> Iterator[boto3.Session]:
    with pytest.MonkeyPatch.context() as patch, running_moto() as endpoint:
        for name, value in FAKE_CREDENTIALS.items():
            patch.setenv(name, value)
        patch.setenv("AWS_ENDPOINT_URL", endpoint)
        yield boto3.Session(region_name="us-east-1")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Artifact]]:
    out = tmp_path_factory.mktemp("dist")
    return out, {a.name: a for a in build_artifacts(out)}


def _deploy(session: boto3.Session, out: Path, **kwargs: Any) -> tuple[DeployResult, str]:
    """Deploy while capturing stdout, stderr and every log record, to look for leaks."""
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            result = deploy_stack(
                STACK,
                session=session,
                artifact_bucket=BUCKET,
                out_dir=out,
                poll_delay_s=1,
                **kwargs,
            )
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    return result, captured.getvalue()


@pytest.fixture(scope="module")
def first(
    session: boto3.Session, built: tuple[Path, dict[str, Artifact]]
) -> tuple[DeployResult, str]:
    return _deploy(session, built[0], credentials={"TMDB_API_KEY": TMDB_KEY})


@pytest.fixture(scope="module")
def second(
    session: boto3.Session,
    built: tuple[Path, dict[str, Artifact]],
    first: tuple[DeployResult, str],
) -> DeployResult:
    return _deploy(session, built[0], parameters={"ScheduleState": "ENABLED"})[0]


@pytest.fixture(scope="module")
def third(
    session: boto3.Session,
    built: tuple[Path, dict[str, Artifact]],
    second: DeployResult,
) -> DeployResult:
    return _deploy(session, built[0], parameters={"MemorySize": "1024"})[0]


@pytest.fixture(scope="module")
def repeated(
    session: boto3.Session,
    built: tuple[Path, dict[str, Artifact]],
    third: DeployResult,
) -> DeployResult:
    return _deploy(session, built[0])[0]


def _schedule_state(session: boto3.Session) -> str:
    resources = session.client("cloudformation").describe_stack_resources(StackName=STACK)
    rule = next(
        r["PhysicalResourceId"]
        for r in resources["StackResources"]
        if r["LogicalResourceId"] == "ScheduleRule"
    )
    return session.client("events").describe_rule(Name=rule)["State"]


def test_first_deploy_creates_the_stack(first: tuple[DeployResult, str]) -> None:
    result, _ = first

    assert result.stack_changed
    assert result.function_name == f"{STACK}-tmdb"


def test_artifacts_are_uploaded_under_their_sha256(
    session: boto3.Session,
    built: tuple[Path, dict[str, Artifact]],
    first: tuple[DeployResult, str],
) -> None:
    listed = session.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]

    assert {o["Key"] for o in listed} == {
        f"cinelake/lambda/{artifact.sha256}/{name}" for name, artifact in built[1].items()
    }


def test_missing_artifact_bucket_is_created_private(
    session: boto3.Session, first: tuple[DeployResult, str]
) -> None:
    block = session.client("s3").get_public_access_block(Bucket=BUCKET)

    assert all(block["PublicAccessBlockConfiguration"].values())


def test_tmdb_key_is_stored_in_the_stack_secret(
    session: boto3.Session, first: tuple[DeployResult, str]
) -> None:
    result, _ = first
    value = session.client("secretsmanager").get_secret_value(SecretId=result.secret_arn)

    assert json.loads(value["SecretString"]) == {"TMDB_API_KEY": TMDB_KEY}


def test_tmdb_key_never_appears_in_output_logs_or_the_result(
    first: tuple[DeployResult, str],
) -> None:
    result, output = first

    assert output
    assert TMDB_KEY not in output
    assert TMDB_KEY not in repr(result)


def test_deploy_without_a_key_says_how_to_set_it(first: tuple[DeployResult, str]) -> None:
    result, _ = first

    assert "TMDB_API_KEY" not in result.next_steps
    assert "invoke" in result.next_steps


def test_second_deploy_updates_the_stack_through_a_change_set(
    session: boto3.Session, second: DeployResult
) -> None:
    stack = session.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]

    assert second.stack_changed
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert _schedule_state(session) == "ENABLED"


def test_second_deploy_without_a_key_leaves_the_secret_alone(
    session: boto3.Session, second: DeployResult
) -> None:
    value = session.client("secretsmanager").get_secret_value(SecretId=second.secret_arn)

    assert not second.secret_updated
    assert json.loads(value["SecretString"]) == {"TMDB_API_KEY": TMDB_KEY}
    assert "TMDB_API_KEY" in second.next_steps


def test_a_later_deploy_keeps_the_schedule_it_was_not_asked_to_change(
    session: boto3.Session, third: DeployResult
) -> None:
    assert third.stack_changed
    assert _schedule_state(session) == "ENABLED"


def test_a_deploy_with_nothing_new_leaves_the_stack_unchanged(
    session: boto3.Session, repeated: DeployResult
) -> None:
    stack = session.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]

    assert not repeated.stack_changed
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
