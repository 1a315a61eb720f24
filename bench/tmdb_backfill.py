"""Backfill benchmark: the real catalogue's size through `ingest-csv` and `ingest-tmdb --from-csv`.

What it measures (issue 12, item 5), each in a process of its own started by the launcher of
`bench/tmdb_ingest.py` (wall, CPU and peak RSS from `os.wait4`):
- planning: reading the ids from the landed CSVs and writing the plan (a process that only
  plans, so its RSS is planning's own);
- the engine, in `--max-seconds` hops like Lambda's: CPU per HTTP request over every hop, and
  the peak RSS of the hops, at two sizes (flat in the number of titles is the target);
- the cost of resuming a hop: listing and reading a phase's batch markers and its files, timed
  over the finished lake against the number of batches;
- the tracked titles (what a refresh plans from), derived from the finished lake;
- `status` and `verify` over the resulting lake.
The emulator runs in its own process with no latency and no rate limit to speak of, so the
engine, not the network, is what is measured. The machine is shared: sizes are flags.

CSV rows are in the real format (pipe-delimited, one row per title and artist); about 2 % of
the movie ids are unknown to TMDB, so the `/find` fallback and the errors files are exercised.

Run: `python bench/tmdb_backfill.py [--titles 150000] [--rows 1000000] [--small-titles 15000]
[--hop-seconds 120]`. Exit 0 whatever the figures; non-zero only if a tool crashed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tmdb_ingest import (  # a sibling script, found through the path set above
    API_KEY,
    MOVIE_SHARE,
    MOVIES_HEADER,
    SEED,
    SERIES_HEADER,
    Measured,
    ToolCrash,
    _cinelake,
    emulator,
    measure,
)
from tmdb_ingest import _env as tmdb_ingest_env

from cinelake.testing.tmdb_catalogue import Catalogue

RUN_DATE = "2026-01-01"
DATE_PATH = "2026/01/01"
ENGINE = ("--rate-limit", "100000")
RATE, WORKERS = "5000", "32"
UNKNOWN_SHARE = 0.02

# Targets from the issue.
MAX_PLANNING_S, MAX_PLANNING_MB = 30.0, 200.0
MAX_CPU_MS_PER_REQUEST = 2.0
MAX_RSS_GROWTH_MB = 30.0
MAX_STATUS_VERIFY_S = 60.0

PLAN_ONLY = """
import sys
from datetime import date
from cinelake.settings import load_settings
from cinelake.store import open_store
from cinelake.tmdb.client import TmdbClient
from cinelake.tmdb.planning import load_or_create_plan
from cinelake.tmdb.request import TmdbIngestRequest
settings = load_settings(environ={"CINELAKE_LAKE": sys.argv[1]}, env_file=None)
request = TmdbIngestRequest(plan="from-csv", run_date=date.fromisoformat(sys.argv[2])).checked()
client = TmdbClient(sys.argv[3], api_key=sys.argv[4], rate=5000)
plan = load_or_create_plan(request, open_store(settings), client, "bench-planning")
print(len(plan.first_items))
"""

TRACKED = """
import sys
from pathlib import Path
from cinelake.store import LocalDirStore
from cinelake.tmdb.tracked import tracked_titles
print(len(tracked_titles(LocalDirStore(Path(sys.argv[1])))))
"""

RESUME_COST = """
import json, sys, time
from pathlib import Path
from datetime import date
from cinelake.store import LocalDirStore
from cinelake.tmdb.client import TmdbClient
from cinelake.tmdb.engine import PhaseRunner
from cinelake.tmdb.phase import Deadline, PhaseContext
store = LocalDirStore(Path(sys.argv[1]))
day = date.fromisoformat(sys.argv[2])
prefix = "Raw/_state/tmdb/" + day.strftime("%Y/%m/%d") + "/"
plan_key = next(o.key for o in store.list(prefix) if o.key.endswith("/plan.json"))
plan = json.loads(store.get_bytes(plan_key))
ctx = PhaseContext(store=store, client=TmdbClient("http://127.0.0.1:9", api_key="x"),
                   run_date=day, plan_id=plan["plan_id"], stamp=plan["stamp"], run_id="bench",
                   append=(), discover_params={}, deadline=Deadline(None))
