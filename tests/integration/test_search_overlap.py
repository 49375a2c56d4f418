"""Hybrid search sends its lexical leg while the query is embedded (issue 16), with the
results of the one statement it replaced: same hits, order, scores, ranks, effective
mode and notes. The overlap is real (the lexical statement is at the server, blocked on
a lock, while the embedder waits for it), errors surface as before, and Ctrl-C leaves
neither a thread running nor a statement on the connection."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import psycopg
import pytest
from search_support import build_archive, truncate

from dovos.embeddings import EmbeddingModelError
from dovos.importers.parsed import ParsedConversation, ParsedMessage
from dovos.ingest import ingest
from dovos.repositories import champions
from dovos.search.overlap import THREAD_NAME
from dovos.search.service import REPEATABLE_READ_SQL, SearchService
from dovos.search.types import InvalidQueryError, SearchFilters, SearchParams, SearchResponse

LEXICAL_LEG = "FROM lexical ORDER BY rank"  # the overlapped lexical statement's end
FROM_ROWS = "unnest(%(lexical_ids)s"  # the statement that reads the leg's rows
LOCKED = "search_corpus_stats"  # read by the lexical leg only
OTHER_MODEL = "all-MiniLM-L6-v2-unembedded"

CASES: list[tuple[str, dict[str, Any], SearchFilters | None]] = [
    ("support group", {}, None),  # champion lists and their watermark
    ("caroline swimming lessons", {"fusion": "weighted"}, None),
    ("autovacuum workers", {"fusion": "weighted", "lexical_budget": 0}, None),
    ("suport gruop autovacum", {}, None),  # fuzzy matches
    ("the of and", {}, None),  # no word the lexical leg can match
    ('"support group" caroline', {}, None),
    ("kids swimming", {}, SearchFilters(roles=("assistant",))),
    ("postgres tuning", {"fusion": "weighted"}, SearchFilters(sources=("chatgpt",))),
    ("melanie", {"lexical_scorer": "ts_rank_cd"}, None),
    ("vegetable patch", {"context_weight": 0.0, "candidates": 20}, None),
]


class Renamed:
    """The real embedder under another model name (no message has its vectors)."""

    def __init__(self, inner: Any, name: str) -> None:
        self.inner, self.name, self.dim = inner, name, inner.dim

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return self.inner.encode(texts, batch_size=batch_size)


class Hooked:
    """The real embedder, calling `before(texts)` first (on the encoding thread)."""

    def __init__(self, inner: Any, before: Callable[[list[str]], None]) -> None:
        self.inner, self.before = inner, before
        self.name, self.dim = inner.name, inner.dim

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        self.before(texts)
        return self.inner.encode(texts, batch_size=batch_size)


class Failing:
    """An embedder that raises `error` (a model that cannot load, a bad name)."""

    def __init__(self, inner: Any, error: Exception) -> None:
        self.name, self.dim, self.error = inner.name, inner.dim, error

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        raise self.error


@pytest.fixture(scope="module")
def archive(database_session, embedder) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """The search archive, embedded, with champion lists, and a conversation written
    after the lists were built (found through the watermark)."""
    truncate(database_session)
    build_archive(database_session, embedder)
    with database_session.connect() as conn:
        champions.rebuild(conn, min_df=3, depth=50, k1=SearchParams().bm25_k1, b=SearchParams().bm25_b)
        conn.commit()
    late = ParsedConversation("claude", "late-1", "Written after the lists", [
        ParsedMessage("user", "Another support group for swimming kids"),
        ParsedMessage("assistant", "Autovacuum tuning notes for the support group"),
    ])
    with database_session.connect() as conn:
        ingest(conn, [late])
    yield database_session
    with database_session.connect() as conn:
        champions.drop(conn)
        conn.commit()
    truncate(database_session)


def _services(database: Any, embedder: Any) -> tuple[SearchService, SearchService]:
    """(one statement, overlapped), each with its own query cache."""
    extra = [Renamed(embedder, OTHER_MODEL)]
    return (SearchService(database, embedder, embedders=extra, overlap=False),
            SearchService(database, embedder, embedders=list(extra)))


def _facts(response: SearchResponse) -> tuple[Any, ...]:
    hits = [(h.message_id, h.rank, h.score, h.lexical_score, h.lexical_rank, h.vector_score,
             h.vector_rank, h.content, h.conversation_title) for h in response.hits]
    return response.effective_mode, response.notes, response.params, hits


def _ranking_statements(sent: list[str]) -> tuple[int, int]:
    return sum(LEXICAL_LEG in s for s in sent), sum(FROM_ROWS in s for s in sent)


@pytest.mark.parametrize(("query", "params", "filters"), CASES)
def test_overlapped_hybrid_equals_the_one_statement(archive, embedder, statements,  # type: ignore[no-untyped-def]
                                                   query, params, filters) -> None:
    one, overlapped = _services(archive, embedder)
    expected = one.search(query, k=20, params=params, filters=filters)
    assert _ranking_statements(statements) == (0, 0)
    got = overlapped.search(query, k=20, params=params, filters=filters)
    assert _ranking_statements(statements) == (1, 1)  # really the two statements
    assert _facts(got) == _facts(expected)
    if query != "the of and":
        assert got.hits and any(h.lexical_rank for h in got.hits)
    assert got.effective_mode == "hybrid" and any(h.vector_rank for h in got.hits)


def test_champion_lists_and_fuzzy_cases_are_exercised(archive, embedder, statements) -> None:  # type: ignore[no-untyped-def]
    """The cases above reach the paths they name: the lists' real watermark, and
    fuzzy-only matches (scaled far below full-text scores)."""
    _, overlapped = _services(archive, embedder)
    overlapped.search("support group")
    leg = [s for s in statements if LEXICAL_LEG in s]
    assert len(leg) == 1 and "champion_hits" in leg[0]
    assert "'infinity'::timestamptz" not in leg[0]
    fuzzy = overlapped.search("suport gruop autovacum", mode="hybrid")
    assert any(h.lexical_score is not None and h.lexical_score < 0.01 for h in fuzzy.hits)


@pytest.mark.parametrize("model", [None, "all-MiniLM-L6-v2", OTHER_MODEL])
def test_model_argument_and_no_embedded_match(archive, embedder, model) -> None:  # type: ignore[no-untyped-def]
    """A named model binds its literal; a model without vectors falls back with the note."""
    one, overlapped = _services(archive, embedder)
    model = model if model != "all-MiniLM-L6-v2" else embedder.name
    expected = one.search("support group caroline", model=model)
    got = overlapped.search("support group caroline", model=model)
    assert _facts(got) == _facts(expected)
    if model == OTHER_MODEL:
        assert got.effective_mode == "lexical"
        assert got.notes[-1].startswith("no embedded message matches")
        assert all(h.score == h.lexical_score for h in got.hits)


def test_cached_query_lexical_and_vector_keep_one_statement(archive, embedder, statements) -> None:  # type: ignore[no-untyped-def]
    one, overlapped = _services(archive, embedder)
    first = overlapped.search("swimming lessons")
    assert _ranking_statements(statements) == (1, 1)
    again = overlapped.search("swimming lessons")  # vector cached: nothing to overlap
    assert _ranking_statements(statements) == (1, 1)
    assert _facts(again) == _facts(first) == _facts(one.search("swimming lessons"))
    overlapped.search("courgettes", mode="lexical")
    overlapped.search("courgettes", mode="vector")
    assert _ranking_statements(statements) == (1, 1)


def _until_blocked(watcher: psycopg.Connection[Any], seconds: float = 20.0) -> int | None:
    """The pid of the search backend whose lexical leg waits on the test's lock."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        row = watcher.execute(  # (pg_stat_activity.query is cut at 1 kB)
            "SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.relation = %s::regclass AND NOT l.granted AND a.state = 'active' "
            "AND a.query LIKE 'WITH%%words AS (%%'", (LOCKED,)).fetchone()
        if row:
            return int(row[0])
        time.sleep(0.01)
    return None


