"""Embedding recipes (migration 0008): an embedding computed with an older recipe of what
is embedded (`EMBEDDING_RECIPE` in dovos/search/document_text.py) is stale, keeps serving
vector search until the worker replaces it, and is queued again after the upgrade.

Real embedded PostgreSQL and the real all-MiniLM-L6-v2 model throughout.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from worker_support import TOPICS, Counting, conversations, enqueue, inputs, store

from dovos.repositories.embeddings import coverage_of, ensure_model, upsert_embeddings
from dovos.search.document_text import (
    EMBEDDING_RECIPE,
    PREVIOUS_TURN_CHARS,
    EmbeddingInput,
    coverage,
    stale_message_ids,
)
from dovos.search.service import SearchService
from dovos.worker import Worker
from dovos.worker.models import add_model
from dovos.worker.processing import register_vector


def _drain(database: Any, embedder: Any) -> Counting:
    counting = Counting(embedder)
    Worker(database, embedders=[counting], progress=False).run(until_empty=True)
    return counting


def _topic_archive(database: Any) -> dict[str, uuid.UUID]:
    """One single-message conversation per topic (no previous turn); text -> message id."""
    store(database, conversations(len(TOPICS), per_conversation=1, tag="recipe",
                                  text=lambda i: TOPICS[i]))
    return {text: message_id for message_id, (_, text) in inputs(database).items()}


def _stored(database: Any, model: str) -> dict[uuid.UUID, tuple[int, np.ndarray]]:
    """message id -> (recipe, vector) of `model`."""
    with database.connect() as conn:
        register_vector(conn)
        rows = conn.execute("SELECT message_id, recipe, embedding::vector(384) "
                            "FROM message_embeddings WHERE model = %s", (model,)).fetchall()
    return {row[0]: (row[1], np.asarray(row[2].to_numpy(), np.float32)) for row in rows}


def _make_old_recipe(database: Any, embedder: Any, ids: dict[str, uuid.UUID]) -> None:
    """Turn every embedding into one of recipe 1 with a recognisably different vector:
    the message of topic i gets the vector of topic i+1."""
    shifted = embedder.encode(TOPICS[1:] + TOPICS[:1])
    with database.connect() as conn:
        register_vector(conn)
        for text, vector in zip(TOPICS, shifted, strict=True):
            conn.execute("UPDATE message_embeddings SET embedding = %s, recipe = 1 "
                         "WHERE message_id = %s AND model = %s",
                         (np.asarray(vector, np.float32), ids[text], embedder.name))
        conn.commit()


def _top_hit(service: SearchService, query: str) -> uuid.UUID:
    response = service.search(query, mode="vector", k=3)
    assert response.effective_mode == "vector"
    return response.hits[0].message_id


def test_an_older_recipe_serves_search_until_the_worker_re_embeds_it(database, embedder) -> None:  # type: ignore[no-untyped-def]
    ids = _topic_archive(database)
    assert sum(_drain(database, embedder).encoded.values()) == len(TOPICS)
    assert {recipe for recipe, _ in _stored(database, embedder.name).values()} == {EMBEDDING_RECIPE}
    _make_old_recipe(database, embedder, ids)

    with database.connect() as conn, conn.cursor() as cursor:
        assert sorted(stale_message_ids(cursor, embedder.name)) == sorted(ids.values())
        assert coverage(conn, embedder.name).stale == len(TOPICS)
        assert coverage_of(conn, embedder.name).stale == 0  # versions alone: unchanged
    # the old-recipe vectors still serve vector search: topic i+1 finds message i
    service = SearchService(database, embedder)
    for i, text in enumerate(TOPICS):
        assert _top_hit(service, TOPICS[(i + 1) % len(TOPICS)]) == ids[text]

    # `dovos models add MODEL` queues what is stale, the worker replaces it
    result = add_model(embedder.name, database, dimensions=384, progress=False)
    assert (result.messages, result.jobs_added) == (len(TOPICS), len(TOPICS))
    counting = _drain(database, embedder)
    assert sorted(counting.encoded) == sorted(TOPICS)  # each once, as it reads now
    stored = _stored(database, embedder.name)
    expected = embedder.encode(TOPICS)
    for text, vector in zip(TOPICS, expected, strict=True):
        recipe, stored_vector = stored[ids[text]]
        assert recipe == EMBEDDING_RECIPE
        assert float(np.dot(stored_vector, vector)) > 0.999
    for text in TOPICS:
        assert _top_hit(service, text) == ids[text]
    with database.connect() as conn, conn.cursor() as cursor:
        assert stale_message_ids(cursor, embedder.name) == []
        assert coverage(conn, embedder.name).current == len(TOPICS)


def test_the_current_recipe_is_not_embedded_again(database, embedder) -> None:  # type: ignore[no-untyped-def]
    ids = _topic_archive(database)
    _drain(database, embedder)
    before = _stored(database, embedder.name)
    assert add_model(embedder.name, database, dimensions=384, progress=False).messages == 0
    for message_id in ids.values():  # a producer queues them anyway
        enqueue(database, {"message_id": str(message_id), "version": 1},
                dedupe_key=f"embed_message:{message_id}")
    assert sum(_drain(database, embedder).encoded.values()) == 0
    after = _stored(database, embedder.name)
    assert all(np.array_equal(before[i][1], after[i][1]) for i in ids.values())


def test_a_newer_recipe_replaces_the_vector_and_an_older_one_never_does(database, embedder) -> None:  # type: ignore[no-untyped-def]
    message_id = _topic_archive(database)[TOPICS[0]]
    old, new, stray = (np.full(384, value, np.float32) / np.sqrt(384) for value in (1, -1, 2))
    model = embedder.name
    with database.connect() as conn:
        register_vector(conn)
        ensure_model(conn, model, 384)
        with conn.cursor() as cursor:
            # recipe 1 at versions above the message's own (what a newer version would be)
            assert upsert_embeddings(cursor, model, [EmbeddingInput(message_id, 7, 7, "a", 1)],
                                     [old]) == 1
            assert upsert_embeddings(cursor, model, [EmbeddingInput(message_id, 1, 0, "b", 2)],
                                     [new]) == 1  # newer recipe wins whatever the versions
            assert upsert_embeddings(cursor, model, [EmbeddingInput(message_id, 9, 9, "c", 1)],
                                     [stray]) == 0  # never back to an older recipe
            assert upsert_embeddings(cursor, model, [EmbeddingInput(message_id, 1, 0, "b", 2)],
                                     [stray]) == 0  # the same key again changes nothing
        conn.commit()
    recipe, vector = _stored(database, model)[message_id]
    assert recipe == 2 and np.allclose(vector, new)


def test_the_upgrade_numbers_old_embeddings_1_and_queues_them(database, embedder) -> None:  # type: ignore[no-untyped-def]
    previous = "an opening remark that goes on for a while " * 10  # 440 characters
    parsed = conversations(6, per_conversation=2, tag="upgrade",
                           text=lambda i: previous + str(i) if i % 2 == 0 else f"reply {i}")
    store(database, parsed)
    _drain(database, embedder)
    try:
        database.downgrade("0007")  # the schema before recipes: the vectors stay
        with database.connect() as conn:
            assert conn.execute("SELECT count(*) FROM message_embeddings").fetchone()[0] == 6
    finally:
        database.migrate("head")
    stored = _stored(database, embedder.name)
    assert {recipe for recipe, _ in stored.values()} == {1}
    with database.connect() as conn:
        pending = conn.execute("SELECT payload->>'message_id' FROM jobs "
                               "WHERE status = 'pending' AND kind = 'embed_message'").fetchall()
        assert sorted(uuid.UUID(row[0]) for row in pending) == sorted(stored)
        assert coverage(conn, embedder.name).stale == 6
        assert conn.execute("SELECT stale FROM embedding_coverage WHERE model = %s",
                            (embedder.name,)).fetchone()[0] == 0  # the view: versions only
    counting = _drain(database, embedder)
    assert sum(counting.encoded.values()) == 6
    replies = [text for text in counting.encoded if "reply" in text]
    assert len(replies) == 3
    for text in replies:  # the recipe-2 input: the previous turn's last 200 characters
        context, _ = text.rsplit("\n", 1)
        assert len(context) == PREVIOUS_TURN_CHARS == 200
    assert {recipe for recipe, _ in _stored(database, embedder.name).values()} == {2}
    with database.connect() as conn:
        assert coverage(conn, embedder.name).stale == 0
