"""Several embedding models in one database (migration 0006): each model has its own
partial HNSW index, a search ranks one model's vectors only, the worker embeds every
configured model and `add_model` queues exactly what a model lacks. Real database, real
all-MiniLM-L6-v2 (fp32 and its bf16 variant, a separate model name)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner
from worker_support import TOPICS, Counting, conversations, embeddings, inputs, store

from dovos.cli import app
from dovos.embeddings import embedder_named
from dovos.repositories.embeddings import (
    ModelDimensionError,
    coverage_of,
    ensure_model,
    get_model,
    index_name,
    upsert_embeddings,
)
from dovos.search.document_text import EMBEDDING_RECIPE, EmbeddingInput
from dovos.search.service import SearchService, bind_model
from dovos.search.sql import build_statement
from dovos.search.types import SearchParams
from dovos.worker import Worker
from dovos.worker.models import add_model, model_report
from dovos.worker.processing import register_vector

BF16 = "all-MiniLM-L6-v2@bf16"



class Tiny:
    """A 48-dimensional embedder (no such real model is installed offline): a fixed
    random projection of the real model's vectors, so similar texts stay similar."""

    name, dim = "tiny-projection-48", 48

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.matrix = np.random.default_rng(7).standard_normal((384, 48)).astype(np.float32)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        projected = self.inner.encode(texts, batch_size=batch_size) @ self.matrix
        return projected / np.linalg.norm(projected, axis=1, keepdims=True)


def _topic_archive(database: Any) -> None:
    store(database, conversations(len(TOPICS), per_conversation=1, tag="topic",
                                  text=lambda i: TOPICS[i]))


def _by_content(database: Any) -> dict[str, uuid.UUID]:
    return {text: message_id for message_id, (_, text) in inputs(database).items()}


def _explain(database: Any, model: str, dimensions: int, vector: np.ndarray) -> str:
    statement, values = build_statement("vector", SearchParams(), None)
    with database.connect() as conn:
        statement = bind_model(statement, model, dimensions, conn)
        values.update(k=10, words=[], tsquery="", qvec="[" + ",".join(map(str, vector)) + "]")
        # A few rows: make the planner show the index that serves the ORDER BY (fresh
        # statistics, and no seq scan + sort, whatever earlier tests left behind).
        conn.execute("ANALYZE message_embeddings")
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_sort = off")
        plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + statement, values))
        conn.rollback()
    return plan


def test_the_worker_embeds_each_configured_model_and_search_keeps_them_apart(
        database, embedder) -> None:  # type: ignore[no-untyped-def]
    _topic_archive(database)
    fp32, bf16 = Counting(embedder), Counting(embedder_named(BF16))
    Worker(database, embedders=[fp32, bf16], progress=False).run(until_empty=True)
    assert len(embeddings(database, embedder.name)) == len(TOPICS)
    assert len(embeddings(database, BF16)) == len(TOPICS)
    assert sum(fp32.encoded.values()) == sum(bf16.encoded.values()) == len(TOPICS)
    with database.connect() as conn:
        assert get_model(conn, BF16).dimensions == 384
    # Scramble the bf16 vectors: message i gets the vector of text i+1. A search that
    # ranked by fp32 vectors (or mixed both) would find the message itself first.
    ids = _by_content(database)
    with database.connect() as conn:
        register_vector(conn)
        with conn.cursor() as cursor:
            rows = [EmbeddingInput(ids[text], 99, 99, text, EMBEDDING_RECIPE) for text in TOPICS]
            vectors = bf16.inner.encode(TOPICS[1:] + TOPICS[:1])
            upsert_embeddings(cursor, BF16, rows, list(vectors))
        conn.commit()
    service = SearchService(database, embedder, embedders=[bf16.inner])
    for i, text in enumerate(TOPICS):
        own = service.search(text, mode="vector", k=3)
        shifted = service.search(text, mode="vector", k=3, model=BF16)
        assert own.effective_mode == shifted.effective_mode == "vector"
        assert own.hits[0].message_id == ids[text]
        assert shifted.hits[0].message_id == ids[TOPICS[i - 1]]
    # The plan reads each model's own partial index, never the other's.
    vector = embedder.encode(["bread"])[0]
    plan = _explain(database, BF16, 384, vector)
    assert index_name(BF16) in plan and index_name(embedder.name) not in plan
    plan = _explain(database, embedder.name, 384, vector)
    assert "message_embeddings_hnsw_idx" in plan and index_name(BF16) not in plan


def test_a_model_of_another_dimension_has_its_own_index(database, embedder) -> None:  # type: ignore[no-untyped-def]
    _topic_archive(database)
    tiny = Tiny(embedder)
    Worker(database, embedders=[embedder, tiny], progress=False).run(until_empty=True)
    with database.connect() as conn:
        assert get_model(conn, tiny.name).dimensions == 48
        dims = dict(conn.execute(
            "SELECT model, min(vector_dims(embedding)) FROM message_embeddings GROUP BY model"
        ).fetchall())
        definition = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s",
                                  (index_name(tiny.name),)).fetchone()[0]
    assert dims == {embedder.name: 384, tiny.name: 48}
    assert "vector(48)" in definition and f"'{tiny.name}'" in definition
    service = SearchService(database, embedder, embedders=[tiny])
    ids = _by_content(database)
    for text in TOPICS:
        small = service.search(text, mode="vector", k=len(TOPICS), model=tiny.name)
        large = service.search(text, mode="vector", k=len(TOPICS))
        assert small.effective_mode == "vector" and small.hits[0].message_id == ids[text]
        # each leg saw exactly its model's rows: ten messages, never twenty
        assert len(small.hits) == len(large.hits) == len(TOPICS)
    hybrid = service.search("bicycle tyre repair", mode="hybrid", model=tiny.name)
    assert hybrid.effective_mode == "hybrid"
    assert hybrid.hits[0].message_id == ids["how to repair a bicycle tyre"]
    plan = _explain(database, tiny.name, 48, tiny.encode(["mars"])[0])
    assert index_name(tiny.name) in plan
    with database.connect() as conn, pytest.raises(ModelDimensionError, match="48 dimensions"):
        ensure_model(conn, tiny.name, 384)


