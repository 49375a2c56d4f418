"""SearchService: rank messages lexically, semantically, or with a hybrid of both.

One search is one transaction on a pooled connection: the parameters are read from
the settings table, the HNSW and trigram knobs are set for this transaction only, and
one statement (dovos/search/sql.py) runs the legs and their fusion. When the
embedding model cannot load, or no embedded message matches, the search is ranked
lexically and the response says so (`effective_mode`, `notes`).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np
import psycopg

from dovos.embeddings import Embedder, EmbeddingModelError, QueryEmbeddingCache, get_embedder
from dovos.search import params as params_module
from dovos.search.query import ParsedQuery, parse_query
from dovos.search.snippets import make_snippet
from dovos.search.sql import build_statement
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
    """Search the archive of `database`; queries are embedded with `embedder`."""

    def __init__(self, database: Any, embedder: Embedder | None = None) -> None:
        self.database = database
        self._embedder = embedder
        self._cache: QueryEmbeddingCache | None = None

    # -- parameters ---------------------------------------------------------------------
    def stored_params(self) -> SearchParams:
        """Code defaults overridden by the settings table."""
        with self._connection() as conn:
            return self._read_params(conn)

    def save_params(self, params: SearchParams, provenance: dict[str, Any]) -> None:
        """Store `params` (with provenance: dataset, metric, date...) as the new defaults."""
        value = params_module.setting_value(params, provenance)
        with self.database.unit_of_work() as uow:
            uow.settings.set(SEARCH_PARAMS_KEY, value)

    # -- search -------------------------------------------------------------------------
    def search(
        self,
        query: str,
        mode: Mode = "hybrid",
        k: int = 10,
        filters: SearchFilters | None = None,
        params: SearchParams | dict[str, Any] | None = None,
    ) -> SearchResponse:
        """The `k` best messages for `query`; InvalidQueryError names bad input."""
        started = time.perf_counter()
        parsed = parse_query(query)
        _check_arguments(mode, k, filters)
        notes = list(parsed.notes)
        if not parsed.terms and not parsed.phrases:
            notes.append("the query has no words to match lexically")
        effective: Mode = mode
        vector = None
        if mode != "lexical":
            vector, note = self._query_vector(parsed)
            if vector is None:
                effective = "lexical"
                notes.append(note)
        with self._connection() as conn:
            resolved = params_module.merge(self._read_params(conn), params)
            rows = self._run(conn, effective, parsed, vector, resolved, filters, k)
            if effective != "lexical" and not _vector_rows(rows, conn, self._model_name()):
                effective = "lexical"
                notes.append(
                    f"no embedded message matches (model {self._model_name()}): ranked lexically"
                )
                if mode == "vector":
                    rows = self._run(conn, "lexical", parsed, None, resolved, filters, k)
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
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder()
        return self._embedder

    def _model_name(self) -> str:
        return self.embedder.name

    def _query_vector(self, parsed: ParsedQuery) -> tuple[np.ndarray | None, str]:
        """The query's embedding (cached), or None and why not."""
        try:
            if self._cache is None:
                self._cache = QueryEmbeddingCache(self.embedder)
            with one_torch_thread():
                return self._cache.encode_one(parsed.embedding_text), ""
        except EmbeddingModelError as error:
            return None, f"embedding model unavailable ({error}): ranked lexically"

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled psycopg connection inside a transaction that is always rolled back
        (searches only read; SET LOCAL values end with it)."""
        with self.database.engine.connect() as sa_connection:
            conn = sa_connection.connection.driver_connection
            try:
                yield conn
            finally:
                conn.rollback()

    def _read_params(self, conn: psycopg.Connection[Any]) -> SearchParams:
        row = conn.execute("SELECT value FROM settings WHERE key = %s", (SEARCH_PARAMS_KEY,))
        found = row.fetchone()
        return params_module.from_setting(found[0] if found else None)

    def _run(
        self,
        conn: psycopg.Connection[Any],
        mode: Mode,
        parsed: ParsedQuery,
        vector: np.ndarray | None,
        params: SearchParams,
        filters: SearchFilters | None,
        k: int,
    ) -> list[tuple[Any, ...]]:
        sql, values = build_statement(mode, params, filters)
        values.update(
            k=k,
            words=list(parsed.terms) + [w for p in parsed.phrases for w in p.split()],
            tsquery=parsed.tsquery(params.lexical_operator),
            model=self._model_name() if vector is not None else None,
            qvec=_vector_literal(vector) if vector is not None else None,
        )
        conn.execute(
            "SELECT set_config('hnsw.ef_search', %s, true),"
            " set_config('hnsw.iterative_scan', 'relaxed_order', true),"
            " set_config('pg_trgm.similarity_threshold', %s, true)",
            (str(max(params.ef_search, params.candidates)), str(params.fuzzy_threshold)),
        )
        return conn.execute(sql, values).fetchall()


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


def _vector_rows(rows: list[tuple[Any, ...]], conn: psycopg.Connection[Any], model: str) -> bool:
    """Whether the vector leg contributed; without rows, whether any embedding exists."""
    if rows:
        return bool(rows[0][15])
    found = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM message_embeddings WHERE model = %s)", (model,)
    ).fetchone()
    return bool(found and found[0])


def _vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector.tolist()) + "]"


def _hit(row: tuple[Any, ...], rank: int, parsed: ParsedQuery) -> SearchHit:
    (mid, cid, title, source_id, source_message_id, role, source, created_at, content,
     metadata, score, lex_score, lex_rank, vec_score, vec_rank, _count) = row
    return SearchHit(
        message_id=mid if isinstance(mid, uuid.UUID) else uuid.UUID(str(mid)),
        conversation_id=cid,
        conversation_title=title,
        conversation_source_id=source_id,
        source_message_id=source_message_id,
        role=role,
        source=source,
        created_at=created_at,
        content=content,
        snippet=make_snippet(content, parsed.terms + parsed.phrases),
        score=float(score),
        rank=rank,
        lexical_score=None if lex_score is None else float(lex_score),
        lexical_rank=None if lex_rank is None else int(lex_rank),
        vector_score=None if vec_score is None else float(vec_score),
        vector_rank=None if vec_rank is None else int(vec_rank),
        message_metadata=metadata or {},
    )
