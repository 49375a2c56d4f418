"""The embedded server's postmaster killed (`kill -9`) while the API answers searches:
every request during the outage answers 503 `{"error": "Database unavailable"}` (the
contract's shape: never a 500, never a hang), and the same app answers 200 with the same
hits once the server is back, without being restarted itself (the pool pre-pings and
drops the dead connections).

The cluster is a private one (its own DOVOS_HOME), so the kill does not disturb the
session's server; the archive is the package's fixed archive, embedded with the real model.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest
from fastapi.testclient import TestClient

from dovos.api.app import create_app
from dovos.config import Settings
from dovos.db import Database
from dovos.ingest import ingest
from dovos.worker import Worker

from .conftest import load_dataset

pytestmark = pytest.mark.slow

DOWN = {"error": "Database unavailable"}
REQUEST_TIMEOUT = 30.0  # a request slower than this during the outage is a hang
SEARCHES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/search", {"params": {"q": "lisbon trip", "n": 5}}),
    ("GET", "/api/search", {"params": {"q": "python", "keyword": "true"}}),
    ("POST", "/api/rag/query", {"json": {"query": "what did we plan", "n_results": 3}}),
]


@pytest.fixture(scope="module")
def served(embedder) -> Iterator[tuple[TestClient, Database]]:  # type: ignore[no-untyped-def]
    """The API on a private embedded cluster holding the fixed archive, embedded.
    (Not under pytest's tmp_path: see tests/integration/test_worker_faults.py.)"""
    home = Path(tempfile.mkdtemp(prefix="dovos-api-restart-"))
    settings = Settings(home=home, database_url=None, api_token=None, cors_origins=[])
    database = Database.open(settings, application="api-restart")
    try:
        with database.connect() as connection:
            ingest(connection, load_dataset())
        Worker(database, embedder=embedder, progress=False).run(until_empty=True)
        with TestClient(create_app(database=database, settings=settings),
                        raise_server_exceptions=False) as client:
            yield client, database
    finally:
        database.close()
        if database.embedded is not None:
            database.embedded.stop(force=True)
        shutil.rmtree(home, ignore_errors=True)


def _ask(client: TestClient, pool: ThreadPoolExecutor, method: str, path: str,
         options: dict[str, Any]) -> tuple[int, Any]:
    """One request, failing the test if it does not answer within REQUEST_TIMEOUT."""
    future = pool.submit(client.request, method, path, **options)
    response = future.result(timeout=REQUEST_TIMEOUT)  # TimeoutError: the request hung
    return response.status_code, response.json()


def _kill_postmaster(database: Database) -> list[psutil.Process]:
    """SIGKILL the postmaster; return its children (backends exit once they notice)."""
    assert database.embedded is not None
    pid = database.embedded.pid()
    assert pid is not None
    postmaster = psutil.Process(pid)
    children = postmaster.children()
    os.kill(pid, signal.SIGKILL)
    return [postmaster, *children]


def test_searches_answer_503_while_the_postmaster_is_dead_then_200(served) -> None:
    client, database = served
    assert database.embedded is not None
    with ThreadPoolExecutor(max_workers=4) as pool:
        before = [_ask(client, pool, *search) for search in SEARCHES]
        assert [status for status, _ in before] == [200] * len(SEARCHES)
        assert all(body["results"] for _, body in before)

        # searches keep coming while the postmaster dies
        seen: Counter[int] = Counter()
        stop = threading.Event()

        def keep_searching() -> None:
            while not stop.is_set():
                for search in SEARCHES:
                    status, body = _ask(client, pool, *search)
                    seen[status] += 1
                    assert status == 200 or (status == 503 and body == DOWN), (status, body)

        searching = pool.submit(keep_searching)
        time.sleep(0.5)
        killed_at = time.monotonic()
        processes = _kill_postmaster(database)
        _, alive = psutil.wait_procs(processes, timeout=60)
        assert not alive, f"server processes still alive 60 s after the kill: {alive}"
        time.sleep(0.5)
        stop.set()
        searching.result(timeout=REQUEST_TIMEOUT * 4)  # re-raises a 500 or a hang
        assert seen[503] > 0 and set(seen) <= {200, 503}, seen

        # down: every search (and health) answers 503 in the contract's shape, promptly
        for search in SEARCHES * 3:
            assert _ask(client, pool, *search) == (503, DOWN)
        health_status, health = _ask(client, pool, "GET", "/api/rag/health", {})
        assert health_status == 503 and health["status"] == "unhealthy"

        # the next command starts the server again; the app itself is left alone
        restart_started = time.monotonic()
        database.embedded.start()
        server_back = time.monotonic()
        after = [_ask(client, pool, *search) for search in SEARCHES]
        first_200 = time.monotonic()
    assert after == before  # same hits, same shape
    print(f"\nsearch outage: {sum(seen.values())} searches during the kill ({dict(seen)}); "
          f"server restart took {server_back - restart_started:.2f} s; first 200 "
          f"{first_200 - server_back:.3f} s after the server was back "
          f"({first_200 - killed_at:.2f} s after the kill, restart included)")
