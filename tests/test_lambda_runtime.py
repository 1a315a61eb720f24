"""The built artifacts run under the real Lambda runtime client, as on Lambda (python3.12)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from conftest import ACCESS_KEY, REGION, SECRET_KEY, S3Endpoint, new_bucket
from lambda_rig.runtime_api import RuntimeApi
from lambda_rig.sandbox import Sandbox, python_is_available, start_runtime, unpack
from test_state_machine import definition

from cinelake.aws_lambda.build import Artifact, build_artifacts
from cinelake.aws_lambda.deploy import AwsClients, invoke_function
from cinelake.csv_ingest.run import CsvIngestRequest, CsvSource, ingest_csv
from cinelake.settings import load_settings
from cinelake.store import open_store
from cinelake.testing.tmdb_emulator import EmulatorConfig, TmdbEmulator

REPO = Path(__file__).resolve().parents[1]
MOVIES_CSV = REPO / "data" / "sample" / "movies.csv"
SERIES_CSV = REPO / "data" / "sample" / "series.csv"

pytestmark = pytest.mark.skipif(
    not python_is_available(), reason="needs pyenv's Python 3.12 for the runtime sandbox"
)

PROBE_HANDLER = """\
import cinelake
import dotenv
import requests


def handler(event, context):
    return {
        "event": event,
        "function_name": context.function_name,
        "requests_file": requests.__file__,
        "dotenv_file": dotenv.__file__,
        "cinelake_file": cinelake.__file__,
    }