@pytest.fixture
def lock(archive) -> Iterator[psycopg.Connection[Any]]:  # type: ignore[no-untyped-def]
    """A transaction holding an exclusive lock the lexical leg must wait for."""
    with psycopg.connect(archive.url) as holder:
        holder.execute(f"LOCK TABLE {LOCKED} IN ACCESS EXCLUSIVE MODE")
        yield holder
        holder.rollback()


def _threads_left() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


def test_the_lexical_statement_is_at_the_server_while_the_query_is_embedded(
        archive, embedder, lock) -> None:  # type: ignore[no-untyped-def]
    """The embedder waits for the search's lexical leg to be blocked on the lock in the
    server, then releases the lock: with the query embedded before the lexical leg is
    sent (no overlap), it would wait in vain."""
    seen: list[int | None] = []
    with psycopg.connect(archive.url, autocommit=True) as watcher:
        def before(texts: list[str]) -> None:
            seen.append(_until_blocked(watcher, seconds=10.0))
            lock.rollback()
        service = SearchService(archive, Hooked(embedder, before))
        got = service.search("support group again")
    assert seen and seen[0] is not None
    expected = SearchService(archive, embedder, overlap=False).search("support group again")
    assert _facts(got) == _facts(expected)


def test_an_error_in_the_lexical_statement_surfaces_as_before(archive, embedder, lock) -> None:  # type: ignore[no-untyped-def]
    """A statement cancelled in the server raises QueryCanceled, overlapped or not; no
    thread is left, and the next search on the service works."""
    def cancel_when_blocked() -> None:
        with psycopg.connect(archive.url, autocommit=True) as watcher:
            pid = _until_blocked(watcher)
            if pid is not None:
                watcher.execute("SELECT pg_cancel_backend(%s)", (pid,))

    for overlap in (False, True):
        service = SearchService(archive, embedder, overlap=overlap)
        canceller = threading.Thread(target=cancel_when_blocked)
        canceller.start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            service.search(f"autovacuum workers {overlap}")
        canceller.join()
        assert not _threads_left()
    lock.rollback()
    assert service.search("autovacuum workers True").hits


