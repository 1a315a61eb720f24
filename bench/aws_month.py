"""What one title costs on AWS: S3 requests by operation, objects, bytes and TMDB requests.

Runs `ingest-tmdb --from-csv` for N synthetic titles (the mix and faults of
bench/tmdb_ingest.py) against moto's S3 server and the project's TMDB emulator, in this
process, counting every S3 API call the store makes (botocore's `before-call` events) and
every log byte the run writes as JSON. The README's monthly cost table scales these counts.

    .venv/bin/python bench/aws_month.py                 # 2,000 titles, ~1 min
    .venv/bin/python bench/aws_month.py --titles 500    # quicker
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
import tempfile
import uuid
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer
from tmdb_ingest import SEED, Titles, write_csvs

from cinelake.logs import configure_logging
from cinelake.settings import Settings
from cinelake.store import open_store
from cinelake.store.s3 import S3Store
from cinelake.testing.tmdb_catalogue import Catalogue
from cinelake.testing.tmdb_emulator import EmulatorConfig, Faults, TmdbEmulator
from cinelake.tmdb.request import TmdbIngestRequest
from cinelake.tmdb.service import run_tmdb_ingest

FAULTS = Faults(error_500=0.005, error_503=0.005, reset=0.005)


def measure(n_titles: int, work: Path) -> dict[str, Any]:
    titles = Titles.synthetic(n_titles)
    movies, series = write_csvs(titles, work)
    catalogue = Catalogue.synthetic(len(titles.movies), len(titles.series), seed=SEED)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")  # noqa: S106
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    settings = Settings(
        lake=f"s3://{bucket}",
        endpoint_url=endpoint,
        region="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106
    )
    store = open_store(settings)
    assert isinstance(store, S3Store)
    calls: Counter[str] = Counter()
    store.client.meta.events.register(
        "before-call.s3", lambda model, **_: calls.update([model.name])
    )
    logs = io.StringIO()
    configure_logging(json_format=True, stream=logs)
    config = EmulatorConfig(catalogue=catalogue, faults=FAULTS, seed=SEED)
    try:
        with TmdbEmulator(config) as emulator:
            settings = Settings(
                lake=settings.lake, tmdb_api_key=config.api_key, tmdb_base_url=emulator.base_url
            )
            request = TmdbIngestRequest(
                plan="from-csv",
                run_date=date(2026, 1, 1),
                movies_path=movies,
                series_path=series,
                rate=2000.0,
                workers=32,
            )
            manifest = run_tmdb_ingest(request, settings=settings, store=store)
        counted = dict(sorted(calls.items()))  # before the listing below, which is ours
        objects = list(store.list("Raw/"))
    finally:
        server.stop()
    return {
        "titles": n_titles,
        "status": manifest.status,
        "tmdb_requests": manifest.counts["http_requests"],
        "landed": manifest.counts["landed"],
        "s3_calls": counted,
        "objects": len(objects),
        "bytes": sum(o.size for o in objects),
        "log_bytes": len(logs.getvalue().encode()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        result = measure(args.titles, Path(work))
    per_title = {
        "tmdb_requests": result["tmdb_requests"] / result["titles"],
        "s3_calls": {k: v / result["titles"] for k, v in result["s3_calls"].items()},
        "objects": result["objects"] / result["titles"],
        "bytes": result["bytes"] / result["titles"],
        "log_bytes": result["log_bytes"] / result["titles"],
    }
    json.dump({"measured": result, "per_title": per_title}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if result["status"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
