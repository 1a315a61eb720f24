"""`make demo`: the whole pipeline on this machine, with no AWS account and no TMDB key.

Starts the project's TMDB emulator in this process (with a few injected 500s and dropped
connections, so the retries are real), then runs the real `cinelake` command line as child
processes, exactly as a user would: land the bundled sample CSVs, fetch TMDB for their titles,
then `status`, `verify` and one `cinelake sql` query. `--s3` does the same against a local S3
server (moto), without the query.

The lake is `./lake`. A lake left there by an earlier demo, exactly as that demo left it (its
marker lists every file it held), is removed and rebuilt, so `make demo` can be re-run at will.
Anything else found at `./lake`, including a demo lake someone has since landed files in (it is
also the default lake of `cinelake` without a bucket), may be a real lake and is never touched:
the demo then uses a new date-stamped folder `./lake-demo-<time>`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from cinelake.testing.tmdb_emulator import EmulatorConfig, Faults, TmdbEmulator

ROOT = Path(__file__).resolve().parents[1]
MOVIES = ROOT / "data" / "sample" / "movies.csv"
SERIES = ROOT / "data" / "sample" / "series.csv"
MARKER = Path(".cinelake") / "made-by-demo"
DEMO_BUCKET = "cinelake-demo"
RATE = 40.0
"""The emulator's limit is TMDB's ~40 requests/s: 200 titles = ~300 requests = ~8 s."""

FIRST_LOOK = (
    "SELECT f.item AS imdb_id, any_value(m.tituloPincipal) AS title, count(*) AS csv_rows "
    "FROM tmdb_find AS f JOIN csv_movies AS m ON f.item = m.id "
    "GROUP BY f.item ORDER BY csv_rows DESC, imdb_id LIMIT 5"
)
"""The demo's last step: the TMDB lookups joined to the CSV they came from, in plain SQL."""

_INHERITED_SETTINGS = (
    "NOME_DO_BUCKET_S3",
    "REGIAO_DO_BUCKET",
    "NOME_DO_PERFIL_SSO",
    "CAMINHO_DO_ARQUIVO_LOCAL_MOVIES",
    "CAMINHO_DO_ARQUIVO_LOCAL_SERIES",
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--s3", action="store_true", help="land in a local S3 server (moto) instead of a folder"
    )
    parser.add_argument(
        "--lake", type=Path, default=Path("lake"), help="the demo's lake folder (default ./lake)"
    )
    return parser.parse_args(argv)


def choose_lake(wanted: Path, now: datetime | None = None) -> tuple[Path, str]:
    """Where this demo lands, and a sentence saying why; never deletes what a demo did not make."""
    if not wanted.exists() or (wanted.is_dir() and not any(wanted.iterdir())):
        return wanted, f"a fresh lake in {_display(wanted)}"
    if wanted.is_dir() and _left_as_the_demo_left_it(wanted):
        shutil.rmtree(wanted)
        return wanted, f"{_display(wanted)} held the previous demo's lake: removed, starting fresh"
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    other = wanted.with_name(f"{wanted.name}-demo-{stamp}")
    return other, (
        f"{_display(wanted)} holds something the demo did not make: left untouched; "
        f"this demo lands in {_display(other)}"
    )


def record_demo_lake(folder: Path) -> None:
    """The marker lists every file the demo left, so a lake used since is never taken for it."""
    (folder / MARKER).parent.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text(json.dumps(_files_of(folder)) + "\n")


def _left_as_the_demo_left_it(folder: Path) -> bool:
    try:
        recorded = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return bool(recorded == _files_of(folder))


def _files_of(folder: Path) -> list[list[str | int]]:
    return sorted(
        [str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns]
        for path in folder.rglob("*")
        if path.is_file() and path != folder / MARKER
        for stat in [path.stat()]
    )


