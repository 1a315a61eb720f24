"""Shared rig for the `ingest-tmdb` tests: emulators, lakes (local and moto), runners, readers.

A test module uses a fixture by importing its `<name>_fixture` function (pytest registers it
under `<name>`: `make_emulator`, `emulator`, `lake`, `local_lake`, `moto_lake`); the helpers are
plain functions.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import ACCESS_KEY, REGION, SECRET_KEY, S3Endpoint, new_bucket

from cinelake.lake import layout, lease
from cinelake.settings import Settings
from cinelake.store import LocalDirStore, Store, open_store
from cinelake.testing.tmdb_emulator import Catalogue, EmulatorConfig, TmdbEmulator
from cinelake.tmdb.checkpoints import META_ITEMS, decode_items
from cinelake.tmdb.client import TmdbClient
from cinelake.tmdb.plans import DEFAULT_APPEND, request_of
from cinelake.tmdb.request import TmdbIngestRequest
from cinelake.tmdb.retry import RetryPolicy
from cinelake.tmdb.service import run_tmdb_ingest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
MOVIES_CSV = SAMPLE / "movies.csv"
SERIES_CSV = SAMPLE / "series.csv"
API_KEY = EmulatorConfig().api_key
READ_TOKEN = EmulatorConfig().read_token
RUN_DATE = date(2025, 5, 1)
DAY = RUN_DATE.isoformat()
FAST = "5000"
"""`--rate` for CLI runs: the emulator is local, the test is about behaviour, not politeness."""
RECORD_STRUCTURES = ("Movies", "Series", "Find", "Discover", "Changes")


# Emulators ----------------------------------------------------------------------------------
@pytest.fixture(name="make_emulator")
def make_emulator_fixture() -> Iterator[Callable[..., TmdbEmulator]]:
    started: list[TmdbEmulator] = []

    def make(**config: Any) -> TmdbEmulator:
        emulator = TmdbEmulator(EmulatorConfig(**config))
        emulator.start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture(name="emulator")
def emulator_fixture(make_emulator: Callable[..., TmdbEmulator]) -> TmdbEmulator:
    return make_emulator()


def emulator_body(
    emulator: TmdbEmulator, item: str, *, append: Sequence[str] = DEFAULT_APPEND
) -> bytes:
    """What the emulator answers for `item`, fetched independently of cinelake's client."""
    path, params = request_of(item, tuple(append), {})
    response = requests.get(
        emulator.base_url + path, params={**params, "api_key": API_KEY}, timeout=30
    )
    return response.content


# Lakes --------------------------------------------------------------------------------------
@dataclass
class Lake:
    """One lake as the CLI names it (`--lake`, environment) and as the test reads it (`store`)."""

    name: str
    url: str
    env: dict[str, str]
    store: Store
    settings: Settings = field(default_factory=Settings)

    def argv(self) -> list[str]:
        return ["--lake", self.url]


def make_local_lake(root: Path) -> Lake:
    return Lake("local", str(root), {}, LocalDirStore(root), Settings(lake=str(root)))