def test_add_model_queues_exactly_the_messages_a_model_lacks(database, embedder) -> None:  # type: ignore[no-untyped-def]
    store(database, conversations(30, per_conversation=10, tag="b"))
    fp32 = Counting(embedder)
    Worker(database, embedders=[fp32], progress=False).run(until_empty=True)
    assert sum(fp32.encoded.values()) == 30
    result = add_model(BF16, database, dimensions=384, progress=False)
    # (the registry outlives each test's TRUNCATE: whether the model is new depends on order)
    assert (result.dimensions, result.messages, result.jobs_added) == (384, 30, 30)
    fp32, bf16 = Counting(embedder), Counting(embedder_named(BF16))
    Worker(database, embedders=[fp32, bf16], progress=False).run(until_empty=True)
    assert sum(fp32.encoded.values()) == 0  # current for fp32: not encoded again
    assert sum(bf16.encoded.values()) == 30
    with database.connect() as conn:
        assert coverage_of(conn, BF16).current == 30
        removed = conn.execute(
            "DELETE FROM message_embeddings WHERE model = %s AND message_id IN "
            "(SELECT message_id FROM message_embeddings WHERE model = %s LIMIT 3) "
            "RETURNING message_id", (BF16, BF16)).fetchall()
        conn.commit()
    again = add_model(BF16, database, dimensions=384, progress=False)
    assert (again.new_model, again.messages, again.jobs_added) == (False, 3, 3)
    assert add_model(BF16, database, dimensions=384, progress=False).jobs_added == 0  # pending
    bf16 = Counting(embedder_named(BF16))
    Worker(database, embedders=[embedder, bf16], progress=False).run(until_empty=True)
    contents = inputs(database)
    assert sorted(bf16.encoded) == sorted(contents[row[0]][1] for row in removed)
    report = {row.model: row for row in model_report(database)}
    assert report[BF16].current == report[embedder.name].current == 30
    assert report[BF16].missing == 0


def test_add_model_refuses_bad_input_without_writing(database) -> None:  # type: ignore[no-untyped-def]
    store(database, conversations(5, tag="bad"))
    with pytest.raises(ValueError, match="precision"):
        add_model("all-MiniLM-L6-v2@int3", database, dimensions=384, progress=False)
    with pytest.raises(ValueError, match="dimensions"):
        add_model("some-model", database, dimensions=4096, progress=False)
    with database.connect() as conn:
        assert get_model(conn, "some-model") is None
        assert conn.execute("SELECT count(*) FROM jobs WHERE status = 'pending'"
                            ).fetchone()[0] == 5  # the import's own jobs only


def test_downgrade_drops_vectors_the_old_column_cannot_hold(database) -> None:  # type: ignore[no-untyped-def]
    store(database, conversations(4, tag="down"))
    ids = list(inputs(database))
    with database.connect() as conn:
        register_vector(conn)
        ensure_model(conn, "down-8d", 8)
        with conn.cursor() as cursor:
            rows = [EmbeddingInput(i, 1, 0, "x", EMBEDDING_RECIPE) for i in ids]
            upsert_embeddings(cursor, "down-8d", rows, [np.ones(8, np.float32)] * 4)
            upsert_embeddings(cursor, "all-MiniLM-L6-v2", rows, [np.ones(384, np.float32)] * 4)
        conn.commit()
    try:
        database.downgrade("0005")
        with database.connect() as conn:
            assert dict(conn.execute("SELECT model, count(*) FROM message_embeddings "
                                     "GROUP BY model").fetchall()) == {"all-MiniLM-L6-v2": 4}
    finally:
        database.migrate("head")
    with database.connect() as conn:
        models = {m: d for m, d in conn.execute("SELECT model, dimensions FROM embedding_models")}
        indexed = {row[0] for row in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'message_embeddings'")}
    assert models == {"all-MiniLM-L6-v2": 384}
    assert "message_embeddings_hnsw_idx" in indexed and index_name("down-8d") not in indexed


def test_models_add_models_list_and_search_model_on_the_command_line(database, embedder) -> None:  # type: ignore[no-untyped-def]
    _topic_archive(database)
    Worker(database, embedders=[embedder], progress=False).run(until_empty=True)
    added = CliRunner().invoke(app, ["models", "add", BF16, "--dimensions", "384", "--json"])
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["jobs_added"] == len(TOPICS)
    Worker(database, embedders=[embedder, embedder_named(BF16)], progress=False).run(
        until_empty=True)
    listed = json.loads(CliRunner().invoke(app, ["models", "--json"]).stdout)
    assert {row["model"]: row["current"] for row in listed}[BF16] == len(TOPICS)
    found = CliRunner().invoke(app, ["search", "sourdough", "--mode", "vector", "--model", BF16,
                                     "--json"])
    assert found.exit_code == 0, found.output
    response = json.loads(found.stdout)
    assert response["effective_mode"] == "vector"
    assert "sourdough" in response["hits"][0]["snippet"]
    bad = CliRunner().invoke(app, ["models", "add", "x@int3", "--dimensions", "8"])
    assert bad.exit_code == 1 and "int3" in bad.output