def test_ctrl_c_cancels_the_statement_and_joins_the_thread(archive, embedder, lock) -> None:  # type: ignore[no-untyped-def]
    """SIGINT while the lexical leg runs (blocked): KeyboardInterrupt, the statement is
    cancelled (the backend is not left active), the encoding thread is joined."""
    main = threading.main_thread().ident
    assert main == threading.get_ident()
    with psycopg.connect(archive.url, autocommit=True) as watcher:
        def before(texts: list[str]) -> None:
            if _until_blocked(watcher, seconds=10.0) is not None and main is not None:
                signal.pthread_kill(main, signal.SIGINT)
            else:  # not overlapped: let the search end (the test fails)
                lock.rollback()
        service = SearchService(archive, Hooked(embedder, before))
        with pytest.raises(KeyboardInterrupt):
            service.search("support group interrupted")
        assert not _threads_left()
        assert _until_blocked(watcher, seconds=0.5) is None  # no statement left running
    lock.rollback()
    service = SearchService(archive, embedder)  # the pool's connections still serve
    expected = SearchService(archive, embedder, overlap=False).search("courgettes patch")
    assert _facts(service.search("courgettes patch")) == _facts(expected)


def test_a_failed_embedding_falls_back_to_lexical_with_the_note(archive, embedder,  # type: ignore[no-untyped-def]
                                                                 statements) -> None:
    broken = Failing(embedder, EmbeddingModelError("cannot load embedding model: gone"))
    expected = SearchService(archive, broken, overlap=False).search("support group", k=15)
    got = SearchService(archive, broken).search("support group", k=15)
    assert _ranking_statements(statements) == (1, 1)
    assert got.effective_mode == "lexical" and got.hits
    assert any("embedding model unavailable" in note for note in got.notes)
    assert _facts(got) == _facts(expected)
    lexical = SearchService(archive, embedder).search("support group", mode="lexical", k=15)
    assert [(h.message_id, h.score) for h in got.hits] == [
        (h.message_id, h.score) for h in lexical.hits]


def test_invalid_model_names_stay_invalid_query_errors(archive, embedder) -> None:  # type: ignore[no-untyped-def]
    for overlap in (False, True):
        service = SearchService(archive, embedder, overlap=overlap)
        with pytest.raises(InvalidQueryError, match="precision"):
            service.search("support group", model="all-MiniLM-L6-v2@fp8")
        bad = Failing(embedder, ValueError("bad input for this model"))
        with pytest.raises(InvalidQueryError, match="bad input"):
            SearchService(archive, bad, overlap=overlap).search("support group")
        assert not _threads_left()



def test_both_statements_share_one_snapshot(archive, embedder, statements) -> None:  # type: ignore[no-untyped-def]
    """The overlapped search's transaction starts REPEATABLE READ; a later transaction
    on the pooled connections is back to the default level."""
    SearchService(archive, embedder).search("support group snapshot")
    sent = [s for s in statements if s.strip() != ";"]  # the pool's liveness check
    assert sent[0] == REPEATABLE_READ_SQL
    assert _ranking_statements(statements) == (1, 1)
    for _ in range(3):
        with archive.pooled() as conn:
            level = conn.execute("SHOW transaction_isolation").fetchone()
            assert level is not None and level[0] == "read committed"