out = {}
for phase in ("find", "details"):
    runner = PhaseRunner(ctx, phase, [], 100)
    started = time.perf_counter()
    markers = runner._load_markers()
    runner._list_orphans(markers)
    out[phase] = {"batches": len(markers), "seconds": time.perf_counter() - started}
print(json.dumps(out))
"""


@dataclass
class Size:
    titles: int
    rows: int
    csv_rows: int = 0
    ingest_csv: Measured | None = None
    planning: Measured | None = None
    planned_items: int = 0
    hops: list[Measured] = field(default_factory=list)
    hop_manifests: list[dict[str, Any]] = field(default_factory=list)
    resume: dict[str, dict[str, float]] = field(default_factory=dict)
    tracked: Measured | None = None
    tracked_titles: int = 0
    status: Measured | None = None
    verify: Measured | None = None
    verify_report: dict[str, Any] = field(default_factory=dict)
    files: int = 0

    @property
    def requests(self) -> int:
        return sum(int(m["counts"].get("http_requests", 0)) for m in self.hop_manifests)

    @property
    def engine_cpu(self) -> float:
        return sum(h.cpu for h in self.hops)

    @property
    def peak_rss(self) -> float:
        return max((h.rss_mb for h in self.hops), default=float("nan"))

    def final_counts(self) -> dict[str, Any]:
        return dict(self.hop_manifests[-1]["counts"]) if self.hop_manifests else {}


def _env(url: str) -> dict[str, str]:
    """The tools' environment; a PYTHONPATH given to the benchmark reaches them (to measure
    another checkout's code, e.g. the version before a change)."""
    env = tmdb_ingest_env(url)
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def write_csvs(n_titles: int, n_rows: int, directory: Path) -> tuple[Path, Path, int]:
    """Real-format CSVs: one row per title and artist, ids in blocks, `\\N` for nulls."""
    n_movies = round(n_titles * MOVIE_SHARE)
    catalogue = Catalogue.synthetic(n_movies, n_titles - n_movies, seed=SEED)
    rng = random.Random(SEED)  # noqa: S311 - reproducible data, not secrets
    movies = list(catalogue.movie_imdb_ids())
    for index in range(0, len(movies), round(1 / UNKNOWN_SHARE)):
        movies[index] = f"tt7{index:08d}"  # an id TMDB does not know
    per_title = n_rows / n_titles
    written = 0
    paths = directory / "movies.csv", directory / "series.csv"
    for path, header, ids, series in (
        (paths[0], MOVIES_HEADER, movies, False),
        (paths[1], SERIES_HEADER, list(catalogue.tv_imdb_ids()), True),
    ):
        with path.open("w", encoding="utf-8", newline="\n") as handle:
            handle.write(header + "\n")
            for imdb_id in ids:
                year = rng.randint(1950, 2025)
                head = [imdb_id, f"Título {imdb_id[2:]}", f"Title {imdb_id[2:]}", str(year)]
                if series:
                    head.append(str(min(2026, year + rng.randint(0, 12))))
                head += [str(rng.randint(20, 200)), "Drama,Comedy", f"{rng.uniform(1, 10):.1f}"]
                head.append(str(rng.randint(5, 900_000)))
                for _ in range(max(1, round(rng.uniform(0.5, 1.5) * per_title))):
                    gender = rng.choice(("actor", "actress"))
                    died = str(rng.randint(1990, 2025)) if rng.random() < 0.1 else "\\N"
                    artist = [gender, "\\N", f"Artista {rng.randint(1, 10**6)}"]
                    artist += [str(rng.randint(1920, 2005)), died, gender, f"{imdb_id},tt0137523"]
                    handle.write("|".join(head + artist) + "\n")
                    written += 1
    return paths[0], paths[1], written


def _json_out(measured: Measured) -> Any:
    text = measured.log.read_text(errors="replace")
    start = text.find("{")
    return json.JSONDecoder().raw_decode(text[start:])[0] if start >= 0 else {}


