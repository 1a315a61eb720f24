"""moto's Step Functions executes the state machine of deploy/template.yaml, hop by hop.

The definition is the template's own (`Definition` with its `DefinitionSubstitutions`
applied); each hop's answer comes from a scripted stand-in for the Lambda Invoke API. Retry
waits are recorded instead of slept, so the tests never wait for a backoff.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
import requests
from cfnlint.decode import decode
from lambda_rig.moto_cfn import FAKE_CREDENTIALS, running_moto
from lambda_rig.scripted_lambda import Answer, FunctionError, ScriptedLambda, Throttled
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from test_deploy_template import TEMPLATE
from tmdb_fixtures import CliResult, cli

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:cinelake-test-tmdb"
ROLE_ARN = "arn:aws:iam::123456789012:role/cinelake-state-machine"
DAILY = {"plan": "daily"}


def hop(status: str = "succeeded", *, more: bool = False, **extra: Any) -> dict[str, Any]:
    """A hop's answer as the handler gives it (see cinelake.aws_lambda.handler)."""
    return {"status": status, "more": more, "plan": "daily", "date": "2025-05-01", **extra}


def definition(max_hops: int = 200) -> str:
    parsed, problems = decode(str(TEMPLATE))
    assert not problems
    machine = parsed["Resources"]["IngestStateMachine"]["Properties"]
    text = json.dumps(machine["Definition"])
    substitutions = {"FunctionArn": FUNCTION_ARN, "MaxHops": str(max_hops)}
    assert set(machine["DefinitionSubstitutions"]) == set(substitutions)
    for name, value in substitutions.items():
        text = text.replace("${" + name + "}", value)
    return text


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch, running_moto() as url:
        for name, value in FAKE_CREDENTIALS.items():
            patch.setenv(name, value)
        config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
        requests.post(f"{url}/moto-api/config", json=config, timeout=10).raise_for_status()
        yield url
        # moto's configuration is per process: other modules expect the defaults back.
        defaults = {
            "stepfunctions": {"execute_state_machine": False},
            "lambda": {"use_docker": True},
        }
        requests.post(f"{url}/moto-api/config", json=defaults, timeout=10).raise_for_status()


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retry waits moto would sleep, recorded instead (moto sleeps them for real)."""
    waits: list[float] = []
    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=waits.append))
    return waits


def execute(
    endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    *answers: Answer,
    max_hops: int = 200,
    execution_input: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], ScriptedLambda]:
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1")
    machine = sfn.create_state_machine(
        name=f"cinelake-{time.monotonic_ns()}", definition=definition(max_hops), roleArn=ROLE_ARN
    )
    with ScriptedLambda(*answers) as function:
        monkeypatch.setenv("MOTO_PORT", str(function.port))  # where moto's Task calls Lambda
        started = sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"],
            input=json.dumps(DAILY if execution_input is None else execution_input),
        )
        deadline = time.monotonic() + 60
        while True:
            execution = sfn.describe_execution(executionArn=started["executionArn"])
            if execution["status"] != "RUNNING" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    return dict(execution), function


def output(execution: dict[str, Any]) -> dict[str, Any]:
    return json.loads(execution["output"])  # type: ignore[no-any-return]


def test_more_work_twice_then_done_takes_three_hops_and_succeeds(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution, function = execute(
        endpoint, monkeypatch, hop("partial", more=True), hop("partial", more=True), hop()
    )

    assert execution["status"] == "SUCCEEDED"
    assert [event["hop"] for event in function.events] == [1, 2, 3]
    assert output(execution)["status"] == "succeeded"
    assert output(execution)["hops"] == 3


def test_every_hop_gets_the_execution_input_and_its_start_time(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = {"plan": "ids", "ids": ["movie:550"]}

    _, function = execute(endpoint, monkeypatch, hop(more=True), hop(), execution_input=request)

    assert [event["input"] for event in function.events] == [request, request]
    first, second = (event["started"] for event in function.events)
    assert first == second
    assert first.startswith("20")


def test_a_function_error_is_retried_then_fails_through_the_catch(
    endpoint: str, monkeypatch: pytest.MonkeyPatch, slept: list[float]
) -> None:
    error = FunctionError("RunError", "the lake refused a write")

    execution, function = execute(endpoint, monkeypatch, error)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "RunError"
    assert "the lake refused a write" in execution["cause"]
    assert len(function.events) == 3, "the first attempt and two retries"
    assert len(slept) == 2
    assert all(0 <= wait <= 180 for wait in slept)


def test_a_function_error_that_clears_on_retry_lets_the_work_go_on(
    endpoint: str, monkeypatch: pytest.MonkeyPatch, slept: list[float]
) -> None:
    execution, function = execute(
        endpoint, monkeypatch, FunctionError("StoreError", "S3 said 503"), hop()
    )

    assert execution["status"] == "SUCCEEDED"
    assert len(function.events) == 2


def test_a_configuration_error_is_not_retried(
    endpoint: str, monkeypatch: pytest.MonkeyPatch, slept: list[float]
) -> None:
    error = FunctionError("ConfigError", "TMDB_SECRET_ID: the secret is empty")

    execution, function = execute(endpoint, monkeypatch, error)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "ConfigError"
    assert len(function.events) == 1
    assert slept == []


def test_throttling_is_retried_until_the_function_is_free(
    endpoint: str, monkeypatch: pytest.MonkeyPatch, slept: list[float]
) -> None:
    execution, function = execute(endpoint, monkeypatch, Throttled(), Throttled(), hop())

    assert execution["status"] == "SUCCEEDED"
    assert len(function.events) == 3
    assert len(slept) == 2


def test_busy_ends_the_execution_successfully_with_status_busy(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy = hop("busy", holder="run 20250501T080000Z-cafecafe on laptop (pid 42)")

    execution, function = execute(endpoint, monkeypatch, busy)

    assert execution["status"] == "SUCCEEDED"
    assert output(execution)["status"] == "busy"
    assert output(execution)["last"]["holder"].startswith("run 20250501T080000Z-cafecafe")
    assert len(function.events) == 1


def test_a_run_that_failed_as_a_whole_fails_the_execution(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution, function = execute(endpoint, monkeypatch, hop("failed"))

    assert execution["status"] == "FAILED"
    assert execution["error"] == "RunFailed"
    assert len(function.events) == 1


def test_the_hop_guard_stops_a_runaway(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    execution, function = execute(endpoint, monkeypatch, hop("partial", more=True), max_hops=4)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "HopLimitReached"
    assert len(function.events) == 4


# `cinelake lambda invoke` starts an execution and follows it ----------------------------------
def stack_naming(endpoint: str, state_machine_arn: str) -> str:
    """A stack whose only job is to name the state machine, as the real template's output does."""
    name = f"cinelake-invoke-{time.monotonic_ns()}"
    template = {
        "Resources": {"Marker": {"Type": "AWS::Logs::LogGroup", "Properties": {}}},
        "Outputs": {
            "FunctionName": {"Value": "cinelake-test-tmdb"},
            "StateMachineArn": {"Value": state_machine_arn},
        },
    }
    cloudformation = boto3.client("cloudformation", endpoint_url=endpoint, region_name="us-east-1")
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    return name


