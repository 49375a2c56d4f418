"""The drain's coverage (dovos.evaluation.drain) counts an embedding of an older recipe
as stale, as the worker does: after an upgrade that bumps EMBEDDING_RECIPE the old
vectors are all there, yet coverage starts at 0 % and reaches 100 % only once the
worker has re-embedded every message.

Real embedded PostgreSQL, the real worker and the real all-MiniLM-L6-v2 model.
"""

from __future__ import annotations

import time
from typing import Any

from dovos.benchmarks.search_synthetic import generated_conversations
from dovos.evaluation.drain import drain_queue, sample_queue
from dovos.ingest import ingest
from dovos.repositories import embeddings
from dovos.search.document_text import EMBEDDING_RECIPE, enqueue_stale

OLDER = EMBEDDING_RECIPE - 1


def _archive_at_recipe(database: Any, model: str, recipe: int) -> int:
    """40 messages, each with a vector stored under `recipe` at its current versions, and
    no job left in the queue; returns the message count."""
    with database.connect() as conn:
        ingest(conn, generated_conversations(40, per_conversation=10)[0])
        conn.execute("DELETE FROM jobs")
        written = embeddings.insert_synthetic(conn, model, topics=4, recipe=recipe)
        conn.commit()
    return written


def test_an_older_recipe_is_not_counted_as_covered(database: Any, embedder: Any) -> None:
    total = _archive_at_recipe(database, embedder.name, OLDER)
    before = sample_queue(database, embedder.name, time.monotonic())
    assert (before.total, before.embedded, before.percent) == (total, 0, 0.0)
    with database.connect() as conn:
        found, queued = enqueue_stale(conn, embedder.name)
        conn.commit()
    assert found == queued == total
    log = drain_queue(database, embedder=embedder, poll_seconds=0.2, progress=False)
    assert log.samples[0].embedded == 0
    assert (log.final.embedded, log.final.percent) == (total, 100.0)
    assert log.worker["messages_embedded"] == total


def test_the_current_recipe_counts_as_covered(database: Any, embedder: Any) -> None:
    total = _archive_at_recipe(database, embedder.name, EMBEDDING_RECIPE)
    sample = sample_queue(database, embedder.name, time.monotonic())
    assert (sample.total, sample.embedded, sample.percent) == (total, total, 100.0)