def _display(path: Path) -> str:
    return str(path) if path.is_absolute() else f"./{path}"


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    """The user's own lake, bucket, keys and .env must not leak into the demo, nor it into them."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith(("AWS_", "CINELAKE_", "TMDB_"))
        and name not in _INHERITED_SETTINGS
    }
    env.update(extra)
    return env


@contextmanager
def tmdb_emulator() -> Iterator[TmdbEmulator]:
    config = EmulatorConfig(
        rate_limit=RATE,
        latency_ms=20,
        latency_jitter_ms=10,
        faults=Faults(error_500=0.02, reset=0.01),
        seed=2024,
    )
    with TmdbEmulator(config) as emulator:
        yield emulator


def emulator_report(emulator: TmdbEmulator) -> str:
    stats = emulator.stats()
    faults = ", ".join(f"{n} x {name}" for name, n in sorted(stats.faults.items())) or "none"
    return (
        f"demo: the emulator answered {stats.total_requests} requests; injected faults: "
        f"{faults}; rate-limited (429): {stats.rate_limited}; every one was retried"
    )


@contextmanager
def moto_s3(env_file: Path) -> Iterator[dict[str, str]]:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        aws = {
            "AWS_ENDPOINT_URL_S3": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "cinelake-demo-access-key",
            "AWS_SECRET_ACCESS_KEY": "cinelake-demo-not-a-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(env_file.with_name("no-aws-config")),
            "AWS_SHARED_CREDENTIALS_FILE": str(env_file.with_name("no-aws-credentials")),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        boto3.client(
            "s3",
            endpoint_url=aws["AWS_ENDPOINT_URL_S3"],
            region_name=aws["AWS_DEFAULT_REGION"],
            aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"],
        ).create_bucket(Bucket=DEMO_BUCKET)
        yield aws
    finally:
        server.stop()


def shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class StepFailed(Exception):
    def __init__(self, command: str, code: int) -> None:
        super().__init__(f"`{command}` exited with {code}")
        self.code = code


def run_step(args: list[str], env: dict[str, str], echo: list[str]) -> None:
    """Echo the command as a user would type it, then run the real CLI in a child process."""
    line = "cinelake " + " ".join(shlex.quote(a) for a in echo)
    print(f"\n$ {line}", flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "cinelake", *args], env=env, check=False, timeout=600
    )
    if result.returncode != 0:
        raise StepFailed(line, result.returncode)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    started = time.monotonic()
    day = datetime.now(UTC).date().isoformat()
    with tempfile.TemporaryDirectory(prefix="cinelake-demo-") as scratch:
        env_file = Path(scratch) / "empty.env"
        env_file.write_text("# the demo reads no .env: it brings its own settings\n")
        with tmdb_emulator() as emulator, _lake(options, env_file) as (lake, extra):
            tmdb_url = emulator.base_url
            print(f"demo: TMDB emulator at {tmdb_url} (2% HTTP 500, 1% dropped connections)")
            env = child_environment(
                {"TMDB_API_KEY": emulator.config.api_key, "TMDB_BASE_URL": tmdb_url, **extra}
            )
            lake_arg = lake if lake.startswith("s3://") else shown(Path(lake))
            common = ["--lake", lake, "--env-file", str(env_file)]
            shown_common = ["--lake", lake_arg]
            steps = [
                [
                    "ingest-csv",
                    "--movies",
                    shown(MOVIES),
                    "--series",
                    shown(SERIES),
                    "--date",
                    day,
                ],
                ["ingest-tmdb", "--from-csv", "--date", day, "--rate", f"{RATE:g}"],
                ["status"],
                ["verify"],
            ]
            if not options.s3:  # DuckDB reaches S3 through httpfs, an extension it downloads
                steps.append(["sql", "--output", "table", FIRST_LOOK])
            try:
                for step in steps:
                    real = [str(MOVIES) if a == shown(MOVIES) else a for a in step]
                    real = [str(SERIES) if a == shown(SERIES) else a for a in real]
                    run_step([*real, *common], env, [*step, *shown_common])
                    if step[0] == "ingest-tmdb":
                        print(emulator_report(emulator), flush=True)
            except StepFailed as exc:
                print(f"\ndemo: FAILED: {exc}", file=sys.stderr)
                return exc.code or 1
            where_to_look(lake, env, env_file, day)
    print(f"\ndemo: all steps passed in {time.monotonic() - started:.1f} s")
    return 0


@contextmanager
def _lake(options: argparse.Namespace, env_file: Path) -> Iterator[tuple[str, dict[str, str]]]:
    if options.s3:
        with moto_s3(env_file) as aws:
            print(f"demo: local S3 server (moto) at {aws['AWS_ENDPOINT_URL_S3']}")
            print(f"demo: lake s3://{DEMO_BUCKET}, a fresh bucket")
            yield f"s3://{DEMO_BUCKET}", aws
        return
    folder, why = choose_lake(options.lake)
    print(f"demo: {why}")
    record_demo_lake(folder)
    try:
        yield str(folder), {}
    finally:
        record_demo_lake(folder)


def where_to_look(lake: str, env: dict[str, str], env_file: Path, day: str) -> None:
    from cinelake.settings import load_settings
    from cinelake.store import open_store

    settings = load_settings(environ=env, env_file=env_file, overrides={"lake": lake})
    store = open_store(settings)
    date_path = day.replace("-", "/")

    def first(prefix: str) -> str:
        return next((o.key for o in store.list(prefix)), "(none)")

    csv_key = first("Raw/Local/CSV/Movies/")
    tmdb_key = first("Raw/TMDB/JSON/Movies/")
    manifests = [o.key for o in store.list(f"Raw/_manifests/{date_path}/")]
    store.close()
    base = lake if lake.startswith("s3://") else _display(Path(shown(Path(lake))))
    print("\nWhere to look:")
    where = "in the local S3 server" if lake.startswith("s3://") else "the same tree S3 would hold"
    print(f"  the lake          {base}/  ({where})")
    print(f"  a CSV, as sent    {base}/{csv_key}")
    print(f"  TMDB JSON lines   {base}/{tmdb_key}")
    for key in manifests:
        print(f"  run manifest      {base}/{key}")
    if lake.startswith("s3://"):
        print("  (the local S3 server stops with the demo; `make demo` keeps a lake on disk)")
    else:
        print(f"  re-check it       cinelake verify --deep --lake {base}")
        print(f"  what it holds     cinelake status --lake {base}")


if __name__ == "__main__":
    sys.exit(main())
