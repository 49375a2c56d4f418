"""Vectors the benchmarks store themselves (`copy_embeddings` from the latency
benchmark's archive, `insert_synthetic` from the scale benchmark's) carry the code's
recipe (`EMBEDDING_RECIPE`), so recipe-aware readers (the worker, `stale_message_ids`,
`document_text.coverage`) count them current instead of queueing them again.

Real embedded PostgreSQL and the real all-MiniLM-L6-v2 model.
"""

from __future__ import annotations

from typing import Any

from dovos.benchmarks.scale import load_vectors
from dovos.benchmarks.search_latency import build_generated_archive
from dovos.benchmarks.search_synthetic import generated_conversations
from dovos.ingest import ingest
from dovos.search.document_text import EMBEDDING_RECIPE, coverage, stale_message_ids


def _recipes(database: Any, model: str) -> dict[int, int]:
    with database.connect() as conn:
        return dict(conn.execute("SELECT recipe, count(*) FROM message_embeddings "
                                 "WHERE model = %s GROUP BY recipe", (model,)).fetchall())


def _all_current(database: Any, model: str) -> None:
    with database.connect() as conn:
        covered = coverage(conn, model)
        with conn.cursor() as cursor:
            stale = stale_message_ids(cursor, model)
    assert covered.total > 0
    assert (covered.current, covered.stale) == (covered.total, 0)
    assert stale == []


def test_the_latency_archive_copies_its_vectors_at_the_current_recipe(
        database: Any, embedder: Any) -> None:
    stored = build_generated_archive(database, embedder, messages=300, pool_size=40)
    assert _recipes(database, embedder.name) == {EMBEDDING_RECIPE: stored}
    _all_current(database, embedder.name)


def test_the_scale_benchmarks_synthetic_vectors_are_at_the_current_recipe(
        database: Any) -> None:
    model = "all-MiniLM-L6-v2"  # its index exists already: the test leaves no other
    with database.connect() as conn:
        ingest(conn, generated_conversations(200, per_conversation=20)[0])
    figures = load_vectors(database, model)
    assert figures["indexes"]  # the build ran
    assert _recipes(database, model) == {EMBEDDING_RECIPE: 200}
    _all_current(database, model)
