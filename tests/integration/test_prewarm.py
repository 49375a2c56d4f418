"""`dovos db prewarm` (dovos.db.prewarm) on the real embedded server: every search index
is read into shared_buffers whole, a missing relation is reported and skipped, and a
server where pg_prewarm cannot be created gets an error naming what is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dovos.benchmarks.search_synthetic import generated_conversations
from dovos.db import Database, prewarm
from dovos.ingest import ingest
from dovos.repositories import embeddings
from dovos.search.document_text import EMBEDDING_RECIPE

MODEL = "all-MiniLM-L6-v2"
BLOCK = 8192


def _archive(database: Any) -> None:
    """2,000 messages with synthetic vectors: every search index holds real pages."""
    with database.connect() as conn:
        ingest(conn, generated_conversations(2000, per_conversation=20)[0])
        embeddings.insert_synthetic(conn, MODEL, topics=8, recipe=EMBEDDING_RECIPE)
        conn.commit()


def _blocks(database: Any, name: str) -> int:
    with database.connect() as conn:
        return int(conn.execute("SELECT pg_relation_size(%s::regclass)", (name,)).fetchone()[0]
                   ) // BLOCK


def test_prewarm_reads_every_search_index_whole(database: Any) -> None:
    _archive(database)
    with database.connect() as conn:
        conn.execute("CREATE INDEX fx_second_hnsw ON message_embeddings USING hnsw "
                     "((embedding::vector(384)) vector_cosine_ops) WHERE model = 'other'")
        conn.commit()
    try:
        report = prewarm.prewarm(database, progress=False)
    finally:
        with database.connect() as conn:
            conn.execute("DROP INDEX fx_second_hnsw")
            conn.commit()
    warmed = {item.name: item for item in report.relations}
    assert list(warmed) == ["fx_second_hnsw", "message_embeddings_hnsw_idx",
                            *prewarm.NAMED_RELATIONS]
    assert not report.notes
    for name in ("message_embeddings_hnsw_idx", "messages_pkey", "messages_search_vector_idx"):
        assert warmed[name].blocks == _blocks(database, name) > 1, name
        assert warmed[name].bytes == warmed[name].blocks * BLOCK
    assert all(item.blocks and item.blocks > 0 for item in report.relations)
    assert report.warmed_bytes == sum(item.bytes or 0 for item in report.relations)
    assert "message_embeddings_hnsw_idx" in report.format()


def test_a_missing_relation_is_reported_and_skipped(database: Any) -> None:
    _archive(database)
    report = prewarm.prewarm(database, relations=["no_such_index", "messages_pkey"],
                             progress=False)
    missing, found = report.relations
    assert missing.missing and missing.blocks is None
    assert found.name == "messages_pkey" and found.blocks == _blocks(database, "messages_pkey")
    assert report.notes == ["not found (skipped): no_such_index"]
    assert "missing" in report.format()
    with pytest.raises(prewarm.PrewarmError, match="a.b.c.d"):
        prewarm.prewarm(database, relations=["a.b.c.d"], progress=False)


def test_the_cli_prints_each_relation_and_its_json(database: Any) -> None:
    _archive(database)
    done = subprocess.run(
        [sys.executable, "-m", "dovos.cli", "db", "prewarm", "--json"],
        env=os.environ.copy(), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    value = json.loads(done.stdout)
    names = {item["name"]: item for item in value["relations"]}
    assert names["message_embeddings_hnsw_idx"]["blocks"] == _blocks(
        database, "message_embeddings_hnsw_idx")
    text = subprocess.run(
        [sys.executable, "-m", "dovos.cli", "db", "prewarm", "--no-progress", "messages_pkey",
         "no_such_index"], env=os.environ.copy(), capture_output=True, text=True, timeout=300,
        check=False)
    assert text.returncode == 0, text.stderr
    assert "messages_pkey" in text.stdout and "not found (skipped): no_such_index" in text.stdout


@pytest.fixture
def unprivileged(database: Any):  # type: ignore[no-untyped-def]
    """A database without pg_prewarm and a role that may not create extensions in it."""
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS fx_prewarm_plain")
        conn.execute("DROP ROLE IF EXISTS fx_prewarm_user")
        conn.execute("CREATE ROLE fx_prewarm_user LOGIN")
        conn.execute("CREATE DATABASE fx_prewarm_plain")
    params = conninfo_to_dict(database.url)
    params.update(dbname="fx_prewarm_plain", user="fx_prewarm_user", password="")
    handle = Database(make_conninfo(**params), application="tests")
    yield handle
    handle.close()
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS fx_prewarm_plain WITH (FORCE)")
        conn.execute("DROP ROLE IF EXISTS fx_prewarm_user")


def test_a_role_that_cannot_create_the_extension_gets_a_clear_error(unprivileged: Any) -> None:
    with pytest.raises(prewarm.PrewarmError, match="cannot create extension 'pg_prewarm'") as caught:
        prewarm.prewarm(unprivileged, progress=False)
    assert "CREATE EXTENSION pg_prewarm" in str(caught.value)
    assert "permission denied" in str(caught.value)


def test_a_server_without_the_extension_gets_a_clear_error(
        database: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prewarm, "EXTENSION", "fx_no_such_extension")
    with pytest.raises(prewarm.PrewarmError, match="has no 'fx_no_such_extension' extension"):
        prewarm.prewarm(database, progress=False)