def run_size(label: str, n_titles: int, n_rows: int, hop_seconds: float, workdir: Path) -> Size:
    size = Size(n_titles, n_rows)
    lake = workdir / f"lake-{label}"
    shutil.rmtree(lake, ignore_errors=True)
    movies, series, size.csv_rows = write_csvs(n_titles, n_rows, workdir)
    print(f"  {label}: {size.csv_rows:,} CSV rows, {n_titles:,} titles", flush=True)
    common = ["--lake", str(lake), "--date", RUN_DATE]
    with emulator(workdir, n_titles, ENGINE, f"emulator-{label}") as emu:
        env = _env(emu.url)
        size.ingest_csv = measure(
            [*_cinelake(), "ingest-csv", *common, "--movies", str(movies), "--series",
             str(series), "-q"],
            env, workdir / f"{label}-ingest-csv.log", emu.pid,
        )  # fmt: skip
        size.planning = measure(
            [sys.executable, "-c", PLAN_ONLY, str(lake), RUN_DATE, emu.url, API_KEY],
            env, workdir / f"{label}-planning.log", emu.pid,
        )  # fmt: skip
        if size.planning.exit_code != 0:
            raise ToolCrash(f"planning failed; see {size.planning.log}")
        size.planned_items = int(size.planning.log.read_text().split()[-1])
        for hop in range(1, 200):
            measured = measure(
                [*_cinelake(), "ingest-tmdb", "--from-csv", *common, "--rate", RATE,
                 "--workers", WORKERS, "--max-seconds", f"{hop_seconds:g}", "--json", "-q"],
                env, workdir / f"{label}-hop{hop}.log", emu.pid,
            )  # fmt: skip
            manifest = _json_out(measured)
            if measured.exit_code not in (0, 1) or not manifest:
                raise ToolCrash(f"hop {hop} exit {measured.exit_code}; see {measured.log}")
            size.hops.append(measured)
            size.hop_manifests.append(manifest)
            counts = manifest["counts"]
            print(
                f"    hop {hop}: {measured.wall:.0f} s, {counts.get('http_requests', 0):,} "
                f"requests, {measured.rss_mb:.0f} MiB, {manifest['status']}",
                flush=True,
            )
            if not counts.get("stopped_early"):
                break
    resume = measure(
        [sys.executable, "-c", RESUME_COST, str(lake), RUN_DATE],
        _env("http://127.0.0.1:9"), workdir / f"{label}-resume.log", 0,
    )  # fmt: skip
    size.resume = _json_out(resume)
    size.tracked = measure(
        [sys.executable, "-c", TRACKED, str(lake)],
        _env("http://127.0.0.1:9"), workdir / f"{label}-tracked.log", 0,
    )  # fmt: skip
    size.tracked_titles = int(size.tracked.log.read_text().split()[-1])
    size.status = measure(
        [*_cinelake(), "status", "--lake", str(lake), "-q"],
        _env("http://127.0.0.1:9"), workdir / f"{label}-status.log", 0,
    )  # fmt: skip
    size.verify = measure(
        [*_cinelake(), "verify", "--lake", str(lake), "--json", "-q"],
        _env("http://127.0.0.1:9"), workdir / f"{label}-verify.log", 0,
    )  # fmt: skip
    size.verify_report = _json_out(size.verify)
    size.files = sum(1 for p in (lake / "Raw").rglob("*") if p.is_file())
    shutil.rmtree(lake, ignore_errors=True)
    return size


