"""Fuzz: `.env` contents, with quoting, line breaks, control characters and non-ASCII in every
setting and every secret.

Whatever the file holds: exit 0, 1 or 2, no traceback, no secret in any output or landed file,
nothing half-written in the lake.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from fuzzing import (
    assert_clean_outcome,
    assert_lake_whole,
    assert_no_secret,
    examples,
    lake_files,
    run_cli,
)
from hypothesis import given
from hypothesis import strategies as st
from tmdb_fixtures import (  # noqa: F401 - fixtures are found by name
    API_KEY,
    MOVIES_CSV,
    TmdbEmulator,
    emulator_fixture,
    make_emulator_fixture,
)

from cinelake import env_names

MARK = "Zq9SECRETzQ"
"""Every generated secret holds this mark: any part of a secret that leaks shows it."""

SETTINGS = sorted(
    env_names.EVERY_NAME - env_names.SECRET_NAMES - {"AWS_PROFILE", "NOME_DO_PERFIL_SSO"}
)
SECRETS = sorted(env_names.SECRET_NAMES)
AWKWARD = st.sampled_from(
    ["\n", "\r", "\t", "\x00", "\x1b", "\u2019", "é", "=", "#", "'", '"', "\\", " ", "$", "{"]
)
VALUE = st.lists(st.text(max_size=4) | AWKWARD, max_size=5).map("".join)
SECRET = st.tuples(VALUE, VALUE).map(lambda parts: f"{parts[0]}{MARK}{parts[1]}")
QUOTES = st.sampled_from(["", "'", '"', "'open", '"open', "close'", "export "])


def line(name: str, value: str, quote: str) -> str:
    if quote == "export ":
        return f"export {name}={value}"
    if quote.endswith("open"):
        return f"{name}={quote[0]}{value}"
    if quote.startswith("close"):
        return f"{name}={value}{quote[-1]}"
    return f"{name}={quote}{value}{quote}"


ENTRIES = st.lists(
    st.tuples(st.sampled_from(SETTINGS), VALUE, QUOTES)
    | st.tuples(st.sampled_from(SECRETS), SECRET, QUOTES),
    max_size=6,
)
COMMANDS = st.sampled_from(
    [
        ["ingest-csv", "--date", "2025-05-02", "--movies", "movies.csv"],
        ["ingest-tmdb", "--ids", "movie:550", "--date", "2025-05-01", "--rate", "5000"],
        ["status"],
    ]
)


@pytest.fixture
def fuzz_home(clean_env: Path) -> Path:
    return clean_env


@examples(60)
@given(entries=ENTRIES, command=COMMANDS, newline=st.sampled_from(["\n", "\r\n"]))
def test_any_env_file_ends_cleanly_and_never_shows_a_secret(
    fuzz_home: Path,
    emulator: TmdbEmulator,
    entries: list[tuple[str, str, str]],
    command: list[str],
    newline: str,
) -> None:
    folder = Path(tempfile.mkdtemp(dir=fuzz_home))
    shutil.copy(MOVIES_CSV, folder / "movies.csv")
    text = newline.join(line(*entry) for entry in entries) + newline
    (folder / ".env").write_bytes(text.encode("utf-8", "surrogatepass"))
    os.environ["HOME"] = str(folder / "home")
    env = {
        "CINELAKE_LAKE": str(folder / "lake"),
        "TMDB_BASE_URL": emulator.base_url,
        "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if not any(name in env_names.TMDB_API_KEY for name, _, _ in entries):
        env["TMDB_API_KEY"] = API_KEY
    with contextlib.chdir(folder):
        code, output = run_cli([*command], env)
    assert_clean_outcome(code, output)
    assert_no_secret([output, *lake_files(folder / "lake").values()], [MARK, API_KEY])
    for control in folder.rglob(".cinelake"):
        assert_lake_whole(control.parent)
