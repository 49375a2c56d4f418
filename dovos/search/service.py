"""SearchService: rank messages lexically, semantically, or with a hybrid of both.

One search is one transaction on a pooled connection: the parameters are read from
the settings table, the HNSW and trigram knobs are set for this transaction only, and
one statement (dovos/search/sql.py) runs the legs and their fusion. When the
embedding model cannot load, or no embedded message matches, the search is ranked
lexically and the response says so (`effective_mode`, `notes`).

Several embedding models can live in one database (migration 0006). A search ranks the
vectors of one model: `search(..., model=...)`, default the service's model (the first
configured one, `dovos.embeddings.configured_models`). The query is embedded with that
model, and the vector leg reads only that model's partial HNSW index.

A hybrid search whose query vector is not cached runs in two statements (issue 16):
the lexical leg is sent while the query is embedded on a thread (dovos.search.overlap),
then the vector leg, the fusion and the final select run over the lexical leg's rows.
Same results as the one statement, which `overlap=False` (and a cached query) keeps.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
from psycopg import sql as psycopg_sql
from psycopg.rows import class_row, scalar_row

from dovos.embeddings import (
    Embedder,
    EmbeddingModelError,
    QueryEmbeddingCache,
    configured_models,
    embedder_named,
)
from dovos.repositories import settings
from dovos.repositories.unit_of_work import UnitOfWork
from dovos.search import params as params_module
from dovos.search.overlap import in_background
from dovos.search.query import ParsedQuery, parse_query
from dovos.search.snippets import make_snippet
from dovos.search.sql import (
    ANY_EMBEDDING_SQL,
    SEARCH_KNOBS_AND_WATERMARK_SQL,
    SEARCH_KNOBS_SQL,
    VECTOR_DIMENSIONS,
    VECTOR_MODEL,
    RankedRow,
    build_from_lexical_rows,
    build_lexical_leg,
    build_statement,
    lexical_rows,
    uses_champion_lists,
)
from dovos.search.types import (
    MODES,
    SEARCH_PARAMS_KEY,
    InvalidQueryError,
    Mode,
    SearchFilters,
    SearchHit,
    SearchParams,
    SearchResponse,
)

MAX_K = 1_000


class SearchService:
    """Search the archive of `database`; queries are embedded with `embedder`.

    `model` is the storage name searched when a call names none (default: `embedder`'s
    name, else the first configured model). Other models get their embedder from
    `get_embedder(name)` on first use, or from `embedders`. `overlap=False`: a hybrid
    search embeds its query first, then runs one statement (as before issue 16).
    """

    def __init__(self, database: Any, embedder: Embedder | None = None, *,
                 model: str | None = None, embedders: list[Embedder] | None = None,
                 overlap: bool = True) -> None:
        self.database = database
        self._embedders: dict[str, Embedder] = {e.name: e for e in embedders or []}
        if embedder is not None:
            self._embedders[embedder.name] = embedder
        self._model = model or (embedder.name if embedder is not None else None)
        self._caches: dict[str, QueryEmbeddingCache] = {}
        self._lock = threading.Lock()
        self.overlap = overlap

    # -- parameters ---------------------------------------------------------------------
    def stored_params(self) -> SearchParams:
        """Code defaults overridden by the settings table."""
        with self._connection() as conn:
            return self._read_params(conn)

    def save_params(self, params: SearchParams, provenance: dict[str, Any]) -> None:
        """Store `params` (with provenance: dataset, metric, date...) as the new defaults."""
        value = params_module.setting_value(params, provenance)
        with UnitOfWork(self.database) as uow:
            settings.set(uow.connection, SEARCH_PARAMS_KEY, value)

    # -- search -------------------------------------------------------------------------
    def search(
        self,
        query: str,
        mode: Mode = "hybrid",
        k: int = 10,
        filters: SearchFilters | None = None,
        params: SearchParams | dict[str, Any] | None = None,
        model: str | None = None,
    ) -> SearchResponse:
        """The `k` best messages for `query` (vectors of `model`, default `self.model`);
        InvalidQueryError names bad input."""
        started = time.perf_counter()
        model = self._check_model(model)
        parsed = parse_query(query)
        _check_arguments(mode, k, filters)
        notes = list(parsed.notes)
        if not parsed.terms and not parsed.phrases:
            notes.append("the query has no words to match lexically")
        if mode == "hybrid" and self.overlap and not self._is_cached(parsed, model):
            effective, resolved, rows = self._overlapped(parsed, k, filters, params, model,
                                                         notes)
        else:
            effective, resolved, rows = self._one_statement(mode, parsed, k, filters, params,
                                                            model, notes)
        hits = [_hit(row, rank, parsed) for rank, row in enumerate(rows, start=1)]
        if effective == "lexical" and mode == "hybrid":  # same order; report the leg's score
            hits = [replace(h, score=h.lexical_score or 0.0) for h in hits]
        return SearchResponse(
            query=parsed.text,
            mode=mode,
            effective_mode=effective,
            hits=hits,
            params=resolved,
            notes=notes,
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
        )

    # -- internals ----------------------------------------------------------------------
    def _one_statement(self, mode: Mode, parsed: ParsedQuery, k: int,
                       filters: SearchFilters | None,
                       params: SearchParams | dict[str, Any] | None, model: str,
                       notes: list[str]) -> tuple[Mode, SearchParams, list[RankedRow]]:
        """Embed the query (unless lexical), then one statement runs the legs and their
        fusion. (effective mode, parameters, rows); `notes` gets why a mode fell back."""
        effective: Mode = mode
        vector = None
        if mode != "lexical":
            vector, note = self._query_vector(parsed, model)
            if vector is None:
                effective = "lexical"
                notes.append(note)
        with self._connection() as conn:
            resolved = params_module.merge(self._read_params(conn), params)
            rows = self._run(conn, effective, parsed, vector, resolved, filters, k, model,
                             notes)
            if effective != "lexical" and not _vector_rows(rows, conn, model):
                effective = "lexical"
                notes.append(_no_vectors_note(model))
                if mode == "vector":
                    rows = self._run(conn, "lexical", parsed, None, resolved, filters, k,
                                     model, notes)
        return effective, resolved, rows

    def _overlapped(self, parsed: ParsedQuery, k: int, filters: SearchFilters | None,
                    params: SearchParams | dict[str, Any] | None, model: str,
                    notes: list[str]) -> tuple[Mode, SearchParams, list[RankedRow]]:
        """Hybrid in two statements: the lexical leg runs in the backend while this
        process embeds the query on a thread (the second core idled meanwhile), then the
        vector leg, the fusion and the final select run over the lexical rows. The thread
        starts once the round trips before the lexical leg are done: the leg is the long
        part at scale, so it goes out first. One REPEATABLE READ transaction: one
        snapshot for both statements, as the one statement saw."""
        cache = self._query_cache(model)
        with self._connection() as conn:
            conn.execute(REPEATABLE_READ_SQL)
            resolved = params_module.merge(self._read_params(conn), params)
            sql, values = self._lexical_leg(conn, parsed, resolved, filters, notes)
            with in_background(lambda: _encode(cache, parsed, model)) as embedding:
                lexical = conn.execute(sql, values).fetchall()
                vector, note = embedding.result()
            if vector is None:
                notes.append(note)
            rows = self._over_lexical_rows(conn, lexical, vector, resolved, filters, k, model)
            effective: Mode = "hybrid" if vector is not None else "lexical"
            if effective != "lexical" and not _vector_rows(rows, conn, model):
                effective = "lexical"
                notes.append(_no_vectors_note(model))
        return effective, resolved, rows

    def _lexical_leg(self, conn: psycopg.Connection[Any], parsed: ParsedQuery,
                     params: SearchParams, filters: SearchFilters | None,
                     notes: list[str]) -> tuple[str, dict[str, Any]]:
        """Set the knobs; the statement of the hybrid's lexical leg alone and its values
        (rows: id, score, rank)."""
        watermark = self._set_knobs(conn, "hybrid", params, filters, notes)
        sql, values = build_lexical_leg(params, filters, watermark)
        values.update(_query_values(parsed, params))
        return sql, values

    def _over_lexical_rows(self, conn: psycopg.Connection[Any], lexical: list[Any],
                           vector: np.ndarray | None, params: SearchParams,
                           filters: SearchFilters | None, k: int,
                           model: str) -> list[RankedRow]:
        """The hybrid ranking (the lexical one without `vector`) over the leg's rows."""
        sql, values = build_from_lexical_rows(
            "hybrid" if vector is not None else "lexical", params, filters)
        if vector is not None:
            sql = bind_model(sql, model, len(vector), conn)
        values.update(lexical_rows(lexical), k=k,
                      qvec=_vector_literal(vector) if vector is not None else None)
        with conn.cursor(row_factory=class_row(RankedRow)) as cursor:
            return cursor.execute(sql, values).fetchall()

    @property
    def model(self) -> str:
        """The model searched when a call names none."""
        if self._model is None:
            self._model = configured_models()[0]
        return self._model

    @property
    def embedder(self) -> Embedder:
        """The embedder of the default model."""
        return self.embedder_for(self.model)

    def embedder_for(self, model: str) -> Embedder:
        """The embedder that embeds queries for `model` (loaded lazily, kept)."""
        with self._lock:
            embedder = self._embedders.get(model)
            if embedder is None:
                embedder = self._embedders[model] = embedder_named(model)
            return embedder

    def _check_model(self, model: str | None) -> str:
        if model is None:
            return self.model
        if not isinstance(model, str) or not model.strip():
            raise InvalidQueryError(f"model {model!r} must be a model name")
        return model

    def _query_vector(self, parsed: ParsedQuery, model: str) -> tuple[np.ndarray | None, str]:
        """The query's embedding by `model` (cached), or None and why not."""
        return _encode(self._query_cache(model), parsed, model)

    def _query_cache(self, model: str) -> QueryEmbeddingCache:
        """`model`'s query-vector cache (its embedder is made, not loaded)."""
        try:
            with self._lock:
                cache = self._caches.get(model)
            if cache is None:
                cache = QueryEmbeddingCache(self.embedder_for(model))
                with self._lock:
                    cache = self._caches.setdefault(model, cache)
            return cache
        except ValueError as error:  # a name that is no model (e.g. a bad precision)
            raise InvalidQueryError(f"model {model!r}: {error}") from error

    def _is_cached(self, parsed: ParsedQuery, model: str) -> bool:
        """Whether the query's vector is cached (then there is no embedding to overlap)."""
        return self._query_cache(model).holds(parsed.embedding_text)

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled psycopg connection inside a transaction that is always rolled back
        (searches only read; SET LOCAL values end with it)."""
        with self.database.pooled() as conn:
            yield conn

    def _read_params(self, conn: psycopg.Connection[Any]) -> SearchParams:
        return params_module.from_setting(settings.get(conn, SEARCH_PARAMS_KEY))

    def _run(
        self,
        conn: psycopg.Connection[Any],
        mode: Mode,
        parsed: ParsedQuery,
        vector: np.ndarray | None,
        params: SearchParams,
        filters: SearchFilters | None,
        k: int,
        model: str,
        notes: list[str],
    ) -> list[RankedRow]:
        watermark = self._set_knobs(conn, mode, params, filters, notes)
        sql, values = build_statement(mode, params, filters, watermark)
        if vector is not None:
            sql = bind_model(sql, model, len(vector), conn)
        values.update(_query_values(parsed, params), k=k,
                      qvec=_vector_literal(vector) if vector is not None else None)
        with conn.cursor(row_factory=class_row(RankedRow)) as cursor:
            return cursor.execute(sql, values).fetchall()

    def _set_knobs(self, conn: psycopg.Connection[Any], mode: Mode, params: SearchParams,
                   filters: SearchFilters | None, notes: list[str]) -> datetime | None:
        """Set this transaction's knobs; the champion lists' watermark when the
        statement can read the lists (issue 16: one round trip for both), else None.
        `notes` gets why the lists are stale for these parameters, if they are."""
        knobs = SEARCH_KNOBS_SQL
        if uses_champion_lists(mode, params, filters):
            knobs = SEARCH_KNOBS_AND_WATERMARK_SQL
        row = conn.execute(knobs, {
            "ef_search": str(max(params.ef_search, params.candidates)),
            "fuzzy_threshold": str(params.fuzzy_threshold),
        }).fetchone()
        if row is None or knobs is not SEARCH_KNOBS_AND_WATERMARK_SQL:
            return None
        note = stale_lists_note(row[4], params)
        if note and note not in notes:
            notes.append(note)
        return row[3]


# One snapshot for the overlapped hybrid's two statements, as the one statement saw
# (the first statement of its transaction; a statement, so that nothing about the pooled
# connection changes, whatever interrupts the search).
REPEATABLE_READ_SQL = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"


def _encode(cache: QueryEmbeddingCache, parsed: ParsedQuery,
            model: str) -> tuple[np.ndarray | None, str]:
    """The query's embedding (one torch thread), or None and why not."""
    try:
        with one_torch_thread():
            return cache.encode_one(parsed.embedding_text), ""
    except EmbeddingModelError as error:
        return None, f"embedding model unavailable ({error}): ranked lexically"
    except ValueError as error:  # a name that is no model (e.g. a bad precision)
        raise InvalidQueryError(f"model {model!r}: {error}") from error


