"""`make demo` and `make demo-s3`: the whole pipeline on a fresh machine, in under a minute."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "scripts" / "demo.py"
STEPS = ("ingest-csv", "ingest-tmdb --from-csv", "status", "verify")


def load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cinelake_demo", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEMO), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def assert_demo_passed(
    result: subprocess.CompletedProcess[str], steps: tuple[str, ...] = STEPS
) -> None:
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    echoed = [line for line in out.splitlines() if line.startswith("$ cinelake ")]
    assert len(echoed) == len(steps)
    for line, step in zip(echoed, steps, strict=True):
        assert line.startswith(f"$ cinelake {step} "), line
    assert "cinelake: ingest-tmdb succeeded: 200 requested, 190 landed, 10 not found" in out
    assert "injected faults: " in out and "every one was retried" in out
    assert "Local CSV Movies" in out and "TMDB Errors" in out  # the status table
    assert "cinelake: verify: intact: 8 objects" in out
    assert "Where to look:" in out and "/Raw/_manifests/" in out
    assert "demo: all steps passed" in out


def test_make_demo_lands_checks_and_shows_a_local_lake(clean_env: Path) -> None:
    lake = clean_env / "lake"

    result = run_demo("--lake", str(lake), cwd=clean_env)

    assert_demo_passed(result, (*STEPS, "sql --output table"))
    assert "imdb_id    title" in result.stdout and "(5 rows)" in result.stdout
    day = datetime.now(UTC).date().strftime("%Y/%m/%d")
    assert (lake / "Raw" / "Local" / "CSV" / "Movies" / day / "movies.csv").read_bytes() == (
        REPO / "data" / "sample" / "movies.csv"
    ).read_bytes()
    assert len(list((lake / "Raw" / "_manifests" / day).glob("*.json"))) == 2
    assert "a fresh lake in" in result.stdout


def test_make_demo_s3_lands_in_a_local_s3_server(clean_env: Path) -> None:
    result = run_demo("--s3", cwd=clean_env)

    assert_demo_passed(result)
    assert "s3://cinelake-demo/Raw/Local/CSV/Movies/" in result.stdout
    assert not (clean_env / "lake").exists()


def test_a_previous_demo_lake_is_replaced_and_anything_else_is_left_alone(
    tmp_path: Path,
) -> None:
    demo = load_demo()
    fresh, why = demo.choose_lake(tmp_path / "lake")
    assert fresh == tmp_path / "lake" and "fresh" in why

    (tmp_path / "lake" / "Raw").mkdir(parents=True)
    (tmp_path / "lake" / "Raw" / "demo.csv").write_text("the demo's")
    demo.record_demo_lake(tmp_path / "lake")
    again, why = demo.choose_lake(tmp_path / "lake")
    assert again == tmp_path / "lake" and "previous demo" in why
    assert not (tmp_path / "lake").exists()

    (tmp_path / "lake" / "Raw").mkdir(parents=True)
    (tmp_path / "lake" / "Raw" / "precious.csv").write_text("mine")
    now = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
    other, why = demo.choose_lake(tmp_path / "lake", now)
    assert other == tmp_path / "lake-demo-20250601T120000Z"
    assert "left untouched" in why
    assert (tmp_path / "lake" / "Raw" / "precious.csv").read_text() == "mine"


def test_a_demo_lake_someone_has_landed_files_in_since_is_left_alone(tmp_path: Path) -> None:
    """`./lake` is also cinelake's default lake: after a demo, a user may land real data there."""
    demo = load_demo()
    (tmp_path / "lake" / "Raw").mkdir(parents=True)
    demo.record_demo_lake(tmp_path / "lake")
    (tmp_path / "lake" / "Raw" / "mine.csv").write_text("landed after the demo")

    other, why = demo.choose_lake(tmp_path / "lake", datetime(2025, 6, 1, tzinfo=UTC))

    assert other == tmp_path / "lake-demo-20250601T000000Z"
    assert "left untouched" in why
    assert (tmp_path / "lake" / "Raw" / "mine.csv").read_text() == "landed after the demo"


def test_the_demo_stops_at_the_first_failing_step(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = load_demo()
    monkeypatch.setattr(demo, "MOVIES", clean_env / "no-such-movies.csv")

    code = demo.main(["--lake", str(clean_env / "lake")])

    captured = capsys.readouterr()
    assert code == 2
    assert "demo: FAILED: `cinelake ingest-csv" in captured.err
    assert "$ cinelake ingest-tmdb" not in captured.out
