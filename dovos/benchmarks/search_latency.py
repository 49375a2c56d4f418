"""Search latency: p50/p95 per mode next to the bare SQL of each leg, and HNSW recall.

Measured on two archives: LoCoMo dev (per-sample filtered questions) and a generated
archive of 100,000 messages (unfiltered generated questions). Service timings include
embedding the query: every query text is distinct and each mode gets a fresh service,
so nothing comes from the query cache. The references, measured in the same run on
the same queries, are the bare SQL of each leg: the lexical leg as PostgreSQL's own
`ts_rank_cd` over a `plainto_tsquery` (AND) match, the vector leg as a plain HNSW
`ORDER BY embedding <=> q LIMIT k`, and the query embedding alone. HNSW recall@10 is
the index's top 10 against exact search (a sequential scan) for the same vectors.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from dovos.benchmarks.search_synthetic import (
    generated_conversations,
    generated_queries,
    pool_vectors,
    sentence_pool,
)
from dovos.embeddings import Embedder
from dovos.evaluation.stats import latency_summary
from dovos.ingest import ingest
from dovos.repositories import embeddings
from dovos.search.document_text import EMBEDDING_RECIPE
from dovos.search.service import SearchService, one_torch_thread
from dovos.search.types import MODES, SearchFilters

Query = tuple[str, SearchFilters | None]

BARE_LEXICAL = (
    "SELECT id FROM messages WHERE search_vector @@ plainto_tsquery('english', %(q)s) "
    "ORDER BY ts_rank_cd(search_vector, plainto_tsquery('english', %(q)s)) DESC LIMIT 10"
)
# The expression of the model's partial HNSW index (migration 0006; 384: the default model).
BARE_VECTOR = (
    "SELECT message_id, embedding::vector(384) <=> %(v)s::vector(384) FROM message_embeddings "
    "WHERE model = %(model)s ORDER BY embedding::vector(384) <=> %(v)s::vector(384) LIMIT 10"
)
# `+ 0` hides the distance from the index: the planner must compute it for every row.
EXACT_VECTOR = (
    "SELECT message_id, embedding <=> %(v)s::vector FROM message_embeddings "
    "WHERE model = %(model)s ORDER BY (embedding <=> %(v)s::vector) + 0 LIMIT 10"
)
TIE = 1e-6  # equal vectors (repeated texts) are equally right answers


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds (dovos.evaluation.stats: numpy linear, type 7)."""
    summary = latency_summary(samples_ms)
    return {"p50": summary["p50_ms"], "p95": summary["p95_ms"], "n": summary["n"]}


def _timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000.0


def service_latency(
    database: Any,
    embedder: Embedder,
    queries: list[Query],
    mode: str,
    warmup: int = 5,
    cached: bool = False,
    params: dict[str, Any] | None = None,
) -> dict[str, float]:
    """p50/p95 of SearchService.search: query embedding included (a fresh service), or,
    with `cached`, a second pass over the same queries (vectors from the query cache:
    what is left is the SQL and the service around it). `params`: per-call overrides."""
    service = SearchService(database, embedder)
    for text, filters in queries[:warmup]:
        service.search(text + " warm", mode=mode, filters=filters, params=params)  # plans
    passes = 2 if cached else 1
    timings: list[float] = []
    for _ in range(passes):
        timings = [
            _timed(lambda t=text, f=filters: service.search(t, mode=mode, filters=f,
                                                            params=params))
            for text, filters in tqdm(queries, desc=f"service {mode}", leave=False)
        ]
    return percentiles(timings)


def paired_latency(
    database: Any,
    embedder: Embedder,
    queries: list[Query],
    mode: str,
    variants: dict[str, dict[str, Any]],
    warmup: int = 5,
) -> tuple[dict[str, dict[str, float]], dict[str, list[list[Any]]]]:
    """p50/p95 of each parameter variant (query embedding included, a fresh service
    each), the variants run one after another on every query in turn, their order
    rotating: on a shared machine a load change then hits every variant alike. Also
    each variant's top-10 message ids per query, to compare what they found."""
    services = {name: SearchService(database, embedder) for name in variants}
    for text, filters in queries[:warmup]:
        for name, service in services.items():
            service.search(text + " warm", mode=mode, filters=filters, params=variants[name])
    timings: dict[str, list[float]] = {name: [] for name in variants}
    found: dict[str, list[list[Any]]] = {name: [] for name in variants}
    names = list(variants)
    for index, (text, filters) in enumerate(tqdm(queries, desc=f"paired {mode}", leave=False)):
        for name in names[index % len(names):] + names[:index % len(names)]:
            started = time.perf_counter()
            response = services[name].search(text, mode=mode, filters=filters,
                                              params=variants[name])
            timings[name].append((time.perf_counter() - started) * 1000.0)
            found[name].append([hit.message_id for hit in response.hits])
    return {name: percentiles(values) for name, values in timings.items()}, found