def invoke_cli(
    endpoint: str, monkeypatch: pytest.MonkeyPatch, *answers: Answer
) -> tuple[CliResult, ScriptedLambda]:
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1")
    machine = sfn.create_state_machine(
        name=f"cinelake-{time.monotonic_ns()}", definition=definition(), roleArn=ROLE_ARN
    )
    stack = stack_naming(endpoint, machine["stateMachineArn"])
    env = {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "PATH": os.environ["PATH"]}
    with ScriptedLambda(*answers) as function:
        monkeypatch.setenv("MOTO_PORT", str(function.port))
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # boto3 reads it from the process
        result = cli(["lambda", "invoke", "--stack", stack, "--event", '{"plan": "daily"}'], env)
    return result, function


def test_lambda_invoke_follows_the_execution_and_prints_each_hop(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, function = invoke_cli(
        endpoint,
        monkeypatch,
        hop("partial", more=True, hop=1, counts={"landed": 900}),
        hop(hop=2, counts={"landed": 100}),
    )

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("hop 1: partial, 900 landed") and "more work" in lines[0]
    assert lines[1].startswith("hop 2: succeeded, 100 landed")
    assert json.loads("\n".join(lines[2:]))["status"] == "succeeded"
    assert [event["input"] for event in function.events] == [DAILY, DAILY]


def test_lambda_invoke_says_how_to_redrive_a_failed_execution(
    endpoint: str, monkeypatch: pytest.MonkeyPatch, slept: list[float]
) -> None:
    result, _ = invoke_cli(endpoint, monkeypatch, FunctionError("RunError", "S3 is down"))

    assert result.code == 1
    assert "FAILED: RunError" in result.err
    assert "aws stepfunctions redrive-execution --execution-arn arn:aws:states:" in result.err
    assert result.out.count("hop failed: RunError") == 3


def test_lambda_invoke_exits_75_when_the_execution_ends_busy(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, _ = invoke_cli(endpoint, monkeypatch, hop("busy", hop=1, holder="run x on y (pid 1)"))

    assert result.code == 75
    assert "hop 1: busy, another run holds the lake (run x on y (pid 1)" in result.out
