"""Build the Lambda artifacts (`layer.zip`, `function.zip`) reproducibly, without Docker.

A deploy uploads artifacts under content-addressed keys, so the same inputs must give the same
bytes: otherwise every build would look like a change and CloudFormation would publish a new
layer version each time. Everything that leaks the build machine into a zip (timestamps,
permissions, entry order, `bin/` shebangs, bytecode) is normalised away here.

The layer is installed by pip for the *target* platform (`--platform manylinux…`,
`--python-version`), never for the interpreter running the build, and with `--no-deps` from
a fully pinned, hashed list, so environment markers of the build interpreter play no part.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cinelake.errors import CinelakeError, UsageError

Arch = Literal["x86_64", "arm64"]
PythonVersion = Literal["3.12", "3.13"]

MIB = 1024 * 1024
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 9
FILE_MODE = 0o644
DIR_MODE = 0o755

BUILD_MANIFEST = "build.json"

_PLATFORM_TAGS = ("manylinux_2_34_{m}", "manylinux_2_28_{m}", "manylinux2014_{m}")
_MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}


class ArtifactTooLarge(CinelakeError):
    """An artifact would be refused by Lambda; raised before anything is uploaded."""


class BuildError(CinelakeError):
    """pip could not produce the layer (network, a pin without a wheel for the target)."""


@dataclass(frozen=True)
class Artifact:
    """One built zip, with the numbers Lambda's limits and the content-addressed key need."""

    name: str
    path: Path
    size_bytes: int
    unzipped_bytes: int
    sha256: str


@dataclass(frozen=True)
class LambdaLimits:
    """Lambda's quotas; a parameter so tests can prove the check with tiny values."""

    max_zipped_bytes: int = 50 * MIB
    max_unzipped_bytes: int = 250 * MIB


def default_requirements() -> Path:
    """Find `deploy/layer-requirements.txt` next to the source tree or the working directory.

    The pins live in the repository (the Dockerfile uses the same file), not in the package.
    """
    package_dir = Path(__file__).resolve().parent
    for base in (*package_dir.parents, Path.cwd()):
        candidate = base / "deploy" / "layer-requirements.txt"
        if candidate.is_file():
            return candidate
    raise UsageError(
        "deploy/layer-requirements.txt not found; run from the cinelake repository "
        "or pass the requirements file explicitly"
    )


def zip_timestamp() -> tuple[int, int, int, int, int, int]:
    """Honour SOURCE_DATE_EPOCH (reproducible-builds.org) and fall back to the zip epoch."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return FIXED_ZIP_TIME
    moment = time.gmtime(int(epoch))
    if moment.tm_year < 1980:
        return FIXED_ZIP_TIME
    return (
        moment.tm_year,
        moment.tm_mon,
        moment.tm_mday,
        moment.tm_hour,
        moment.tm_min,
        moment.tm_sec - moment.tm_sec % 2,
    )


def write_deterministic_zip(root: Path, files: Iterable[Path], destination: Path) -> int:
    """Zip `files` (under `root`) with sorted entries and fixed metadata; return unzipped bytes.

    Directory entries are written too, so an unzip recreates them with 0o755 and not with
    whatever the extracting tool's umask says.
    """
    stamp = zip_timestamp()
    names: set[str] = set()
    for file in files:
        relative = file.relative_to(root).as_posix()
        names.add(relative)
        parts = relative.split("/")[:-1]
        names.update("/".join(parts[: i + 1]) + "/" for i in range(len(parts)))
    unzipped = 0
    partial = destination.with_name(destination.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(names):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.create_system = 3
            if name.endswith("/"):
                info.external_attr = ((0o040000 | DIR_MODE) << 16) | 0x10
                archive.writestr(info, b"")
                continue
            info.external_attr = (0o100000 | FILE_MODE) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = (root / name).read_bytes()
            unzipped += len(data)
            archive.writestr(info, data, compresslevel=COMPRESS_LEVEL)
    partial.replace(destination)
    return unzipped


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def _artifact(path: Path, unzipped: int) -> Artifact:
    return Artifact(
        name=path.name,
        path=path,
        size_bytes=path.stat().st_size,
        unzipped_bytes=unzipped,
        sha256=_sha256(path),
    )


def pip_install_command(
    requirements: Path,
    target: Path,
    arch: Arch,
    python_version: PythonVersion,
    pip_cache_dir: Path | None,
) -> list[str]:
    """The pip invocation that installs the pinned closure for Lambda's platform."""
    machine = _MACHINE[arch]
    command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
    for tag in _PLATFORM_TAGS:
        command += ["--platform", tag.format(m=machine)]
    command += [
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
        "--no-deps",
        "--no-compile",
        "--require-hashes",
        "--requirement",
        str(requirements),
        "--target",
        str(target),
    ]
    if pip_cache_dir is not None:
        command += ["--cache-dir", str(pip_cache_dir)]
    return command