def _query_values(parsed: ParsedQuery, params: SearchParams) -> dict[str, Any]:
    """The query's own bind values for the lexical leg."""
    return {"words": list(parsed.terms) + [w for p in parsed.phrases for w in p.split()],
            "tsquery": parsed.tsquery(params.lexical_operator)}


def stale_lists_note(list_weights: list[float] | None, params: SearchParams) -> str | None:
    """Why the champion lists do not fit `params`, or None. Lists built with other BM25
    weights still give exact scores (every candidate is rescored), but they rank the
    messages they offer by other weights, so the search reads worse candidates (1M
    archive, hybrid: b 0.5 lists kept 0.75 of the exact top 10 under b 0.2 searches on
    30 queries; rebuilt with b 0.2, 0.86 on 40)."""
    if not list_weights:
        return None
    k1, b = list_weights
    if math.isclose(k1, params.bm25_k1) and math.isclose(b, params.bm25_b):
        return None
    return (f"the champion lists were built with BM25 k1 {k1:g}, b {b:g} and this search "
            f"scores with k1 {params.bm25_k1:g}, b {params.bm25_b:g}: its candidates are "
            "chosen by the old weights (scores stay exact); `dovos db champions` rebuilds "
            "the lists")


def _no_vectors_note(model: str) -> str:
    return f"no embedded message matches (model {model}): ranked lexically"


