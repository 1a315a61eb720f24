"""Fuzz: CLI arguments (paths, dates, ids, params, lake URLs) on the local lake, moto and rclone.

Whatever the arguments: exit 0, 1 or 2, no traceback, no secret in any output or landed file,
and nothing half-written in the lake.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import SECRET_KEY, S3Endpoint, new_bucket
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

from cinelake.lake import layout

NAME_CHARS = string.ascii_letters + string.digits + "._- ~:çé\u2019"
NAMES = st.text(NAME_CHARS, min_size=1, max_size=12).filter(
    lambda n: n.strip(".") != "" and ".." not in n
)
TEXT = st.text(max_size=16)
DATES = (
    st.dates().map(lambda d: d.isoformat())
    | st.sampled_from(["2025-02-30", "20250502", "2025-W18-5", "9999-12-31", "0001-01-01", ""])
    | TEXT
)
IDS = st.lists(
    st.sampled_from(["movie:550", "tv:1396", "tt0137523", "movie:-1", "tt", "movie:99999999999"])
    | TEXT,
    min_size=1,
    max_size=4,
).map(",".join)
PARAMS = (
    st.tuples(st.sampled_from(["sort_by", "api_key", "page", "with_genres", ""]) | TEXT, TEXT).map(
        lambda kv: f"{kv[0]}={kv[1]}"
    )
    | TEXT
)


MALFORMED_LAKES = [
    "S3://lake1",
    "s3:/lake1",
    " s3://lake1",
    "s3://lake1/../x",
    "s3://lake1//x",
    "s3://",
    "s3://Bad_Bucket!",
    "gs://lake",
]


def lake_urls(bucket: str | None) -> st.SearchStrategy[str]:
    """Local folders (relative, under the example's folder, or `~`) when `bucket` is None, else
    URLs of that bucket; malformed URLs either way."""
    malformed = st.sampled_from(MALFORMED_LAKES)
    if bucket is None:
        return NAMES.map(lambda n: f"lakes/{n}") | st.just("~/lake") | malformed
    return st.one_of(
        st.just(f"s3://{bucket}"), NAMES.map(lambda n: f"s3://{bucket}/{n}"), malformed
    )


def csv_argv(bucket: str | None, source: Path) -> st.SearchStrategy[list[str]]:
    paths = st.one_of(
        st.just(str(source)),
        st.just(str(source.parent)),
        NAMES.map(lambda n: str(source.parent / n)),
        st.just("/dev/null"),
    )
    return st.tuples(
        DATES,
        st.sampled_from(["--movies", "--series"]),
        paths,
        lake_urls(bucket),
        st.lists(st.sampled_from(["--dry-run", "--strict", "--overwrite", "-q", "-v"]), max_size=2),
    ).map(lambda t: ["ingest-csv", "--date", t[0], t[1], t[2], "--lake", t[3], *t[4]])


def tmdb_argv(bucket: str | None, base_url: str) -> st.SearchStrategy[list[str]]:
    plans = st.one_of(
        IDS.map(lambda ids: ["--ids", ids]),
        st.tuples(st.sampled_from(["movie", "tv", "film"]), PARAMS, st.integers(-1, 3)).map(
            lambda t: ["--discover", t[0], "--param", t[1], "--max-pages", str(t[2])]
        ),
        st.tuples(st.sampled_from(["movie", "tv"]), DATES).map(
            lambda t: ["--changes", t[0], "--since", t[1]]
        ),
    )
    base_urls = st.sampled_from(
        [
            [],
            ["--tmdb-base-url", base_url.removesuffix("/3")],
            ["--tmdb-base-url", "http://[::1/3"],
            ["--tmdb-base-url", "http://127.0.0.1:99999/3"],
            ["--tmdb-base-url", "ftp://127.0.0.1/3"],
        ]
    )
    return st.tuples(plans, DATES, base_urls, lake_urls(bucket)).map(
        lambda t: ["ingest-tmdb", *t[0], "--date", t[1], "--rate", "5000", *t[2], "--lake", t[3]]
    )


def ops_argv(bucket: str | None) -> st.SearchStrategy[list[str]]:
    return st.tuples(
        st.sampled_from(["status", "verify"]), lake_urls(bucket), st.sampled_from([[], ["--json"]])
    ).map(lambda t: [t[0], "--lake", t[1], *t[2]])


@dataclass(frozen=True)
class Target:
    """Where lakes of one example live: local folders (S3 URLs still reach moto), or a bucket."""

    kind: str
    endpoint: S3Endpoint
    bucket: str | None

    def examples(self, local: int, s3: int) -> int:
        """S3 round trips cost about ten times a local run: fewer examples there."""
        return local if self.bucket is None else s3


@pytest.fixture(params=["local", "moto", "rclone"])
def target(
    request: pytest.FixtureRequest, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> Target:
    monkeypatch.setenv("HOME", str(clean_env / "home"))
    kind = request.param
    endpoint: S3Endpoint = request.getfixturevalue(
        "moto_endpoint" if kind == "local" else f"{kind}_endpoint"
    )
    return Target(kind, endpoint, None if kind == "local" else new_bucket(endpoint))


def env_for(endpoint: S3Endpoint, emulator: TmdbEmulator) -> dict[str, str]:
    return {**endpoint.env(), "TMDB_API_KEY": API_KEY, "TMDB_BASE_URL": emulator.base_url}


def check_run(argv: list[str], target: Target, emulator: TmdbEmulator, folder: Path) -> None:
    """Run in `folder` (relative lakes and `~` land there), then check output and lakes."""
    os.environ["HOME"] = str(folder / "home")
    with contextlib.chdir(folder):
        code, output = run_cli(argv, env_for(target.endpoint, emulator))
    assert_clean_outcome(code, output, verbose="-v" in argv)
    assert_no_secret([output, *lake_files(folder).values()], [SECRET_KEY, API_KEY])
    for control in folder.rglob(".cinelake"):
        assert_lake_whole(control.parent)
    if target.bucket is not None:
        assert_bucket_whole(target.endpoint, target.bucket)


@functools.cache
def _client(endpoint: S3Endpoint) -> Any:
    return endpoint.client()


def assert_bucket_whole(endpoint: S3Endpoint, bucket: str) -> None:
    client = _client(endpoint)
    objects = {o["Key"]: o for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])}
    listed: set[str] = set()
    for key in objects:
        if "/Raw/_manifests/" in f"/{key}":
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            assert SECRET_KEY.encode() not in body and API_KEY.encode() not in body
            prefix = key[: key.index("Raw/_manifests/")]
            listed.add(key)
            listed.update(prefix + o["key"] for o in json.loads(body).get("objects", []))
    for key in objects:
        prefix, raw, rest = key.partition("Raw/")
        if not layout.is_control_key(raw + rest):
            assert key in listed, f"{key} landed in the bucket but no manifest lists it"
        elif (raw + rest).startswith(f"{layout.INDEX}/"):
            data_key = prefix + layout.data_key_of_index(raw + rest)
            assert data_key in listed, f"{key} indexes an unlisted file"
    if endpoint.name == "moto":  # rclone does not list incomplete uploads
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        assert uploads == [], uploads


def test_any_ingest_csv_arguments_end_cleanly(target: Target, emulator: TmdbEmulator) -> None:
    @examples(target.examples(local=25, s3=3))
    @given(data=st.data())
    def one(data: st.DataObject) -> None:
        folder = Path(tempfile.mkdtemp(dir=Path.cwd()))
        source = folder / "in" / "movies.csv"
        source.parent.mkdir()
        shutil.copy(MOVIES_CSV, source)
        check_run(data.draw(csv_argv(target.bucket, source)), target, emulator, folder)

    one()


def test_any_ingest_tmdb_arguments_end_cleanly(target: Target, emulator: TmdbEmulator) -> None:
    @examples(target.examples(local=25, s3=3))
    @given(data=st.data())
    def one(data: st.DataObject) -> None:
        folder = Path(tempfile.mkdtemp(dir=Path.cwd()))
        argv = data.draw(tmdb_argv(target.bucket, emulator.base_url))
        check_run(argv, target, emulator, folder)

    one()


def test_any_status_or_verify_arguments_end_cleanly(target: Target, emulator: TmdbEmulator) -> None:
    @examples(target.examples(local=10, s3=2))
    @given(data=st.data())
    def one(data: st.DataObject) -> None:
        folder = Path(tempfile.mkdtemp(dir=Path.cwd()))
        check_run(data.draw(ops_argv(target.bucket)), target, emulator, folder)

    one()
