"""Lay out artifacts as Lambda does and start the real runtime client against a stand-in API.

Lambda's python3.12 runtime holds boto3 + awslambdaric only; the function zip lands in the task
directory and each layer under /opt. Here a cached Python 3.12 venv with just those two
packages plays the runtime, so an import that only works thanks to the build machine's
site-packages fails here as it would on Lambda.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNTIME_VENV = REPO_ROOT / ".cache" / "lambda-py312"
RUNTIME_PYTHON = "3.12.1"
RUNTIME_PACKAGES = ("boto3", "awslambdaric")
FUNCTION_NAME = "cinelake-test-tmdb"
REGION = "us-east-1"

# Lambda's own bootstrap puts the task root first, then the layer paths, then the runtime's
# packages; `python -I` keeps PYTHONPATH and the user site of the test machine out.
BOOTSTRAP = """\
import runpy, sys
task, opt = sys.argv[1], sys.argv[2]
sys.path[0:0] = [task, opt + "/python/lib/python3.12/site-packages", opt + "/python"]
sys.argv = ["awslambdaric", *sys.argv[3:]]
runpy.run_module("awslambdaric", run_name="__main__", alter_sys=True)
"""


def runtime_python() -> Path:
    """Return the runtime venv's interpreter, creating the venv on first use."""
    python = RUNTIME_VENV / "bin" / "python"
    marker = RUNTIME_VENV / ".ready"
    if marker.is_file():
        return python
    shutil.rmtree(RUNTIME_VENV, ignore_errors=True)
    subprocess.run([str(_python312()), "-m", "venv", str(RUNTIME_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *RUNTIME_PACKAGES],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    marker.touch()
    return python


def _python312() -> Path:
    """Any CPython 3.12: on PATH, or from pyenv, which installs it when it is missing."""
    on_path = shutil.which("python3.12")
    if on_path and "/shims/" not in on_path:  # a pyenv shim only runs for a selected version
        return Path(on_path)
    versions = subprocess.run(
        ["pyenv", "versions", "--bare"], capture_output=True, text=True, check=True
    ).stdout.split()
    installed = sorted(v for v in versions if v.startswith("3.12."))
    version = installed[-1] if installed else RUNTIME_PYTHON
    if not installed:
        subprocess.run(["pyenv", "install", "--skip-existing", version], check=True)
    prefix = subprocess.run(
        ["pyenv", "prefix", version], capture_output=True, text=True, check=True
    ).stdout.strip()
    return Path(prefix) / "bin" / "python3.12"


def unpack(archive: Path, destination: Path) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(destination)
    return destination


@dataclass
class Sandbox:
    """One running runtime process; `stop` ends it and returns its output (the function's logs)."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=30)
        return self.log_path.read_text(errors="replace")


def start_runtime(
    task_dir: Path,
    opt_dir: Path,
    api_address: str,
    *,
    handler: str = "cinelake.aws_lambda.handler.handler",
    extra_env: dict[str, str] | None = None,
    memory_mb: int = 512,
) -> Sandbox:
    """Start awslambdaric for `handler` with the environment Lambda gives a function."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(task_dir),
        "_HANDLER": handler,
        "AWS_LAMBDA_RUNTIME_API": api_address,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        **(extra_env or {}),
    }
    command = [
        str(runtime_python()),
        "-I",
        "-c",
        BOOTSTRAP,
        str(task_dir),
        str(opt_dir),
        handler,
    ]
    log_path = task_dir.parent / f"{task_dir.name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=task_dir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    return Sandbox(process, log_path)


def python_is_available() -> bool:
    """The rig needs pyenv's 3.12 (or an already prepared venv); skip cleanly without it."""
    return (
        (RUNTIME_VENV / ".ready").is_file()
        or shutil.which("python3.12") is not None
        or shutil.which("pyenv") is not None
    )


__all__ = ["Sandbox", "python_is_available", "runtime_python", "start_runtime", "unpack"]