"""


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Artifact]:
    out = tmp_path_factory.mktemp("dist")
    return {artifact.name: artifact for artifact in build_artifacts(out, "x86_64", "3.12")}


@pytest.fixture
def runtime_api() -> Iterator[RuntimeApi]:
    api = RuntimeApi()
    api.start()
    yield api
    api.stop()


def _task_dir_with_probe(function_zip: Path, root: Path) -> Path:
    task = unpack(function_zip, root / "task")
    (task / "probe_handler.py").write_text(PROBE_HANDLER)
    return task


@pytest.fixture
def probe_sandbox(
    artifacts: dict[str, Artifact], runtime_api: RuntimeApi, tmp_path: Path
) -> Iterator[tuple[Sandbox, Path, Path]]:
    task = _task_dir_with_probe(artifacts["function.zip"].path, tmp_path)
    opt = unpack(artifacts["layer.zip"].path, tmp_path / "opt")
    sandbox = start_runtime(task, opt, runtime_api.address, handler="probe_handler.handler")
    yield sandbox, task, opt
    sandbox.stop()


def test_handler_returns_its_dict_as_the_invocation_response(
    probe_sandbox: tuple[Sandbox, Path, Path], runtime_api: RuntimeApi
) -> None:
    outcome = runtime_api.invoke({"source": "aws.events"})

    assert outcome.kind == "response"
    assert outcome.body["event"] == {"source": "aws.events"}
    assert outcome.body["function_name"] == "cinelake-test-tmdb"


def test_requests_and_dotenv_are_imported_from_the_layer(
    probe_sandbox: tuple[Sandbox, Path, Path], runtime_api: RuntimeApi
) -> None:
    _, _, opt = probe_sandbox

    outcome = runtime_api.invoke({})

    assert outcome.body["requests_file"].startswith(str(opt / "python"))
    assert outcome.body["dotenv_file"].startswith(str(opt / "python"))


def test_cinelake_is_imported_from_the_function_zip_in_the_task_dir(
    probe_sandbox: tuple[Sandbox, Path, Path], runtime_api: RuntimeApi
) -> None:
    _, task, _ = probe_sandbox

    outcome = runtime_api.invoke({})

    assert outcome.body["cinelake_file"] == str(task / "cinelake" / "__init__.py")


def test_an_empty_layer_surfaces_as_runtime_import_module_error(
    artifacts: dict[str, Artifact], runtime_api: RuntimeApi, tmp_path: Path
) -> None:
    task = _task_dir_with_probe(artifacts["function.zip"].path, tmp_path)
    empty_opt = tmp_path / "opt"
    empty_opt.mkdir()
    sandbox = start_runtime(task, empty_opt, runtime_api.address, handler="probe_handler.handler")

    outcome = runtime_api.invoke({})
    sandbox.stop()

    assert outcome.kind == "init_error"
    assert outcome.body["errorType"] == "Runtime.ImportModuleError"


@pytest.fixture
def raw_lake(moto_endpoint: S3Endpoint) -> Iterator[tuple[S3Endpoint, str, str]]:
    """A moto bucket holding today's sample CSVs, and a Secrets Manager secret for TMDB."""
    bucket = new_bucket(moto_endpoint)
    settings = load_settings(
        environ={**moto_endpoint.env(), "CINELAKE_LAKE": f"s3://{bucket}"}, env_file=None
    )
    sources = (CsvSource("Movies", MOVIES_CSV), CsvSource("Series", SERIES_CSV))
    ingest_csv(CsvIngestRequest(sources, datetime.now(UTC).date()), open_store(settings))
    secrets = boto3.client(
        "secretsmanager",
        endpoint_url=moto_endpoint.url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    secret_name = f"cinelake-tmdb-{uuid.uuid4().hex[:8]}"
    secret = secrets.create_secret(
        Name=secret_name, SecretString=json.dumps({"TMDB_API_KEY": EmulatorConfig().api_key})
    )
    yield moto_endpoint, bucket, secret["ARN"]


def _handler_env(
    endpoint: S3Endpoint, bucket: str, secret_arn: str, tmdb_url: str
) -> dict[str, str]:
    """What the template gives the function, with every AWS service on loopback."""
    return {
        "AWS_ENDPOINT_URL": endpoint.url,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_SESSION_TOKEN": "role-session-token",
        "NOME_DO_BUCKET_S3": bucket,
        "TMDB_SECRET_ID": secret_arn,
        "TMDB_BASE_URL": tmdb_url,
    }


def _keys(endpoint: S3Endpoint, bucket: str, prefix: str) -> list[str]:
    answer = endpoint.client().list_objects_v2(Bucket=bucket, Prefix=prefix)  # type: ignore[attr-defined]
    return [item["Key"] for item in answer.get("Contents", [])]


def test_scheduled_event_lands_raw_files_and_manifest(
    artifacts: dict[str, Artifact],
    runtime_api: RuntimeApi,
    raw_lake: tuple[S3Endpoint, str, str],
    tmp_path: Path,
) -> None:
    endpoint, bucket, secret_arn = raw_lake
    task = unpack(artifacts["function.zip"].path, tmp_path / "task")
    opt = unpack(artifacts["layer.zip"].path, tmp_path / "opt")
    with TmdbEmulator(EmulatorConfig()) as emulator:
        env = _handler_env(endpoint, bucket, secret_arn, emulator.base_url)
        sandbox = start_runtime(task, opt, runtime_api.address, extra_env=env)
        outcome = runtime_api.invoke({"source": "aws.events", "detail-type": "Scheduled Event"})
        logs = sandbox.stop()

    day = datetime.now(UTC).date().strftime("%Y/%m/%d")
    assert outcome.kind == "response", logs
    assert outcome.body["status"] == "succeeded"
    assert outcome.body["plan"] == "daily"
    assert [run["plan"] for run in outcome.body["runs"]] == ["from-csv", "refresh"]
    assert outcome.body["runs"][0]["counts"]["requested"] == 200
    assert _keys(endpoint, bucket, f"Raw/TMDB/JSON/Movies/{day}/")
    assert _keys(endpoint, bucket, f"Raw/TMDB/JSON/Series/{day}/")
    assert outcome.body["manifest"] in _keys(endpoint, bucket, f"Raw/_manifests/{day}/")
    assert EmulatorConfig().api_key not in logs


def test_the_schedule_succeeds_on_two_days_in_a_row_with_csvs_landed_only_on_the_first(
    artifacts: dict[str, Artifact],
    runtime_api: RuntimeApi,
    raw_lake: tuple[S3Endpoint, str, str],
    tmp_path: Path,
) -> None:
    endpoint, bucket, secret_arn = raw_lake
    today = datetime.now(UTC).date()
    task = unpack(artifacts["function.zip"].path, tmp_path / "task")
    opt = unpack(artifacts["layer.zip"].path, tmp_path / "opt")
    with TmdbEmulator(EmulatorConfig()) as emulator:
        env = _handler_env(endpoint, bucket, secret_arn, emulator.base_url)
        sandbox = start_runtime(task, opt, runtime_api.address, extra_env=env)
        outcomes = [
            runtime_api.invoke(
                {
                    "source": "aws.events",
                    "detail-type": "Scheduled Event",
                    "time": f"{day.isoformat()}T06:00:00Z",
                }
            )
            for day in (today, today + timedelta(days=1))
        ]
        logs = sandbox.stop()

    assert [o.kind for o in outcomes] == ["response", "response"], logs
    assert [o.body["status"] for o in outcomes] == ["succeeded", "succeeded"]
    assert [o.body["more"] for o in outcomes] == [False, False]
    assert [r["plan"] for r in outcomes[0].body["runs"]] == ["from-csv", "refresh"]
    second = outcomes[1].body["runs"]
    assert [(r["plan"], r["date"]) for r in second] == [
        ("refresh", (today + timedelta(days=1)).isoformat())
    ]


def test_the_state_machine_drives_short_hops_of_the_real_handler_to_the_end(
    artifacts: dict[str, Artifact],
    raw_lake: tuple[S3Endpoint, str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """moto's Step Functions runs the template's loop; each Task reaches awslambdaric."""
    endpoint, bucket, secret_arn = raw_lake
    api = RuntimeApi(timeout_ms=66_000)  # six seconds once the 60 s safety margin is kept
    api.start()
    task = unpack(artifacts["function.zip"].path, tmp_path / "task")
    opt = unpack(artifacts["layer.zip"].path, tmp_path / "opt")
    moto_config = f"{endpoint.url}/moto-api/config"
    requests.post(moto_config, json={"stepfunctions": {"execute_state_machine": True}}, timeout=10)
    monkeypatch.setenv("MOTO_PORT", api.address.rsplit(":", 1)[1])  # moto's Tasks call Lambda here
    try:
        with TmdbEmulator(EmulatorConfig(latency_ms=20)) as emulator:
            env = _handler_env(endpoint, bucket, secret_arn, emulator.base_url)
            sandbox = start_runtime(task, opt, api.address, extra_env=env)
            execution = _run_to_the_end(endpoint, {"plan": "from-csv", "rate": 40})
            logs = sandbox.stop()
        hops = [outcome.body for outcome in api.wait_for_outcomes(1)]
    finally:
        requests.post(
            moto_config, json={"stepfunctions": {"execute_state_machine": False}}, timeout=10
        )
        api.stop()

    assert execution["status"] == "SUCCEEDED", (execution["status"], len(hops), logs[-3000:])
    assert len(hops) >= 2
    assert [hop["more"] for hop in hops] == [True] * (len(hops) - 1) + [False]
    assert [hop["hop"] for hop in hops] == list(range(1, len(hops) + 1))
    assert len({hop["date"] for hop in hops}) == 1
    assert hops[-1]["status"] == "succeeded"
    assert hops[-1]["counts"]["landed"] == 190
    emf = [json.loads(line) for line in logs.splitlines() if '"_aws"' in line]
    assert len(emf) == len(hops), "one metric line per hop"
    assert sum(doc["Requests"] for doc in emf) == emulator.stats().total_requests


def _run_to_the_end(endpoint: S3Endpoint, execution_input: dict[str, Any]) -> dict[str, Any]:
    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=endpoint.url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    machine = sfn.create_state_machine(
        name=f"cinelake-{uuid.uuid4().hex[:8]}",
        definition=definition(),
        roleArn="arn:aws:iam::123456789012:role/cinelake-state-machine",
    )
    started = sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"], input=json.dumps(execution_input)
    )
    deadline = time.monotonic() + 180
    while True:
        execution = sfn.describe_execution(executionArn=started["executionArn"])
        if execution["status"] != "RUNNING" or time.monotonic() > deadline:
            return dict(execution)
        time.sleep(0.2)


def test_cinelake_lambda_invoke_runs_the_function_once_and_returns_its_summary(
    artifacts: dict[str, Artifact],
    runtime_api: RuntimeApi,
    raw_lake: tuple[S3Endpoint, str, str],
    tmp_path: Path,
) -> None:
    endpoint, bucket, secret_arn = raw_lake
    session = boto3.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
    )
    stack = f"cinelake-invoke-{uuid.uuid4().hex[:8]}"
    cloudformation = session.client("cloudformation", endpoint_url=endpoint.url)
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(ONE_OUTPUT_TEMPLATE))
    clients = AwsClients(
        s3=session.client("s3", endpoint_url=endpoint.url),
        cloudformation=cloudformation,
        secretsmanager=session.client("secretsmanager", endpoint_url=endpoint.url),
        lambda_=session.client("lambda", endpoint_url=f"http://{runtime_api.address}"),
        account_id="123456789012",
        region=REGION,
    )
    task = unpack(artifacts["function.zip"].path, tmp_path / "task")
    opt = unpack(artifacts["layer.zip"].path, tmp_path / "opt")
    with TmdbEmulator(EmulatorConfig()) as emulator:
        env = _handler_env(endpoint, bucket, secret_arn, emulator.base_url)
        sandbox = start_runtime(task, opt, runtime_api.address, extra_env=env)
        summary = invoke_function(stack, {"plan": "ids", "ids": ["movie:550"]}, clients=clients)
        sandbox.stop()

    assert summary["status"] == "succeeded"
    assert summary["counts"]["landed"] == 1


ONE_OUTPUT_TEMPLATE = {
    "Resources": {"Marker": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 1}}},
    "Outputs": {"FunctionName": {"Value": "cinelake-test-tmdb"}},
}
"""A stack whose only job is to name the function, as the real template's output does."""
