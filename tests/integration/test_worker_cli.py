"""`dovos worker` as a process with the real model, and `dovos jobs` / `dovos jobs retry`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner
from worker_support import conversations, embeddings, job_counts, store

from dovos.cli import app

DOVOS = Path(sys.executable).parent / "dovos"


@pytest.mark.slow
def test_dovos_worker_until_empty_embeds_everything(database, embedder) -> None:
    store(database, conversations(30))
    done = subprocess.run(
        [str(DOVOS), "worker", "--until-empty", "--no-progress", "--json", "--batch-size", "8",
         "--concurrency", "2"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    assert (stats["jobs_completed"], stats["messages_embedded"], stats["state"]) == (30, 30, "stopped")
    assert len(embeddings(database, embedder.name)) == 30
    assert job_counts(database) == {"pending": 0, "running": 0, "completed": 30, "failed": 0}


def test_dovos_worker_refuses_bad_options(database) -> None:
    result = CliRunner().invoke(app, ["worker", "--batch-size", "0"])
    assert result.exit_code == 2 and "batch-size" in result.output
    result = CliRunner().invoke(app, ["worker", "--concurrency", "0"])
    assert result.exit_code == 2 and "concurrency" in result.output
    assert job_counts(database)["running"] == 0


def _seed(database) -> None:  # type: ignore[no-untyped-def]
    with database.connect(autocommit=True) as connection:
        connection.execute(
            "INSERT INTO jobs (kind, payload, dedupe_key, status, attempts, last_error) VALUES "
            "('embed_message', '{}', 'embed_message:x', 'failed', 5, "
            "'ValueError: cannot embed this\nTraceback line'),"
            "('embed_message', '{}', 'embed_message:y', 'completed', 1, NULL),"
            "('embed_message', '{}', 'embed_message:z', 'pending', 0, NULL)"
        )
        connection.execute(
            "INSERT INTO worker_heartbeats (worker_id, host, pid, state, jobs_done, "
            "heartbeat_seconds, last_beat) VALUES ('h:1:ab', 'h', 1, 'idle', 7, 5, now())"
        )


def test_dovos_jobs_shows_counts_failures_and_workers(database) -> None:
    _seed(database)
    result = CliRunner().invoke(app, ["jobs"])
    assert result.exit_code == 0, result.output
    assert "pending 1, running 0, completed 1, failed 1" in result.output
    assert "#1 embed_message attempts 5/5: ValueError: cannot embed this" in result.output
    assert "Traceback" not in result.output  # first line of the error only
    assert "h:1:ab alive (idle), pid 1 on h" in result.output and "7 jobs done" in result.output
    data = json.loads(CliRunner().invoke(app, ["jobs", "--json"]).output)
    assert data["counts"]["failed"] == 1
    assert data["failed"][0]["last_error"].startswith("ValueError")
    assert data["workers"][0]["alive"] is True


def test_dovos_jobs_retry(database) -> None:
    _seed(database)
    result = CliRunner().invoke(app, ["jobs", "retry", "--id", "2"])
    assert result.exit_code == 1 and "2" in result.output and "nothing was requeued" in result.output
    result = CliRunner().invoke(app, ["jobs", "retry"])
    assert result.exit_code == 0 and "requeued 1 failed job(s)" in result.output
    assert job_counts(database) == {"pending": 2, "running": 0, "completed": 1, "failed": 0}


def test_dovos_jobs_on_an_empty_queue(database) -> None:
    result = CliRunner().invoke(app, ["jobs"])
    assert result.exit_code == 0
    assert "pending 0, running 0, completed 0, failed 0" in result.output
    assert "none has run" in result.output
