"""Failures: transient embedder errors are retried with backoff; a poison message fails
for good after max_attempts with its error, without holding up the other messages."""

from __future__ import annotations

from worker_support import FakeEmbedder, conversations, embeddings, job_counts, jobs, store

from dovos.queue import Backoff
from dovos.worker import Worker

FAST_BACKOFF = Backoff(base_seconds=0.05, factor=2, cap_seconds=0.5, jitter=0.1)


def test_transient_failures_are_retried_until_they_succeed(database) -> None:
    store(database, conversations(10, per_conversation=10))
    # the first call fails, then bisection's calls 2..4 fail too: every job sees a failure
    embedder = FakeEmbedder(fail_calls=40)
    stats = Worker(database, embedder=embedder, backoff=FAST_BACKOFF, progress=False,
                   lease_seconds=10).run(until_empty=True)
    rows = jobs(database)
    assert {row["status"] for row in rows} == {"completed"}
    assert len(embeddings(database, embedder.name)) == 10
    assert stats.jobs_retried >= 10 and stats.jobs_failed == 0
    assert all(row["attempts"] >= 2 for row in rows)
    assert all(row["last_error"].startswith("RuntimeError: injected failure") for row in rows)


def test_poison_job_fails_after_max_attempts_and_others_finish_first_time(database) -> None:
    parsed = conversations(
        40, per_conversation=40,
        text=lambda i: "POISON pill" if i == 39 else f"healthy message {i}",
    )
    with database.connect() as connection:
        from dovos.ingest import ingest

        ingest(connection, parsed, max_attempts=3)
    embedder = FakeEmbedder(poison="POISON")
    stats = Worker(database, embedder=embedder, backoff=FAST_BACKOFF, progress=False,
                   lease_seconds=10, batch_size=16).run(until_empty=True)
    rows = jobs(database)
    poison = [row for row in rows if row["status"] == "failed"]
    assert len(poison) == 1
    assert poison[0]["attempts"] == 3
    assert poison[0]["last_error"] == "ValueError: cannot embed text containing 'POISON'"
    healthy = [row for row in rows if row["status"] == "completed"]
    assert len(healthy) == 39
    assert all(row["attempts"] == 1 for row in healthy)  # never failed because of it
    assert len(embeddings(database, embedder.name)) == 39
    assert (stats.jobs_failed, stats.jobs_retried, stats.jobs_completed) == (1, 2, 39)
    assert job_counts(database) == {"pending": 0, "running": 0, "completed": 39, "failed": 1}


def test_retrying_a_failed_job_after_a_fix_embeds_it(database) -> None:
    with database.connect() as connection:
        from dovos.ingest import ingest

        ingest(connection, conversations(3, text=lambda i: f"bad {i}" if i == 2 else f"ok {i}"),
               max_attempts=1)
    Worker(database, embedder=FakeEmbedder(poison="bad"), progress=False).run(until_empty=True)
    assert job_counts(database)["failed"] == 1
    from dovos.worker import retry_failed

    assert len(retry_failed(database).pending) == 1
    fixed = FakeEmbedder()
    Worker(database, embedder=fixed, progress=False).run(until_empty=True)
    assert job_counts(database) == {"pending": 0, "running": 0, "completed": 3, "failed": 0}
    assert fixed.count("bad 2") == 1 and sum(fixed.encoded.values()) == 1
