"""The queue's SQL on the real server: claims, leases, completion, failure, release, retry."""

from __future__ import annotations

import threading
import time

import pytest
from worker_support import conversations, enqueue, jobs, store

from dovos import queue
from dovos.repositories.jobs import EMBED_MESSAGE


def _enqueue(database, count: int, max_attempts: int = 5) -> None:  # type: ignore[no-untyped-def]
    for index in range(count):
        enqueue(database, {"n": index}, dedupe_key=f"k{index}", max_attempts=max_attempts,
                kind=EMBED_MESSAGE)


def test_claim_leases_a_batch_and_counts_the_attempt(database) -> None:
    _enqueue(database, 5)
    with database.connect(autocommit=True) as connection:
        claimed = queue.claim(connection, "w1", limit=3, lease_seconds=60)
        assert [job.id for job in claimed] == [1, 2, 3]  # oldest first
        assert all(job.attempts == 1 and job.kind == EMBED_MESSAGE for job in claimed)
        rows = connection.execute(
            "SELECT id, status, lease_owner, lease_expires_at - now() > interval '50 seconds' "
            "FROM jobs ORDER BY id"
        ).fetchall()
    assert rows[:3] == [(1, "running", "w1", True), (2, "running", "w1", True),
                        (3, "running", "w1", True)]
    assert [row[1] for row in rows[3:]] == ["pending", "pending"]


def test_concurrent_claimers_never_share_a_job(database) -> None:
    _enqueue(database, 600)
    seen: dict[str, list[int]] = {}

    def claimer(owner: str) -> None:
        got: list[int] = []
        with database.connect(autocommit=True) as connection:
            while batch := queue.claim(connection, owner, limit=7, lease_seconds=60):
                got += [job.id for job in batch]
        seen[owner] = got

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [job_id for got in seen.values() for job_id in got]
    assert sorted(every) == list(range(1, 601))  # each job exactly once
    assert sum(1 for got in seen.values() if got) >= 2


def test_expired_lease_is_claimed_again_without_cleanup(database) -> None:
    _enqueue(database, 2)
    with database.connect(autocommit=True) as connection:
        queue.claim(connection, "dead", limit=1, lease_seconds=0.3)
        queue.claim(connection, "alive", limit=1, lease_seconds=60)
        assert queue.claim(connection, "other", limit=5, lease_seconds=60) == []
        time.sleep(0.4)
        again = queue.claim(connection, "other", limit=5, lease_seconds=60)
        assert [(job.id, job.attempts) for job in again] == [(1, 2)]
        # the dead worker can no longer complete what it lost
        with connection.transaction(), connection.cursor() as cursor:
            assert queue.complete(cursor, "dead", [1]) == 0
            assert queue.complete(cursor, "other", [1]) == 1


def test_heartbeat_extends_only_the_owners_leases(database) -> None:
    _enqueue(database, 2)
    with database.connect(autocommit=True) as connection:
        queue.claim(connection, "a", limit=1, lease_seconds=0.5)
        queue.claim(connection, "b", limit=1, lease_seconds=0.5)
        assert queue.extend_leases(connection, "a", lease_seconds=60) == 1
        time.sleep(0.6)
        again = queue.claim(connection, "c", limit=5, lease_seconds=60)
    assert [job.id for job in again] == [2]


def test_failures_back_off_then_fail_for_good_with_the_error(database) -> None:
    _enqueue(database, 1, max_attempts=2)
    backoff = queue.Backoff(base_seconds=10, factor=3, cap_seconds=100, jitter=0.5)
    with database.connect(autocommit=True) as connection:
        [job] = queue.claim(connection, "w", limit=1, lease_seconds=60)
        result = queue.fail(connection, "w", [(job, "boom 1")], backoff)
        assert result.pending == [job.id]
        row = jobs(database)[0]
        delay = (row["run_after"] - row["now"]).total_seconds()
        assert 9 <= delay <= 15.1  # base 10, plus up to 50 % jitter
        assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 1, "boom 1")
        assert queue.claim(connection, "w", limit=1, lease_seconds=60) == []  # not due yet
        connection.execute("UPDATE jobs SET run_after = now()")
        [job] = queue.claim(connection, "w", limit=1, lease_seconds=60)
        result = queue.fail(connection, "w", [(job, "boom 2")], backoff)
    assert result.failed == [job.id]
    row = jobs(database)[0]
    assert (row["status"], row["attempts"], row["last_error"]) == ("failed", 2, "boom 2")


