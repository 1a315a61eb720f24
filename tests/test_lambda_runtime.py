"""The built artifacts run under the real Lambda runtime client, as on Lambda (python3.12)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from conftest import ACCESS_KEY, REGION, SECRET_KEY, S3Endpoint, new_bucket
from lambda_rig.runtime_api import RuntimeApi
from lambda_rig.sandbox import Sandbox, python_is_available, start_runtime, unpack

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
    endpoint: S3Endpoint, bucket: str, secret_arn: str, tmdb_url: str, api: RuntimeApi
) -> dict[str, str]:
    """What the template gives the function, with every AWS service on loopback."""
    return {
        "AWS_ENDPOINT_URL": endpoint.url,
        "AWS_ENDPOINT_URL_LAMBDA": f"http://{api.address}",
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_SESSION_TOKEN": "role-session-token",
        "NOME_DO_BUCKET_S3": bucket,
        "TMDB_SECRET_ID": secret_arn,
        "TMDB_BASE_URL": tmdb_url,
        "CINELAKE_CONTINUE": "true",
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
        env = _handler_env(endpoint, bucket, secret_arn, emulator.base_url, runtime_api)
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
        env = _handler_env(endpoint, bucket, secret_arn, emulator.base_url, runtime_api)
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
    assert [o.body["work_remains"] for o in outcomes] == [False, False]
    assert [r["plan"] for r in outcomes[0].body["runs"]] == ["from-csv", "refresh"]
    second = outcomes[1].body["runs"]
    assert [(r["plan"], r["date"]) for r in second] == [
        ("refresh", (today + timedelta(days=1)).isoformat())
    ]


def test_a_short_deadline_stops_partial_and_the_function_continues_itself(
    artifacts: dict[str, Artifact], raw_lake: tuple[S3Endpoint, str, str], tmp_path: Path
) -> None:
    endpoint, bucket, secret_arn = raw_lake
    api = RuntimeApi(timeout_ms=63_000)  # three seconds once the 60 s safety margin is kept
    api.start()
    task = unpack(artifacts["function.zip"].path, tmp_path / "task")
    opt = unpack(artifacts["layer.zip"].path, tmp_path / "opt")
    try:
        with TmdbEmulator(EmulatorConfig(latency_ms=20)) as emulator:
            env = _handler_env(endpoint, bucket, secret_arn, emulator.base_url, api)
            sandbox = start_runtime(task, opt, api.address, extra_env=env)
            first = api.invoke({"plan": "from-csv", "rate": 40})
            outcomes = [first]
            while outcomes[-1].body.get("status") == "partial":
                outcomes = api.wait_for_outcomes(len(outcomes) + 1)
            logs = sandbox.stop()
    finally:
        api.stop()

    assert first.kind == "response", logs
    assert first.body["status"] == "partial"
    assert first.body["continued"] is True
    assert api.continuations[0]["hop"] == 1
    assert api.continuations[0]["date"] == first.body["date"]
    assert outcomes[-1].body["status"] == "succeeded"
    assert outcomes[-1].body["counts"]["landed"] == 190


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
        env = _handler_env(endpoint, bucket, secret_arn, emulator.base_url, runtime_api)
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