def bare_latency(
    database: Any, embedder: Embedder, queries: list[Query], ef_search: int = 100
) -> dict[str, dict[str, float]]:
    """p50/p95 of each leg's bare SQL and of the query embedding alone."""
    texts = [text for text, _ in queries]
    embed_ms, vectors = [], []
    for text in texts:
        started = time.perf_counter()
        with one_torch_thread():  # as the service encodes queries
            vectors.append(embedder.encode([text], batch_size=1)[0])
        embed_ms.append((time.perf_counter() - started) * 1000.0)
    lexical_ms, vector_ms = [], []
    with database.connect() as conn:
        conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (str(ef_search),))
        for text, vector in zip(texts, vectors, strict=True):
            literal = _literal(vector)
            lexical_ms.append(_timed(lambda t=text: conn.execute(BARE_LEXICAL, {"q": t}).fetchall()))
            vector_ms.append(_timed(lambda v=literal: conn.execute(
                BARE_VECTOR, {"v": v, "model": embedder.name}).fetchall()))
    return {
        "query embedding": percentiles(embed_ms),
        "bare lexical SQL (ts_rank_cd, AND)": percentiles(lexical_ms),
        "bare vector SQL (HNSW)": percentiles(vector_ms),
    }


def hnsw_recall(
    database: Any, embedder: Embedder, texts: Iterable[str], ef_search: int = 100
) -> float:
    """Share of the HNSW top 10 that is as near as the exact 10th neighbour (tie-aware:
    a repeated text's copies are interchangeable), averaged over the query vectors."""
    overlaps = []
    with database.connect() as conn:
        conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (str(ef_search),))
        for text in texts:
            values = {"v": _literal(embedder.encode([text])[0]), "model": embedder.name}
            approx = conn.execute(BARE_VECTOR, values).fetchall()
            exact = conn.execute(EXACT_VECTOR, values).fetchall()
            if not exact:
                continue
            bound = exact[-1][1] + TIE
            overlaps.append(sum(1 for _, distance in approx if distance <= bound) / len(exact))
    return float(np.mean(overlaps)) if overlaps else float("nan")


def archive_latency(
    database: Any, embedder: Embedder, queries: list[Query], label: str
) -> dict[str, Any]:
    """Every mode and every bare reference on the archive currently in `database`."""
    figures: dict[str, Any] = {"archive": label}
    for mode in MODES:
        figures[mode] = service_latency(database, embedder, queries, mode)
    figures["hybrid, query vector cached"] = service_latency(
        database, embedder, queries, "hybrid", cached=True
    )
    figures.update(bare_latency(database, embedder, queries))
    figures["hnsw recall@10"] = hnsw_recall(database, embedder, [t for t, _ in queries[:100]])
    print(format_table(figures))
    return figures


def format_table(figures: dict[str, Any]) -> str:
    rows = [f"Search latency on {figures['archive']} (ms)",
            f"{'what':<40}{'p50':>9}{'p95':>9}{'n':>6}"]
    for name, value in figures.items():
        if isinstance(value, dict):
            rows.append(f"{name:<40}{value['p50']:>9.1f}{value['p95']:>9.1f}{value['n']:>6}")
    hybrid, vector = figures.get("hybrid"), figures.get("bare vector SQL (HNSW)")
    if hybrid and vector:
        rows.append(f"{'hybrid p50 / bare vector SQL p50':<40}{hybrid['p50'] / vector['p50']:>9.1f}x")
    rows.append(f"{'HNSW recall@10 vs exact':<40}{figures['hnsw recall@10']:>9.3f}")
    return "\n".join(rows)


def build_generated_archive(
    database: Any, embedder: Embedder, messages: int = 100_000, pool_size: int = 3_000
) -> int:
    """Ingest `messages` generated turns and store a vector for each (the normalised mean
    of its sentences' embeddings: a pool of `pool_size` sentences is really encoded)."""
    pool = sentence_pool(pool_size)
    pool_embeddings = embedder.encode(pool, batch_size=128)
    conversations, used = generated_conversations(messages, pool=pool, tag="latency")
    with database.connect() as conn:
        ingest(conn, conversations)
        rows = conn.execute(
            "SELECT m.id, m.position FROM messages m "
            "JOIN conversations c ON c.id = m.conversation_id "
            "WHERE c.source_id LIKE 'latency-%%' "
            "ORDER BY split_part(c.source_id, '-', 2)::int, m.position"
        ).fetchall()
        vectors = pool_vectors(pool_embeddings, used)
        # Fresh messages are all at version 1, so is the previous turn (context) if any.
        with conn.transaction():
            embeddings.copy_embeddings(conn, (
                (mid, embedder.name, _literal(vector), 1, 1 if position else 0)
                for (mid, position), vector in tqdm(zip(rows, vectors, strict=True),
                                                    total=len(rows), desc="vectors", leave=False)
            ), recipe=EMBEDDING_RECIPE)
        conn.execute("ANALYZE messages")
        conn.execute("ANALYZE message_embeddings")
        conn.commit()
    return len(rows)


def locomo_queries(dataset: Any, count: int = 200) -> list[Query]:
    """The first `count` LoCoMo questions (distinct texts), each filtered to its sample."""
    seen, found = set(), []
    for question in dataset.questions:
        if question.text in seen:
            continue
        seen.add(question.text)
        found.append((question.text,
                      SearchFilters(conversation_metadata={"sample_id": question.sample_id})))
        if len(found) == count:
            break
    return found


def generated_query_list(count: int = 200) -> list[Query]:
    """Distinct generated questions, unfiltered."""
    texts = list(dict.fromkeys(q.text for q in generated_queries(count * 3)))[:count]
    return [(text, None) for text in texts]


def _literal(vector: np.ndarray) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector.tolist()) + "]"
