"""Faults on the real embedded server: the postmaster killed (`kill -9`) while the worker
writes a claim, and two workers plus an import at once.

These tests run a cluster of their own (a private DOVOS_HOME), so killing its postmaster
does not disturb the session's server. A trigger records every row written to
`message_embeddings`, committed with the write itself, so "embedded once" is checked on
what the database actually wrote, across the crash.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from fault_support import postmaster_pid as _postmaster_pid
from fault_support import private_cluster
from fault_support import restarted as _restarted
from worker_support import conversations, edit, inputs, job_counts, store, wait_until

from dovos.db import Database
from dovos.worker import Worker

pytestmark = pytest.mark.slow

AUDIT_SQL = """
CREATE TABLE IF NOT EXISTS embedding_writes (
    message_id uuid, message_version int, context_version int,
    written_at timestamptz DEFAULT clock_timestamp()
);
CREATE OR REPLACE FUNCTION record_embedding_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO embedding_writes (message_id, message_version, context_version)
    VALUES (NEW.message_id, NEW.message_version, NEW.context_version);
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER record_embedding_write AFTER INSERT OR UPDATE ON message_embeddings
    FOR EACH ROW EXECUTE FUNCTION record_embedding_write();
"""
WORDS = ["memory", "garden", "trip", "painting", "support", "group", "camping", "adoption",
         "concert", "book", "museum", "recipe"]


def _text(i: int) -> str:
    words = [WORDS[(i * 7 + k * 5) % len(WORDS)] for k in range(6 + i % 19)]
    return f"Turn {i}: " + " ".join(words) + "."


@pytest.fixture(scope="module")
def private_database() -> Iterator[Database]:
    """A migrated database on an embedded cluster of its own (fault_support)."""
    with private_cluster() as database:
        with database.connect(autocommit=True) as connection:
            connection.execute(AUDIT_SQL)
        yield database


@pytest.fixture
def faults_db(private_database: Database) -> Iterator[Database]:
    yield private_database
    with private_database.connect(autocommit=True) as connection:
        connection.execute("TRUNCATE conversations, messages, message_embeddings, jobs, "
                           "worker_heartbeats, embedding_writes RESTART IDENTITY CASCADE")


def _writes(database: Database) -> list[tuple[Any, int, int, float]]:
    with database.connect() as connection:
        return connection.execute(
            "SELECT message_id, message_version, context_version, "
            "extract(epoch FROM written_at)::float8 FROM embedding_writes"
        ).fetchall()


def _assert_each_message_embedded_once_at_its_latest_input(database: Database, model: str) -> None:
    writes = _writes(database)
    repeated = [key for key, n in Counter(row[:3] for row in writes).items() if n > 1]
    assert not repeated, f"{len(repeated)} inputs written more than once, e.g. {repeated[:3]}"
    with database.connect() as connection:
        stored = {row[0]: (row[1], row[2]) for row in connection.execute(
            "SELECT message_id, message_version, context_version FROM message_embeddings "
            "WHERE model = %s", (model,)).fetchall()}
        current = {item.message_id: item.versions for item in _current_inputs(connection)}
    assert stored == current  # every message, at its latest input
    assert job_counts(database)["completed"] > 0
    assert {k: v for k, v in job_counts(database).items() if k != "completed"} == {
        "pending": 0, "running": 0, "failed": 0}


def _current_inputs(connection: Any) -> list[Any]:
    from dovos.search.document_text import fetch_embedding_inputs

    with connection.cursor() as cursor:
        ids = [row[0] for row in cursor.execute("SELECT id FROM messages").fetchall()]
        return fetch_embedding_inputs(cursor, ids)


def test_postmaster_killed_during_a_batch(faults_db, embedder, caplog) -> None:
    """The worker survives the restart (it starts the server again itself), keeps its
    claim, and every message ends embedded exactly once at its latest input."""
    parsed = conversations(1500, per_conversation=50, text=_text)
    store(faults_db, parsed)
    worker = Worker(faults_db, embedder=embedder, progress=False, lease_seconds=30)
    caplog.set_level(logging.WARNING, logger="dovos.worker")
    handle = worker.start_in_background(until_empty=True)
    try:
        # killed while a claim is in hand, after some slices of it were written
        wait_until(lambda: len(_writes(faults_db)) >= 64 and handle.state == "running", 300,
                   interval=0.02)
        old_pid = _postmaster_pid(faults_db)
        killed_at = time.time()
        os.kill(old_pid, signal.SIGKILL)
        wait_until(lambda: handle.state == "reconnecting", 60, interval=0.01)
        assert "reconnecting" in repr(handle)
        # nobody but the worker restarts the server
        wait_until(lambda: _restarted(faults_db, old_pid), 120, interval=0.05)
        server_back = psutil.Process(_postmaster_pid(faults_db)).create_time()
        wait_until(lambda: handle.state != "reconnecting", 60, interval=0.05)
        # an edit after the restart: its message must end at the new version
        edit(faults_db, parsed, {(29, 49): "edited after the restart"})
        stats = handle.join(timeout=600)
    finally:
        handle.stop(abort=True)
        handle.join(timeout=60)
    assert stats is not None and stats.state == "stopped" and stats.jobs_failed == 0
    assert stats.reconnects == 1 and len(worker.outages) == 1
    messages = [r.getMessage() for r in caplog.records if r.name == "dovos.worker"]
    assert sum("database unavailable" in m for m in messages) == 1, messages
    assert sum("reconnected" in m for m in messages) == 1, messages
    _assert_each_message_embedded_once_at_its_latest_input(faults_db, embedder.name)
    assert inputs(faults_db)  # the real texts (context included) were what got embedded
    after = sorted(row[3] for row in _writes(faults_db) if row[3] > killed_at)
    assert after, "nothing was embedded after the restart"
    print(f"\nrecovery: server back {server_back - killed_at:.2f} s after the kill, first "
          f"embedding {after[0] - server_back:.2f} s after the server was back; worker saw "
          f"an outage of {worker.outages[0]:.2f} s")


def test_dovos_worker_process_survives_a_postmaster_kill(faults_db, embedder) -> None:
    """The CLI worker (the issue's traceback): one line when the database goes, one when
    it is back, exit 0 with everything embedded once."""
    store(faults_db, conversations(900, per_conversation=50, text=_text))
    assert faults_db.embedded is not None
    env = {**os.environ, "DOVOS_HOME": str(faults_db.embedded.home)}
    env.pop("DATABASE_URL", None)
    dovos = Path(sys.executable).parent / "dovos"
    process = subprocess.Popen(
        [str(dovos), "worker", "--until-empty", "--no-progress", "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_until(lambda: len(_writes(faults_db)) >= 32
                   and job_counts(faults_db)["running"] > 0, 300, interval=0.02)
        old_pid = _postmaster_pid(faults_db)
        os.kill(old_pid, signal.SIGKILL)
        wait_until(lambda: _restarted(faults_db, old_pid), 120, interval=0.05)
        out, err = process.communicate(timeout=600)
    finally:
        process.kill()
    assert process.returncode == 0, err
    lines = [line for line in err.splitlines() if "database unavailable" in line
             or "reconnected" in line]
    assert len(lines) == 2 and "retrying in" in lines[0] and "reconnected" in lines[1], err
    assert "Traceback" not in err
    stats = json.loads(out)
    assert stats["reconnects"] == 1 and stats["jobs_failed"] == 0
    _assert_each_message_embedded_once_at_its_latest_input(faults_db, embedder.name)


def test_two_workers_and_an_import_at_once_embed_each_input_once(faults_db, embedder) -> None:
    first = conversations(600, per_conversation=40, tag="first", text=_text)
    store(faults_db, first)
    workers = [Worker(faults_db, embedder=embedder, progress=False, lease_seconds=5,
                      batch_size=64, concurrency=1) for _ in range(2)]
    handles = [worker.start_in_background() for worker in workers]
    errors: list[BaseException] = []

    def import_more() -> None:
        try:
            for round_ in range(3):
                store(faults_db, conversations(200, per_conversation=40, tag=f"more-{round_}",
                                               text=_text))
                edit(faults_db, first, {(round_, 39): f"edited in round {round_}",
                                        (round_ + 5, 0): f"first turn edited in round {round_}"})
        except BaseException as error:  # noqa: BLE001 - re-raised in the test thread
            errors.append(error)

    importer = threading.Thread(target=import_more)
    try:
        wait_until(lambda: len(_writes(faults_db)) > 0, 300, interval=0.02)
        importer.start()
        importer.join(timeout=300)
        assert not errors, errors
        wait_until(lambda: job_counts(faults_db)["pending"] + job_counts(faults_db)["running"]
                   == 0, 600, interval=0.2)
    finally:
        for handle in handles:
            handle.stop()
        stats = [handle.join(timeout=120) for handle in handles]
    assert all(s is not None and s.jobs_completed > 0 for s in stats)  # both took part
    _assert_each_message_embedded_once_at_its_latest_input(faults_db, embedder.name)
