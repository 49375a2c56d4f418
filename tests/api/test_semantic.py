"""Search endpoints with embeddings present (real model): semantic and hybrid run, the
contract's search types map to the service's modes, and distances follow the
documented mapping distance = (1 - cosine similarity) / 2."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from dovos.api import models as m
from dovos.benchmarks.api import embed_archive
from dovos.repositories import settings
from dovos.repositories.unit_of_work import UnitOfWork
from dovos.search.document_text import fetch_embedding_inputs


@pytest.fixture(scope="module")
def embedded(archive: Any, embedder: Any) -> Iterator[Any]:
    """The fixed archive with every message embedded; embeddings removed afterwards."""
    assert embed_archive(archive.database, embedder) == 17
    yield archive
    with archive.database.engine.begin() as conn:
        conn.execute(text("DELETE FROM message_embeddings"))


def _search(client: Any, **params: Any) -> m.SearchResponse:
    response = client.get("/api/search", params=params)
    assert response.status_code == 200, response.text
    return m.SearchResponse.model_validate(response.json())


def test_search_types_map_to_what_ran(client: Any, embedded: Any) -> None:
    assert _search(client, q="python").search_metadata.search_type == "hybrid"  # auto
    assert _search(client, q="python", search_type="semantic").search_metadata.search_type \
        == "semantic"
    assert _search(client, q="python", search_type="hybrid").search_metadata.search_type == "hybrid"
    assert _search(client, q="python", search_type="fts").search_metadata.search_type == "fts"
    forced = _search(client, q="python", search_type="semantic", keyword="true")
    assert forced.search_metadata.search_type == "fts"


def test_semantic_search_finds_a_paraphrase(client: Any, embedded: Any) -> None:
    body = _search(client, q="my bread yeast culture smells of acetone", search_type="semantic")
    assert body.results[0].title == "Sourdough starter schedule"


def test_rag_semantic_distance_is_half_of_one_minus_cosine(client: Any, embedded: Any,
                                                           embedder: Any) -> None:
    query = "how can two containers talk to each other"
    response = client.post("/api/rag/query", json={"query": query, "n_results": 5})
    body = m.RagQueryResponse.model_validate(response.json())
    assert body.search_type == "semantic" and len(body.results) == 5
    assert body.results[0].title == "Docker compose networking"
    # What was embedded for each message (the service decides; it may add context).
    with embedded.database.connect() as conn, conn.cursor() as cursor:
        inputs = {str(item.message_id): item.text for item in fetch_embedding_inputs(
            cursor, [uuid.UUID(r.metadata.message_id) for r in body.results])}
    texts = [inputs[result.metadata.message_id] for result in body.results]
    vectors = embedder.encode([query] + texts)
    for result, vector in zip(body.results, vectors[1:], strict=True):
        similarity = float(np.dot(vectors[0], vector))
        assert result.distance == pytest.approx((1.0 - similarity) / 2.0, abs=1e-3)
        assert result.relevance == pytest.approx(1.0 - result.distance, abs=1e-6)
    distances = [result.distance for result in body.results]
    assert distances == sorted(distances)


def test_rag_hybrid_scores_are_in_range_and_ordered(client: Any, embedded: Any) -> None:
    response = client.post("/api/rag/query", json={"query": "sourdough starter feeding",
                                                   "n_results": 6, "search_type": "hybrid"})
    body = m.RagQueryResponse.model_validate(response.json())
    assert body.search_type == "hybrid"
    assert body.results[0].title == "Sourdough starter schedule"
    relevances = [result.relevance for result in body.results]
    assert relevances == sorted(relevances, reverse=True)
    assert all(0.0 <= value <= 1.0 for value in relevances)


def test_stats_count_embeddings(client: Any, embedded: Any) -> None:
    body = m.StatsResponse.model_validate(client.get("/api/stats").json())
    assert body.total_embeddings == 17
    assert body.embedding_coverage_percent == 100.0


def test_stats_coverage_is_the_share_of_messages_with_a_vector(client: Any, embedded: Any) -> None:
    """Coverage counts vectors by the model over the message count the BM25 triggers
    keep (no scan of messages); removing 4 of 17 vectors shows as 13/17."""
    with embedded.database.engine.begin() as conn:
        messages = conn.execute(text("SELECT count(*) FROM messages")).scalar_one()
        saved = conn.execute(text(
            "DELETE FROM message_embeddings WHERE message_id IN "
            "(SELECT message_id FROM message_embeddings ORDER BY message_id LIMIT 4) "
            "RETURNING message_id, model, embedding, message_version, context_version"
        )).all()
    try:
        body = m.StatsResponse.model_validate(client.get("/api/stats").json())
        assert body.total_messages == messages == 17
        assert body.total_embeddings == 13
        assert body.embedding_coverage_percent == round(100.0 * 13 / 17, 2)
    finally:
        with embedded.database.engine.begin() as conn:
            for row in saved:
                conn.execute(text(
                    "INSERT INTO message_embeddings (message_id, model, embedding, "
                    "message_version, context_version) VALUES (:id, :model, :embedding, "
                    ":mv, :cv)"), {"id": row.message_id, "model": row.model,
                                   "embedding": row.embedding, "mv": row.message_version,
                                   "cv": row.context_version})


def test_search_uses_the_stored_parameters(client: Any, embedded: Any, embedder: Any) -> None:
    """Parameters saved by the tuning workbench reach the API: with RRF (k = 10) stored,
    hybrid relevances are the fused score over its best possible value, 2 / 11."""
    from dovos.search.service import SearchService
    from dovos.search.types import SEARCH_PARAMS_KEY, SearchParams

    service = SearchService(embedded.database, embedder)
    stored = SearchParams(fusion="rrf", rrf_k=10, lexical_weight=1.0, vector_weight=1.0)
    service.save_params(stored, {"dataset": "test"})
    try:
        query = "sourdough starter feeding"
        direct = service.search(query, mode="hybrid", k=4)
        response = client.post("/api/rag/query",
                               json={"query": query, "n_results": 4, "search_type": "hybrid"})
    finally:
        with UnitOfWork(embedded.database) as uow:
            settings.delete(uow.connection, SEARCH_PARAMS_KEY)
    assert direct.params.fusion == "rrf" and direct.params.rrf_k == 10
    relevances = [result["relevance"] for result in response.json()["results"]]
    assert relevances == [round(min(hit.score * 11 / 2, 1.0), 6) for hit in direct.hits]