def _strip_record(record: Path) -> None:
    """Drop RECORD lines for the removed `bin/` scripts: their hashes embed the build's shebang."""
    lines = record.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith("../") and "__pycache__/" not in line]
    record.write_text("".join(kept), encoding="utf-8")


def _clean_site(site: Path) -> None:
    shutil.rmtree(site / "bin", ignore_errors=True)
    for cache in sorted(site.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)
    for compiled in site.rglob("*.pyc"):
        compiled.unlink()
    for record in site.glob("*.dist-info/RECORD"):
        _strip_record(record)


def build_layer(
    destination: Path,
    arch: Arch,
    python_version: PythonVersion,
    requirements: Path,
    pip_cache_dir: Path | None = None,
) -> Artifact:
    """Install the pinned dependencies under `python/` and zip them as a Lambda layer."""
    with tempfile.TemporaryDirectory(prefix="cinelake-layer-") as scratch:
        root = Path(scratch)
        site = root / "python"
        command = pip_install_command(requirements, site, arch, python_version, pip_cache_dir)
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise BuildError(
                f"pip could not install {requirements} for {arch}/cp{python_version}: "
                f"{completed.stderr.strip()[-2000:]}"
            )
        _clean_site(site)
        files = [path for path in site.rglob("*") if path.is_file()]
        unzipped = write_deterministic_zip(root, files, destination)
    return _artifact(destination, unzipped)


def _function_files(package_dir: Path) -> list[Path]:
    files = []
    for path in package_dir.rglob("*"):
        if not path.is_file() or path.suffix == ".pyc":
            continue
        parts = path.relative_to(package_dir).parts
        if parts[0] == "testing" or "__pycache__" in parts:
            continue
        files.append(path)
    return files


def build_function(destination: Path, package_dir: Path) -> Artifact:
    """Zip the `cinelake` package source; test fixtures in `cinelake/testing/` stay out."""
    files = _function_files(package_dir)
    unzipped = write_deterministic_zip(package_dir.parent, files, destination)
    return _artifact(destination, unzipped)


def check_limits(artifacts: Sequence[Artifact], limits: LambdaLimits) -> None:
    """Fail before upload with the numbers, not after a CloudFormation rollback."""
    for artifact in artifacts:
        if artifact.size_bytes > limits.max_zipped_bytes:
            raise ArtifactTooLarge(
                f"{artifact.name} is {artifact.size_bytes} bytes zipped; Lambda accepts at most "
                f"{limits.max_zipped_bytes} bytes per direct upload"
            )
    total = sum(artifact.unzipped_bytes for artifact in artifacts)
    if total > limits.max_unzipped_bytes:
        raise ArtifactTooLarge(
            f"layer and function unzip to {total} bytes together; Lambda accepts at most "
            f"{limits.max_unzipped_bytes} bytes"
        )


def build_artifacts(
    out_dir: Path,
    arch: Arch = "x86_64",
    python_version: PythonVersion = "3.12",
    *,
    requirements: Path | None = None,
    package_dir: Path | None = None,
    pip_cache_dir: Path | None = None,
    limits: LambdaLimits | None = None,
) -> list[Artifact]:
    """Write `layer.zip` and `function.zip` to `out_dir` and check them against Lambda's limits."""
    out_dir.mkdir(parents=True, exist_ok=True)
    layer = build_layer(
        out_dir / "layer.zip",
        arch,
        python_version,
        requirements or default_requirements(),
        pip_cache_dir,
    )
    function = build_function(
        out_dir / "function.zip", package_dir or Path(__file__).resolve().parents[1]
    )
    artifacts = [layer, function]
    check_limits(artifacts, limits or LambdaLimits())
    manifest = {
        "arch": arch,
        "python_version": python_version,
        "artifacts": [
            {"name": a.name, "unzipped_bytes": a.unzipped_bytes, "sha256": a.sha256}
            for a in artifacts
        ],
    }
    (out_dir / BUILD_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return artifacts


def load_artifacts(
    out_dir: Path, arch: Arch, python_version: PythonVersion
) -> list[Artifact] | None:
    """Re-use a previous build only when it targets the same platform and its zips are intact.

    A layer built for another architecture or Python would deploy fine and fail at import time
    on Lambda, so a mismatch means "build again", never "use what is there".
    """
    try:
        manifest = json.loads((out_dir / BUILD_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("arch") != arch or manifest.get("python_version") != python_version:
        return None
    artifacts = []
    for entry in manifest.get("artifacts", []):
        path = out_dir / str(entry["name"])
        if not path.is_file() or _sha256(path) != entry["sha256"]:
            return None
        artifacts.append(_artifact(path, int(entry["unzipped_bytes"])))
    names = {artifact.name for artifact in artifacts}
    return artifacts if names == {"layer.zip", "function.zip"} else None