def _ok(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def _cpu_ms(size: Size) -> float:
    return 1000 * size.engine_cpu / max(size.requests, 1)


def _wall_rss(measured: Measured | None) -> str:
    return "-" if measured is None else f"{measured.wall:.1f} s, {measured.rss_mb:.0f} MiB"


def _wall(measured: Measured | None) -> float:
    return float("inf") if measured is None else measured.wall


def report(sizes: dict[str, Size], hop_seconds: float) -> list[str]:
    every = list(sizes.values())
    lines = [
        "| figure | " + " | ".join(sizes) + " | target |",
        "|---|" + "---|" * len(sizes) + "---|",
    ]

    def row(name: str, values: list[str], target: str = "") -> None:
        lines.append(f"| {name} | " + " | ".join(values) + f" | {target} |")

    def resume(size: Size) -> str:
        find = size.resume.get("find", {})
        return f"{int(find.get('batches', 0)):,} batches, {find.get('seconds', 0):.2f} s"

    row("CSV rows / titles", [f"{s.csv_rows:,} / {s.titles:,}" for s in every])
    row("ingest-csv wall, peak RSS", [_wall_rss(s.ingest_csv) for s in every])
    row(
        "planning wall, peak RSS (items planned)",
        [f"{_wall_rss(s.planning)} ({s.planned_items:,})" for s in every],
        f"≤ {MAX_PLANNING_S:g} s, ≤ {MAX_PLANNING_MB:g} MiB",
    )
    row(f"hops of --max-seconds {hop_seconds:g}", [str(len(s.hops)) for s in every])
    row(
        "HTTP requests (per title)",
        [f"{s.requests:,} ({s.requests / s.titles:.2f})" for s in every],
    )
    counts = [s.final_counts() for s in every]
    row(
        "landed / not found / failed",
        [f"{c.get('landed')} / {c.get('not_found')} / {c.get('failed')}" for c in counts],
    )
    row(
        "engine CPU per request (all hops)",
        [f"{_cpu_ms(s):.2f} ms" for s in every],
        f"≤ {MAX_CPU_MS_PER_REQUEST:g} ms",
    )
    row(
        "peak RSS of a hop",
        [f"{s.peak_rss:.0f} MiB" for s in every],
        f"largest within +{MAX_RSS_GROWTH_MB:g} MiB of smallest",
    )
    row("resume: markers read + files listed (find)", [resume(s) for s in every], "linear")
    row(
        "tracked titles derived from the lake: wall, peak RSS (titles)",
        [f"{_wall_rss(s.tracked)} ({s.tracked_titles:,})" for s in every],
    )
    row("status wall", [f"{_wall(s.status):.1f} s" for s in every], f"≤ {MAX_STATUS_VERIFY_S:g} s")
    row(
        "verify wall (objects checked)",
        [f"{_wall(s.verify):.1f} s ({s.verify_report.get('checked', '?')})" for s in every],
        f"≤ {MAX_STATUS_VERIFY_S:g} s",
    )
    row("files in the lake", [f"{s.files:,}" for s in every])
    planning_ok = all(
        s.planning is not None
        and s.planning.wall <= MAX_PLANNING_S
        and s.planning.rss_mb <= MAX_PLANNING_MB
        for s in every
    )
    growth = every[-1].peak_rss - every[0].peak_rss
    checks_ok = all(max(_wall(s.status), _wall(s.verify)) <= MAX_STATUS_VERIFY_S for s in every)
    verdicts = [
        f"planning: {_ok(planning_ok)}",
        f"engine CPU: {_ok(all(_cpu_ms(s) <= MAX_CPU_MS_PER_REQUEST for s in every))}",
        f"RSS flat: {_ok(growth <= MAX_RSS_GROWTH_MB)} (+{growth:.0f} MiB)",
        f"status/verify: {_ok(checks_ok)}",
    ]
    return [*lines, "", "; ".join(verdicts)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--titles", type=int, default=150_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-titles", type=int, default=15_000)
    parser.add_argument("--hop-seconds", type=float, default=120.0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cinelake-backfill-"))
    workdir.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, Size] = {}
    started = time.monotonic()
    try:
        for label, titles in (("small", args.small_titles), ("big", args.titles)):
            rows = round(args.rows * titles / args.titles)
            sizes[f"{titles:,} titles"] = run_size(label, titles, rows, args.hop_seconds, workdir)
    except ToolCrash as crash:
        print(f"benchmark stopped: {crash}", file=sys.stderr)
        return 1
    print()
    print("\n".join(report(sizes, args.hop_seconds)))
    print(f"\n(total {time.monotonic() - started:.0f} s; work directory {workdir})")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