def test_release_refunds_the_attempt_and_is_due_at_once(database) -> None:
    _enqueue(database, 2)
    with database.connect(autocommit=True) as connection:
        claimed = queue.claim(connection, "w", limit=2, lease_seconds=60)
        result = queue.release(connection, "w", [job.id for job in claimed])
        assert result.pending == [1, 2]
        assert [(r["status"], r["attempts"], r["lease_owner"]) for r in jobs(database)] == [
            ("pending", 0, None), ("pending", 0, None)]
        assert len(queue.claim(connection, "w2", limit=5, lease_seconds=60)) == 2


def test_requeue_is_superseded_by_a_newer_pending_job(database) -> None:
    """The unique index allows one pending job per message: a failed attempt of an old
    job for a message that was edited meanwhile closes instead of colliding."""
    parsed = conversations(1, per_conversation=1)
    store(database, parsed)
    with database.connect(autocommit=True) as connection:
        [old] = queue.claim(connection, "w", limit=1, lease_seconds=60)
        store(database, [parsed[0].__class__(parsed[0].source, parsed[0].source_id, "t",
                                             [parsed[0].messages[0].__class__("user", "edited")])])
        result = queue.fail(connection, "w", [(old, "boom")], queue.Backoff(base_seconds=0))
    assert result.superseded == [old.id]
    statuses = [(r["id"], r["status"], r["payload"]["version"]) for r in jobs(database)]
    assert statuses == [(old.id, "completed", 1), (old.id + 1, "pending", 2)]


def test_retry_failed_requeues_and_supersedes_duplicates(database) -> None:
    with database.connect(autocommit=True) as connection:
        connection.execute(
            "INSERT INTO jobs (kind, dedupe_key, status, attempts, last_error) VALUES "
            "('embed_message', 'a', 'failed', 5, 'e1'), ('embed_message', 'a', 'failed', 5, 'e2'),"
            "('embed_message', 'b', 'failed', 5, 'e3'), ('embed_message', 'b', 'pending', 0, NULL),"
            "('embed_message', 'c', 'failed', 5, 'e4')"
        )
        with pytest.raises(queue.NotFailedError, match="4, 99"):
            queue.retry_failed(connection, [1, 4, 99])
        assert [r["status"] for r in jobs(database)] == ["failed", "failed", "failed",
                                                         "pending", "failed"]
        assert queue.retry_failed(connection, [5]).pending == [5]
        result = queue.retry_failed(connection)
    assert result.pending == [2]
    assert result.superseded == [1, 3]
    rows = jobs(database)
    assert [(r["status"], r["attempts"]) for r in rows] == [
        ("completed", 5), ("pending", 0), ("completed", 5), ("pending", 0), ("pending", 0)]


def test_idle_state_reports_live_jobs_and_next_due(database) -> None:
    with database.connect(autocommit=True) as connection:
        assert queue.idle_state(connection) == queue.IdleState(0, None)
        connection.execute(
            "INSERT INTO jobs (kind, run_after) VALUES ('embed_message', now() + interval '5 s'),"
            "('embed_message', now() + interval '50 s'), ('other_kind', now())"
        )
        state = queue.idle_state(connection)
    assert state.live == 2
    assert state.seconds_until_due is not None and 4 < state.seconds_until_due <= 5


def test_counts_and_failed_jobs(database) -> None:
    with database.connect(autocommit=True) as connection:
        connection.execute(
            "INSERT INTO jobs (kind, status, attempts, last_error) VALUES "
            "('embed_message', 'failed', 3, 'bad text'), ('embed_message', 'completed', 1, NULL)"
        )
        assert queue.counts(connection) == {"pending": 0, "running": 0, "completed": 1,
                                            "failed": 1}
        [failed] = queue.failed_jobs(connection)
    assert (failed.id, failed.attempts, failed.last_error) == (1, 3, "bad text")
