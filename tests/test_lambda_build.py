"""What goes into the Lambda zips, and that a rebuild gives the same bytes."""

from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path

import pytest

import cinelake
from cinelake.aws_lambda.build import (
    Artifact,
    ArtifactTooLarge,
    LambdaLimits,
    build_artifacts,
    build_function,
    check_limits,
    load_artifacts,
)
from cinelake.errors import CinelakeError


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Artifact]:
    out = tmp_path_factory.mktemp("dist")
    return {artifact.name: artifact for artifact in build_artifacts(out, "x86_64", "3.12")}


def _names(artifact: Artifact) -> list[str]:
    with zipfile.ZipFile(artifact.path) as archive:
        return archive.namelist()


def _top_level_packages(artifact: Artifact) -> set[str]:
    return {name.split("/")[1] for name in _names(artifact) if name.count("/") >= 2}


def test_layer_holds_requests_dotenv_and_their_dependencies(
    artifacts: dict[str, Artifact],
) -> None:
    packages = _top_level_packages(artifacts["layer.zip"])

    assert {"requests", "dotenv", "urllib3", "certifi", "idna", "charset_normalizer"} <= packages


def test_layer_leaves_out_what_the_lambda_runtime_provides(
    artifacts: dict[str, Artifact],
) -> None:
    packages = _top_level_packages(artifacts["layer.zip"])

    assert not {"boto3", "botocore", "s3transfer"} & packages


def test_layer_puts_everything_under_python(artifacts: dict[str, Artifact]) -> None:
    assert all(name.startswith("python/") for name in _names(artifacts["layer.zip"]))


def test_layer_has_no_scripts_or_bytecode(artifacts: dict[str, Artifact]) -> None:
    names = _names(artifacts["layer.zip"])

    assert not [n for n in names if n.startswith("python/bin/") or "__pycache__" in n]
    assert not [n for n in names if n.endswith(".pyc")]


def test_layer_ships_native_code_built_for_the_target_python(
    artifacts: dict[str, Artifact],
) -> None:
    native = [n for n in _names(artifacts["layer.zip"]) if n.endswith(".so")]

    assert native
    assert all("cpython-312-x86_64-linux-gnu" in n for n in native)


def test_function_zip_has_the_cinelake_package_at_its_root(
    artifacts: dict[str, Artifact],
) -> None:
    names = _names(artifacts["function.zip"])

    assert "cinelake/__init__.py" in names
    assert "cinelake/aws_lambda/build.py" in names
    assert all(name.startswith("cinelake/") for name in names)


def test_function_zip_leaves_out_test_fixtures_and_bytecode(
    artifacts: dict[str, Artifact],
) -> None:
    names = _names(artifacts["function.zip"])

    assert not [n for n in names if n.startswith("cinelake/testing/")]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_zip_entries_are_sorted_with_fixed_time_and_permissions(
    artifacts: dict[str, Artifact],
) -> None:
    with zipfile.ZipFile(artifacts["layer.zip"].path) as archive:
        infos = archive.infolist()

    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {stat.S_IMODE(i.external_attr >> 16) for i in infos if i.is_dir()} == {0o755}
    assert {stat.S_IMODE(i.external_attr >> 16) for i in infos if not i.is_dir()} == {0o644}


def test_artifact_records_size_unzipped_size_and_sha256(
    artifacts: dict[str, Artifact],
) -> None:
    layer = artifacts["layer.zip"]
    with zipfile.ZipFile(layer.path) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())

    assert layer.size_bytes == layer.path.stat().st_size
    assert layer.unzipped_bytes == unzipped
    assert len(layer.sha256) == 64


def test_two_builds_from_the_same_inputs_give_the_same_bytes(tmp_path: Path) -> None:
    # A snapshot of the package: the same inputs even while someone edits src/.
    package = Path(shutil.copytree(Path(cinelake.__file__).parent, tmp_path / "src" / "cinelake"))

    first = build_artifacts(tmp_path / "first", "x86_64", "3.12", package_dir=package)
    second = build_artifacts(tmp_path / "second", "x86_64", "3.12", package_dir=package)

    assert [a.sha256 for a in first] == [a.sha256 for a in second]


def test_source_date_epoch_sets_the_zip_timestamps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    package = tmp_path / "src" / "cinelake"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")

    function = build_function(tmp_path / "function.zip", package)

    with zipfile.ZipFile(function.path) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2026, 1, 1, 0, 0, 0)}


def test_an_artifact_over_the_zipped_limit_is_refused(
    artifacts: dict[str, Artifact],
) -> None:
    limits = LambdaLimits(max_zipped_bytes=1024, max_unzipped_bytes=10**9)

    with pytest.raises(ArtifactTooLarge, match=r"layer\.zip is \d+ bytes zipped"):
        check_limits(list(artifacts.values()), limits)


def test_layer_and_function_over_the_unzipped_limit_are_refused(
    artifacts: dict[str, Artifact],
) -> None:
    limits = LambdaLimits(max_zipped_bytes=10**9, max_unzipped_bytes=1024)

    with pytest.raises(ArtifactTooLarge, match="unzip to"):
        check_limits(list(artifacts.values()), limits)


def test_build_checks_the_limits_it_is_given(tmp_path: Path) -> None:
    with pytest.raises(ArtifactTooLarge):
        build_artifacts(tmp_path, limits=LambdaLimits(max_zipped_bytes=1024))


def test_artifact_too_large_is_a_cinelake_error() -> None:
    assert issubclass(ArtifactTooLarge, CinelakeError)


def test_a_previous_build_for_the_same_target_is_reused(artifacts: dict[str, Artifact]) -> None:
    out = artifacts["layer.zip"].path.parent

    reused = load_artifacts(out, "x86_64", "3.12")

    assert reused is not None
    assert {a.name: a.sha256 for a in reused} == {n: a.sha256 for n, a in artifacts.items()}


def test_a_previous_build_for_another_architecture_is_not_reused(
    artifacts: dict[str, Artifact],
) -> None:
    out = artifacts["layer.zip"].path.parent

    assert load_artifacts(out, "arm64", "3.12") is None


def test_a_zip_changed_since_its_build_is_not_reused(tmp_path: Path) -> None:
    build_artifacts(tmp_path)
    with (tmp_path / "function.zip").open("ab") as stream:
        stream.write(b"tampered")

    assert load_artifacts(tmp_path, "x86_64", "3.12") is None
