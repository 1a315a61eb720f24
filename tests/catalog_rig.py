"""A raw zone landed the way users land one, for the catalog tests, and what its manifests say.

The lake holds every nasty CSV of the ingestion tests (one per date, as `Movies`), the sample
movies and series, a `--from-csv` TMDB run over them, and a refresh of two titles a day later
(so the `latest` views have something to choose).
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from test_ingest_csv import NASTY
from tmdb_fixtures import API_KEY, MOVIES_CSV, SERIES_CSV

from cinelake.lake import layout
from cinelake.lake.record_index import META_ITEMS, decode_items
from cinelake.store.base import Store
from cinelake.testing.tmdb_emulator import TmdbEmulator

TMDB_DAY = "2025-05-01"
REFRESH_DAY = "2025-05-02"
REFRESHED = ("movie:550", "tv:1396")


@dataclass(frozen=True)
class Target:
    """A lake as the commands name it, with an environment that holds nothing of the shell's."""

    lake: str
    env: dict[str, str]
    env_file: Path

    @classmethod
    def make(cls, lake: str, scratch: Path, **env: str) -> Target:
        env_file = scratch / "empty.env"
        env_file.write_text("")
        base = {
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(scratch / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-credentials"),
        }
        return cls(lake, base | env, env_file)

    def run(self, command: str, *args: str, **env: str) -> Result:
        argv = [command, "--lake", self.lake, "--env-file", str(self.env_file), *args]
        return run(argv, self.env | env)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def run(argv: Sequence[str], env: dict[str, str]) -> Result:
    """`cinelake ARGV` in this process, with its own stdout/stderr and environment."""
    from cinelake.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv), environ=env)
        except SystemExit as usage:  # argparse refuses the command line itself
            code = int(usage.code or 0)
    return Result(code, out.getvalue(), err.getvalue())


def land_raw_zone(target: Target, scratch: Path, emulator: TmdbEmulator | None) -> None:
    """Land the nasty CSVs, the samples and (with an emulator) TMDB records."""
    for number, (name, data) in enumerate(sorted(NASTY.items()), start=1):
        path = scratch / name / "movies.csv"
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        landed = target.run(
            "ingest-csv", "-q", "--date", f"2025-04-{number:02d}", "--movies", str(path)
        )
        assert landed.code == 0, landed.err
    samples = ["--movies", str(MOVIES_CSV), "--series", str(SERIES_CSV)]
    landed = target.run("ingest-csv", "-q", "--date", TMDB_DAY, *samples)
    assert landed.code == 0, landed.err
    if emulator is None:
        return
    tmdb = {"TMDB_BASE_URL": emulator.base_url, "TMDB_API_KEY": API_KEY}
    for args in (
        ["--date", TMDB_DAY, "--from-csv"],
        ["--date", REFRESH_DAY, "--ids", ",".join(REFRESHED)],
    ):
        landed = target.run("ingest-tmdb", "-q", "--rate", "5000", *args, **tmdb)
        assert landed.code == 0, landed.err


def manifest_records(store: Store) -> dict[str, int]:
    """Records per data key, as the manifests that landed each object counted them."""
    records: dict[str, int] = {}
    for info in store.list(layout.manifest_prefix()):
        manifest: dict[str, Any] = json.loads(store.get_bytes(info.key))
        for obj in manifest["objects"]:
            if obj["state"] in {"written", "unchanged"}:
                records[obj["key"]] = obj["records"]
    return records


def record_lines(store: Store, key: str) -> list[bytes]:
    return store.get_bytes(key).removesuffix(b"\n").split(b"\n")


def record_items(store: Store, key: str) -> list[str]:
    head = store.head(key)
    assert head is not None
    return decode_items(head.metadata[META_ITEMS])
