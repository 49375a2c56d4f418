"""Several workers (and several loops of one worker) on the same queue: every message is
encoded exactly once, and the work is actually shared."""

from __future__ import annotations

from collections import Counter

from worker_support import FakeEmbedder, conversations, embeddings, job_counts, jobs, store

from dovos.worker import Worker


def test_several_workers_never_encode_a_message_twice(database) -> None:
    store(database, conversations(600, per_conversation=50))
    embedders = [FakeEmbedder(delay=0.02) for _ in range(4)]  # one model name, four objects
    workers = [
        Worker(database, embedder=embedder, batch_size=16, lease_seconds=10, progress=False)
        for embedder in embedders
    ]
    handles = [worker.start_in_background(until_empty=True) for worker in workers]
    results = [handle.join(timeout=120) for handle in handles]
    encoded = sum((embedder.encoded for embedder in embedders), Counter())
    assert len(encoded) == 600 and set(encoded.values()) == {1}
    assert len(embeddings(database, "fake-model")) == 600
    assert job_counts(database) == {"pending": 0, "running": 0, "completed": 600, "failed": 0}
    owners = Counter(row["lease_owner"] for row in jobs(database))
    assert len(owners) >= 3  # the queue was shared, not drained by one worker
    assert sum(stats.jobs_completed for stats in results if stats) == 600


def test_loops_of_one_worker_share_the_model_and_the_queue(database) -> None:
    store(database, conversations(200, per_conversation=50))
    embedder = FakeEmbedder(delay=0.01)
    stats = Worker(database, embedder=embedder, batch_size=8, concurrency=3,
                   lease_seconds=10, progress=False).run(until_empty=True)
    assert len(embedder.encoded) == 200 and set(embedder.encoded.values()) == {1}
    assert stats.jobs_completed == 200
    assert job_counts(database)["completed"] == 200
