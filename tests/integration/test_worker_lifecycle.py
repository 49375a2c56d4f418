"""Running the worker: LISTEN wake-up and the polling fallback, heartbeats, the background
handle a notebook uses, and SIGTERM / double SIGINT on a worker process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from worker_support import (
    FakeEmbedder,
    conversations,
    embeddings,
    job_counts,
    jobs,
    store,
    wait_until,
)

from dovos.worker import Worker, worker_heartbeats

HERE = Path(__file__).resolve().parent


def test_idle_worker_wakes_on_notify_within_a_second(database) -> None:
    """Polling is set to a minute, so only the notification can explain a fast pick-up."""
    embedder = FakeEmbedder()
    worker = Worker(database, embedder=embedder, poll_seconds=60, progress=False,
                    lease_seconds=10)
    handle = worker.start_in_background()
    try:
        wait_until(lambda: worker._listening.is_set(), 20)
        wait_until(lambda: worker.stats.state == "idle", 20)
        latencies = []
        for round_ in range(3):
            time.sleep(0.3)  # let the worker go back to sleep
            started = time.monotonic()
            store(database, conversations(1, tag=f"wake-{round_}"))
            wait_until(lambda n=round_ + 1: len(embeddings(database, embedder.name)) == n, 10,
                       interval=0.01)
            latencies.append(time.monotonic() - started)
    finally:
        handle.stop()
        handle.join(timeout=30)
    print("wake-up latencies (s):", [round(x, 3) for x in latencies])
    assert max(latencies) < 1.0


def test_without_notifications_the_worker_polls(database) -> None:
    embedder = FakeEmbedder()
    worker = Worker(database, embedder=embedder, listen=False, poll_seconds=0.2,
                    progress=False, lease_seconds=10)
    handle = worker.start_in_background()
    try:
        wait_until(lambda: worker.stats.state == "idle", 20)
        store(database, conversations(2))
        wait_until(lambda: len(embeddings(database, embedder.name)) == 2, 10)
    finally:
        handle.stop()
        handle.join(timeout=30)
    assert not worker._listening.is_set()


def test_heartbeat_shows_a_live_worker_then_a_stopped_one(database) -> None:
    store(database, conversations(5))
    worker = Worker(database, embedder=FakeEmbedder(), lease_seconds=1.5, progress=False)
    handle = worker.start_in_background()
    try:
        wait_until(lambda: job_counts(database)["completed"] == 5, 20)
        time.sleep(1.0)  # at least one periodic beat after the work
        [beat] = worker_heartbeats(database)
        assert beat.alive and beat.worker_id == worker.worker_id
        assert (beat.pid, beat.jobs_done, beat.state) == (os.getpid(), 5, "idle")
        assert beat.heartbeat_seconds == 0.5 and beat.age_seconds < 1.5
    finally:
        handle.stop()
        stats = handle.join(timeout=30)
    assert stats is not None and stats.jobs_completed == 5
    [beat] = worker_heartbeats(database)
    assert not beat.alive and beat.state == "stopped"
    with database.connect(autocommit=True) as connection:  # a worker that vanished
        connection.execute(
            "INSERT INTO worker_heartbeats (worker_id, state, heartbeat_seconds, updated_at) "
            "VALUES ('ghost', 'running', 5, now() - interval '1 minute')"
        )
    ghost = next(b for b in worker_heartbeats(database) if b.worker_id == "ghost")
    assert not ghost.alive and ghost.state == "running" and ghost.age_seconds >= 59


def test_background_handle_returns_at_once_and_stops_after_its_batch(database) -> None:
    store(database, conversations(60, per_conversation=60))
    embedder = FakeEmbedder(delay=0.3)
    worker = Worker(database, embedder=embedder, batch_size=10, progress=False,
                    lease_seconds=10)
    started = time.monotonic()
    handle = worker.start_in_background()
    assert time.monotonic() - started < 0.5 and handle.running
    wait_until(lambda: job_counts(database)["completed"] >= 10, 20)
    assert handle.join(timeout=0.01) is None  # still running
    handle.stop()
    stats = handle.join(timeout=30)
    assert stats is not None and not handle.running
    counts = job_counts(database)
    assert counts["running"] == 0
    assert counts["completed"] % 10 == 0 and counts["completed"] < 60  # whole batches only
    assert counts["pending"] == 60 - counts["completed"]
    assert len(embeddings(database, embedder.name)) == counts["completed"]
    assert "finished" in repr(handle)


def test_background_handle_reraises_the_workers_error(database) -> None:
    embedder = FakeEmbedder()
    embedder.dim = 12
    handle = Worker(database, embedder=embedder, progress=False).start_in_background()
    with pytest.raises(ValueError, match="12-dimensional"):
        handle.join(timeout=30)


@pytest.mark.parametrize("concurrency", [1, 2])
def test_stop_with_abort_releases_the_batches_in_hand(database, concurrency) -> None:
    """With two loops, the one waiting for the model gives its batch back unencoded."""
    store(database, conversations(40, per_conversation=40))
    calls: list[int] = []
    embedder = FakeEmbedder(delay=0.5, on_call=lambda texts: calls.append(len(texts)))
    worker = Worker(database, embedder=embedder, batch_size=10, progress=False,
                    lease_seconds=10, concurrency=concurrency)
    handle = worker.start_in_background()
    wait_until(lambda: len(calls) >= 1, 20, interval=0.01)
    if concurrency == 2:
        wait_until(lambda: job_counts(database)["running"] == 20, 20, interval=0.01)
    handle.stop(abort=True)
    stats = handle.join(timeout=30)
    assert stats is not None and stats.jobs_completed == 0
    assert stats.jobs_released == 10 * concurrency
    assert len(calls) == 1
    rows = jobs(database)
    assert {(row["status"], row["attempts"]) for row in rows} == {("pending", 0)}


# -- signals on a worker process (a fake slow model keeps it quick) ------------------------
SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {here!r})
    from worker_support import FakeEmbedder
    from dovos.db import Database
    from dovos.worker import Worker

    def mark(texts):
        with open({marks!r}, "a") as f:
            f.write(f"{{len(texts)}}\\n")

    worker = Worker(Database.open(application="signal-test"), batch_size=10,
                    embedder=FakeEmbedder(delay=1.0, on_call=mark), progress=False,
                    lease_seconds=30, concurrency=1)
    try:
        stats = worker.run()
    except KeyboardInterrupt:
        print(json.dumps(worker.stats.as_dict()))
        sys.exit(130)
    print(json.dumps(stats.as_dict()))
""")