def bind_model(statement: str, model: str, dimensions: int,
               conn: psycopg.Connection[Any]) -> str:
    """`statement` with the vector leg's model (a quoted literal) and dimension (an
    integer) put in: the same expression and predicate as the model's partial HNSW
    index (dovos.repositories.embeddings.CREATE_MODEL_INDEX_SQL)."""
    literal = psycopg_sql.Literal(model).as_string(conn)
    return statement.replace(VECTOR_MODEL, literal).replace(VECTOR_DIMENSIONS,
                                                            str(int(dimensions)))


_THREADS_LOCK = threading.Lock()


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Encode one short query on one torch thread. Intra-op threads buy nothing on a
    dozen tokens, and when the cores are busy (a worker encoding, the database) they
    wait on each other: measured 28 ms on one thread vs 106 ms on two, same machine."""
    try:
        import torch
    except ImportError:  # an embedder that is not torch-based
        yield
        return
    with _THREADS_LOCK:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def _check_arguments(mode: object, k: object, filters: object) -> None:
    if mode not in MODES:
        raise InvalidQueryError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidQueryError(f"k={k!r} must be an integer from 1 to {MAX_K}")
    if filters is not None and not isinstance(filters, SearchFilters):
        raise InvalidQueryError(f"filters must be SearchFilters, got {type(filters).__name__}")


def _vector_rows(rows: list[RankedRow], conn: psycopg.Connection[Any], model: str) -> bool:
    """Whether the vector leg contributed; without rows, whether any embedding exists."""
    if rows:
        return bool(rows[0].vector_count)
    with conn.cursor(row_factory=scalar_row) as cursor:
        return bool(cursor.execute(ANY_EMBEDDING_SQL, {"model": model}).fetchone())


def _vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector.tolist()) + "]"


def _hit(row: RankedRow, rank: int, parsed: ParsedQuery) -> SearchHit:
    mid = row.message_id
    return SearchHit(
        message_id=mid if isinstance(mid, uuid.UUID) else uuid.UUID(str(mid)),
        conversation_id=row.conversation_id,
        conversation_title=row.conversation_title,
        conversation_source_id=row.conversation_source_id,
        source_message_id=row.source_message_id,
        role=row.role,
        source=row.source,
        created_at=row.created_at,
        content=row.content,
        snippet=make_snippet(row.content, parsed.terms + parsed.phrases),
        score=float(row.score),
        rank=rank,
        lexical_score=_float(row.lexical_score),
        lexical_rank=None if row.lexical_rank is None else int(row.lexical_rank),
        vector_score=_float(row.vector_score),
        vector_rank=None if row.vector_rank is None else int(row.vector_rank),
        message_metadata=row.metadata or {},
    )


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)
