"""Regressions found in review: each test pins one behaviour that was once wrong."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tmdb_fixtures import holds_only_leases

from cinelake.errors import RunError
from cinelake.settings import Settings, load_settings
from cinelake.store import LocalDirStore
from cinelake.testing.tmdb_emulator import EmulatorConfig, TmdbEmulator
from cinelake.tmdb.client import TmdbClient
from cinelake.tmdb.request import TmdbIngestRequest
from cinelake.tmdb.retry import RetryPolicy
from cinelake.tmdb.service import run_tmdb_ingest

NO_WAIT = RetryPolicy(max_attempts=2, base_delay=0)


def test_on_lambda_seed_keys_beside_the_role_credentials_are_ignored_not_a_contradiction() -> None:
    settings = load_settings(
        environ={
            "aws_access_key_id": "seed-key-pasted-by-hand",
            "aws_secret_access_key": "seed-secret-pasted-in-by-hand",
            "AWS_ACCESS_KEY_ID": "role-credentials-from-lambda",
            "AWS_SECRET_ACCESS_KEY": "role-secret-from-lambda",
        },
        env_file=None,
        ignore_static_aws_keys=True,
    )

    assert settings.aws_access_key_id is None
    assert settings.aws_secret_access_key is None


def test_landing_a_key_keeps_the_metadata_of_a_key_whose_name_extends_it(tmp_path: Path) -> None:
    store = LocalDirStore(tmp_path)
    store.put_bytes("Raw/x/movies.csv.1", b"first\n")

    store.put_bytes("Raw/x/movies.csv", b"second\n")

    head = store.head("Raw/x/movies.csv.1")
    assert head is not None
    assert head.metadata.get("cinelake-sha256")


def test_a_failed_discover_page_one_plans_nothing_and_a_later_run_fetches_every_page(
    tmp_path: Path,
) -> None:
    store = LocalDirStore(tmp_path / "lake")
    request = TmdbIngestRequest(
        plan="discover", run_date=date(2025, 5, 1), kind="movie", max_pages=3
    )
    with TmdbEmulator(EmulatorConfig(scripted={"/3/discover/movie": [503, 503]})) as emulator:
        settings = Settings(tmdb_base_url=emulator.base_url, tmdb_api_key="emulator-api-key")
        with pytest.raises(RunError, match="page 1 failed"):
            run_tmdb_ingest(request, settings=settings, store=store, retry_policy=NO_WAIT)
        assert holds_only_leases(store)

        manifest = run_tmdb_ingest(request, settings=settings, store=store, retry_policy=NO_WAIT)

    assert manifest.status == "succeeded"
    assert manifest.counts["discover_landed"] == 3


@pytest.fixture
def gzip_tmdb() -> Iterator[str]:
    """A server that answers gzip-encoded JSON with a Content-Length, as a CDN may."""
    body = gzip.compress(json.dumps({"id": 550, "title": "Fight Club"}).encode())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/3"
    server.shutdown()
    server.server_close()


def test_a_gzip_encoded_answer_is_not_mistaken_for_a_truncated_one(gzip_tmdb: str) -> None:
    client = TmdbClient(gzip_tmdb, api_key="k3y-for-the-gzip-server", policy=NO_WAIT)

    answer = client.get("/movie/550")
    client.close()

    assert answer.ok
    assert json.loads(answer.body)["id"] == 550
