"""The vector leg joins messages only when a filter needs it, and finds exactly what the
joined statement found (issue 16: the join was a hundred index probes per search)."""

from __future__ import annotations

import numpy as np
import pytest
from search_support import build_archive, truncate

from dovos.search.service import SearchService, _vector_literal, bind_model
from dovos.search.sql import SEARCH_KNOBS_SQL, build_statement
from dovos.search.types import SearchFilters, SearchParams

JOIN = "JOIN messages m ON m.id = e.message_id"
QUERIES = ("When did Caroline go to the support group?", "vegetable garden harvest",
           "Explain the HNSW ef_search parameter of pgvector.", "swimming lessons")


@pytest.fixture(scope="module")
def service(database_session, embedder):  # type: ignore[no-untyped-def]
    truncate(database_session)
    build_archive(database_session, embedder)
    yield SearchService(database_session, embedder)
    truncate(database_session)


def _rows(service: SearchService, mode: str, query: str, joined: bool) -> list[tuple]:
    """The statement's rows for `query`, with the vector leg's join to messages forced in
    (the statement before the change) or as built."""
    sql, values = build_statement(mode, SearchParams(), None)
    vector = service.embedder.encode([query])[0]
    with service.database.connect() as conn:
        sql = bind_model(sql, service.model, len(vector), conn)
        if joined:
            sql = sql.replace("FROM message_embeddings e ", f"FROM message_embeddings e {JOIN} ")
        values.update(k=20, words=query.lower().rstrip("?.").split(), tsquery=" | ".join(
            w for w in query.lower().rstrip("?.").split() if w.isalpha()),
            qvec=_vector_literal(vector))
        conn.execute(SEARCH_KNOBS_SQL, {"ef_search": "100", "fuzzy_threshold": "0.5"})
        rows = conn.execute(sql, values).fetchall()
        conn.rollback()
    return [(row[0], row[10], row[13], row[14]) for row in rows]


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
def test_unfiltered_vector_leg_has_no_join_and_the_same_results(service: SearchService,
                                                               mode: str) -> None:
    sql, _ = build_statement(mode, SearchParams(), None)
    assert JOIN not in sql
    for query in QUERIES:
        plain = _rows(service, mode, query, joined=False)
        assert plain, query
        assert any(row[3] is not None for row in plain)  # the vector leg contributed
        assert plain == _rows(service, mode, query, joined=True), query


def test_a_filter_still_joins_messages_and_holds(service: SearchService) -> None:
    filters = SearchFilters(roles=("assistant",))
    sql, _ = build_statement("vector", SearchParams(), filters)
    assert JOIN in sql
    response = service.search("support group", mode="vector", k=20, filters=filters)
    assert response.hits and {hit.role for hit in response.hits} == {"assistant"}
    source = SearchFilters(sources=("chatgpt",))
    assert "JOIN conversations c" in build_statement("vector", SearchParams(), source)[0]
    hits = service.search("autovacuum workers", mode="vector", k=20, filters=source).hits
    assert hits and {hit.source for hit in hits} == {"chatgpt"}


def test_breakdown_times_every_piece_of_the_vector_leg(service: SearchService) -> None:
    from dovos.benchmarks.vector_leg import vector_leg_breakdown

    texts = ["support group feelings", "autovacuum workers", "kids swimming", "garden"]
    figures = vector_leg_breakdown(service.database, service.embedder, texts)
    counts = {name: value["n"] for name, value in figures.items() if isinstance(value, dict)}
    assert counts["query embedding (one torch thread)"] == len(texts)
    assert counts["vector statement, warm (knobs + statement)"] == len(texts)
    # cold figures come from disjoint halves of the queries
    assert counts["service vector search, cold (embedding included)"] == 2
    assert counts["bare HNSW LIMIT 10, cold"] == 2
    assert figures["bare HNSW LIMIT 100, warm"]["backend_cpu_p50"] >= 0


def test_ef_search_sweep_agrees_with_exact_search_on_a_small_archive(
        service: SearchService) -> None:
    from dovos.benchmarks.vector_leg import ef_search_sweep, sampled_vectors

    vectors = sampled_vectors(service.database, service.model, 5, seed=3)
    assert vectors.shape == (5, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sweep = ef_search_sweep(service.database, service.embedder, vectors, ef_values=(40, 400),
                            candidates=20)
    assert set(sweep) == {"40", "400"}
    # a couple of hundred vectors: a wide search is exact
    assert sweep["400"]["top10_vs_exact"] == 1.0 and sweep["400"]["recall_at_20"] == 1.0
    assert sweep["400"]["buffers_mean"] > 0