def _start_worker_process(tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    marks = tmp_path / "calls.txt"
    marks.touch()
    code = SCRIPT.format(here=str(HERE), marks=str(marks))
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    return process, marks


def _calls(marks: Path) -> int:
    return len(marks.read_text().splitlines())


@pytest.mark.parametrize("signals", [[signal.SIGTERM], [signal.SIGINT]])
def test_a_signal_finishes_the_batch_and_exits_cleanly(database, tmp_path, signals) -> None:
    store(database, conversations(80, per_conversation=80))
    process, marks = _start_worker_process(tmp_path)
    try:
        wait_until(lambda: _calls(marks) >= 2, 60)  # second batch is being encoded
        for sig in signals:
            process.send_signal(sig)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    stats = json.loads(out)
    assert stats["state"] == "stopped" and stats["jobs_released"] == 0
    counts = job_counts(database)
    assert counts["running"] == 0
    assert counts["completed"] == stats["jobs_completed"] == 10 * _calls(marks)
    assert {(r["status"], r["attempts"]) for r in jobs(database) if r["status"] != "completed"} \
        == {("pending", 0)}
    assert len(embeddings(database, "fake-model")) == counts["completed"]


def test_a_second_interrupt_gives_the_batch_back(database, tmp_path) -> None:
    store(database, conversations(80, per_conversation=80))
    process, marks = _start_worker_process(tmp_path)
    try:
        wait_until(lambda: _calls(marks) >= 2, 60)
        process.send_signal(signal.SIGINT)
        time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, err
    stats = json.loads(out)
    assert stats["jobs_released"] == 10 and stats["jobs_completed"] == 10 * (_calls(marks) - 1)
    counts = job_counts(database)
    assert counts["running"] == 0 and counts["completed"] == stats["jobs_completed"]
    assert {r["attempts"] for r in jobs(database) if r["status"] == "pending"} == {0}