def make_moto_lake(endpoint: S3Endpoint) -> Lake:
    bucket = new_bucket(endpoint)
    settings = Settings(
        lake=f"s3://{bucket}",
        endpoint_url=endpoint.url,
        region=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    return Lake("moto", settings.lake, endpoint.env(), open_store(settings), settings)


@pytest.fixture(name="local_lake")
def local_lake_fixture(clean_env: Path) -> Lake:
    return make_local_lake(clean_env / "lake")


@pytest.fixture(name="moto_lake")
def moto_lake_fixture(clean_env: Path, moto_endpoint: S3Endpoint) -> Lake:
    return make_moto_lake(moto_endpoint)


@pytest.fixture(name="lake", params=["local", "moto"])
def lake_fixture(request: pytest.FixtureRequest, clean_env: Path) -> Lake:
    if request.param == "local":
        return make_local_lake(clean_env / "lake")
    return make_moto_lake(request.getfixturevalue("moto_endpoint"))


def tmdb_env(emulator: TmdbEmulator, lake: Lake, **extra: str) -> dict[str, str]:
    """A complete environment for the CLI: nothing from the developer's shell."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "TMDB_BASE_URL": emulator.base_url,
        "TMDB_API_KEY": API_KEY,
        **lake.env,
    }
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


class SimulatedKill(BaseException):
    """SIGKILL, in process: cinelake catches Ctrl-C (to write a manifest) but never this, so
    nothing after the point where a test raises it runs."""


# Runners ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    def manifest(self) -> dict[str, Any]:
        """The manifest printed by `--json`."""
        data = json.loads(self.out)
        assert isinstance(data, dict)
        return data


def cli(argv: Sequence[str], env: dict[str, str]) -> CliResult:
    """`cinelake ARGV` in this process, with its own stdout/stderr and environment."""
    from cinelake.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv), environ=env)
    return CliResult(code, out.getvalue(), err.getvalue())


def tmdb_argv(lake: Lake, *args: str, date_: str = DAY) -> list[str]:
    return ["ingest-tmdb", *lake.argv(), "--date", date_, "--rate", FAST, *args]


def cinelake_process(
    argv: Sequence[str], env: dict[str, str], cwd: Path, **popen: Any
) -> subprocess.Popen[str]:
    """`python -m cinelake ARGV` as a real process (so it can be killed with SIGKILL)."""
    return subprocess.Popen(
        [sys.executable, "-m", "cinelake", *argv],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def run_process(argv: Sequence[str], env: dict[str, str], cwd: Path) -> CliResult:
    proc = cinelake_process(argv, env, cwd)
    out, err = proc.communicate(timeout=120)
    return CliResult(proc.returncode, out, err)


def land_sample_csvs(lake: Lake, env: dict[str, str]) -> None:
    result = cli(
        [
            "ingest-csv",
            *lake.argv(),
            "--date",
            DAY,
            "--movies",
            str(MOVIES_CSV),
            "--series",
            str(SERIES_CSV),
            "-q",
        ],
        env,
    )
    assert result.code == 0, result.err


def fast_client(emulator: TmdbEmulator, **kwargs: Any) -> TmdbClient:
    """A client that never sleeps: same retry decisions, no backoff delays."""
    options: dict[str, Any] = {
        "api_key": API_KEY,
        "rate": 10_000.0,
        "policy": RetryPolicy(base_delay=0),
    }
    options.update(kwargs)
    return TmdbClient(emulator.base_url, **options)


def ingest(
    lake: Lake, emulator: TmdbEmulator, client: TmdbClient | None = None, **request: Any
) -> Any:
    """`run_tmdb_ingest` in-process with a no-sleep client; returns the manifest."""
    request.setdefault("run_date", RUN_DATE)
    own = client is None
    client = client or fast_client(emulator)
    try:
        return run_tmdb_ingest(
            TmdbIngestRequest(**request), settings=lake.settings, store=lake.store, client=client
        )
    finally:
        if own:
            client.close()


# Reading the lake ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TmdbFile:
    key: str
    structure: str
    items: list[str]
    data: bytes

    @property
    def lines(self) -> list[bytes]:
        assert self.data.endswith(b"\n"), f"{self.key}: JSON Lines must end with a newline"
        return self.data[:-1].split(b"\n")


def tmdb_files(store: Store, day: date = RUN_DATE) -> list[TmdbFile]:
    """Every TMDB data and errors file of the date, with the items its metadata lists."""
    files = []
    for structure in layout.TMDB_STRUCTURES:
        for info in store.list(layout.tmdb_prefix(structure, day)):
            head = store.head(info.key)
            assert head is not None
            items = decode_items(head.metadata[META_ITEMS])
            files.append(TmdbFile(info.key, structure, items, store.get_bytes(info.key)))
    return files


def data_keys(store: Store) -> set[str]:
    """Every key that is data (not a manifest or a checkpoint)."""
    return {o.key for o in store.list("Raw/") if not layout.is_control_key(o.key)}


def holds_only_leases(store: Store, under: str = "") -> bool:
    """Nothing landed, planned or listed: a refused run leaves only its released lease."""
    return all(o.key.startswith(f"{lease.LEASES}/") for o in store.list(under))


def manifests(store: Store, day: date = RUN_DATE) -> list[dict[str, Any]]:
    found = []
    for info in store.list(layout.manifest_prefix(day)):
        data = json.loads(store.get_bytes(info.key))
        if data.get("command", "").startswith("ingest-tmdb"):
            found.append(data)
    return sorted(found, key=lambda m: m["started_at"])


@dataclass
class Landed:
    """How many times each item appears, as a record and as an error, across all files."""

    records: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    bodies: dict[str, bytes] = field(default_factory=dict)
    error_lines: dict[str, dict[str, Any]] = field(default_factory=dict)


def landed(store: Store, day: date = RUN_DATE) -> Landed:
    """Tally the lake: details by their `id`, other records by metadata, errors by `item`."""
    result = Landed()
    for file in tmdb_files(store, day):
        lines = file.lines
        assert len(lines) == len(file.items), f"{file.key}: metadata and records disagree"
        for listed, line in zip(file.items, lines, strict=True):
            item = listed
            if file.structure == "Errors":
                error = json.loads(line)
                assert error["item"] == item
                result.errors[error["item"]] += 1
                result.error_lines[error["item"]] = error
                continue
            if file.structure in {"Movies", "Series"}:
                # Details count by the title they hold, however they were asked for (a movie
                # asked by its IMDb id is listed under that item).
                kind = "movie" if file.structure == "Movies" else "tv"
                by_id = f"{kind}:{json.loads(line)['id']}"
                assert by_id == item or item.startswith("imdb-movie:tt"), (
                    f"{file.key}: record {by_id} listed as {item}"
                )
                item = by_id
            result.records[item] += 1
            result.bodies[item] = line
    return result


def assert_exactly_once(
    store: Store, records: set[str], errors: set[str], day: date = RUN_DATE
) -> Landed:
    tally = landed(store, day)
    duplicated = {i: n for i, n in tally.records.items() if n > 1}
    assert not duplicated, f"records landed more than once: {duplicated}"
    assert not {i: n for i, n in tally.errors.items() if n > 1}, "errors landed twice"
    assert set(tally.records) == records, (
        f"missing {sorted(records - set(tally.records))[:10]}, "
        f"unexpected {sorted(set(tally.records) - records)[:10]}"
    )
    assert set(tally.errors) == errors
    return tally


# What the sample should produce ------------------------------------------------------------
def csv_ids(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return list(dict.fromkeys(line.split("|", 1)[0] for line in lines))


@dataclass(frozen=True)
class Expected:
    finds: list[str]
    """Every lookup, in plan order: movies by IMDb id, series by `/find`."""
    details: list[str]
    unknown: list[str]

    @property
    def records(self) -> set[str]:
        """Every `/find` answer is kept (even an empty one), plus one details record per title.

        A movie TMDB knows by its IMDb id has no `/find` answer: its details came at once.
        """
        found_at_once = {f for f in self.finds if f.startswith("imdb-movie:")} - set(self.unknown)
        return {*(set(self.finds) - found_at_once), *self.details}

    @property
    def find_requests(self) -> int:
        """Series lookups, and the movies TMDB did not know by IMDb id (the /find fallback)."""
        return sum(1 for f in self.finds if f.startswith("find") or f in self.unknown)

    @property
    def details_requests(self) -> int:
        """One a title, plus the 404 of each movie TMDB did not know by IMDb id."""
        unknown_movies = sum(1 for f in self.unknown if f.startswith("imdb-movie:"))
        return len(self.details) + unknown_movies


def expected_from_csv(
    catalogue: Catalogue | None = None,
    movies: Path | None = MOVIES_CSV,
    series: Path | None = SERIES_CSV,
) -> Expected:
    catalogue = catalogue or Catalogue.sample()
    finds: list[str] = []
    details: list[str] = []
    unknown: list[str] = []
    seen: set[str] = set()
    for path, kind in ((movies, "movie"), (series, "tv")):
        for imdb in csv_ids(path) if path else ():
            if imdb in seen:
                continue
            seen.add(imdb)
            item = f"imdb-movie:{imdb}" if kind == "movie" else f"find-tv:{imdb}"
            finds.append(item)
            title = catalogue.by_imdb_id(kind, imdb)  # type: ignore[arg-type]
            if title is None:
                unknown.append(item)
            else:
                details.append(f"{kind}:{title.tmdb_id}")
    return Expected(finds, details, unknown)


def same_command(
    lake: Lake, emulator: TmdbEmulator, *ids: str, batch_size: int = 100
) -> Callable[[], Any]:
    """The same ids plan, run again as a user would, each time with three attempts an item."""
    from cinelake.tmdb.retry import RetryPolicy

    def run() -> Any:
        client = fast_client(emulator, policy=RetryPolicy(max_attempts=3, base_delay=0))
        try:
            return ingest(lake, emulator, client, plan="ids", ids=ids, batch_size=batch_size)
        finally:
            client.close()

    return run
