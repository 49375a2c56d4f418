"""Fallback to lexical without embeddings or model, and BM25 statistics kept on write."""

from __future__ import annotations

import numpy as np
import pytest
from search_support import handmade

from dovos.embeddings import EmbeddingModelError
from dovos.ingest import ingest
from dovos.search.service import SearchService


class BrokenEmbedder:
    """An embedder whose model cannot load (as when the packaged weights are missing)."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        raise EmbeddingModelError("cannot load embedding model 'all-MiniLM-L6-v2': gone")


def _store(database) -> None:  # type: ignore[no-untyped-def]
    with database.connect() as conn:
        ingest(conn, handmade())


@pytest.mark.parametrize("mode", ["hybrid", "vector"])
def test_without_embeddings_search_falls_back_to_lexical(database, embedder, mode) -> None:  # type: ignore[no-untyped-def]
    _store(database)  # no worker ran: no embeddings
    response = SearchService(database, embedder).search("support group", mode=mode, k=3)
    assert response.mode == mode and response.effective_mode == "lexical"
    assert any("ranked lexically" in note for note in response.notes)
    assert response.hits and "support group" in response.hits[0].content
    assert all(h.vector_rank is None for h in response.hits)


def test_without_model_search_falls_back_to_lexical(database) -> None:  # type: ignore[no-untyped-def]
    _store(database)
    response = SearchService(database, BrokenEmbedder()).search("support group", k=3)
    assert response.effective_mode == "lexical"
    assert any("embedding model unavailable" in note for note in response.notes)
    assert response.hits[0].lexical_rank == 1


def _stats(database) -> tuple[dict[str, int], tuple[int, int]]:  # type: ignore[no-untyped-def]
    with database.connect() as conn:
        lexemes = dict(conn.execute("SELECT lexeme, doc_count FROM search_lexeme_stats "
                                    "WHERE doc_count <> 0").fetchall())
        corpus = conn.execute("SELECT doc_count, total_length FROM search_corpus_stats").fetchone()
        expected = dict(conn.execute(
            "SELECT lexeme, count(*) FROM messages, unnest(tsvector_to_array(search_vector)) "
            "AS t(lexeme) GROUP BY lexeme").fetchall())
        truth = conn.execute("SELECT count(*), coalesce(sum(length(search_vector)), 0) "
                             "FROM messages").fetchone()
    assert lexemes == expected
    assert tuple(corpus) == tuple(truth)
    return lexemes, tuple(corpus)


def test_bm25_statistics_follow_inserts_updates_and_deletes(database) -> None:  # type: ignore[no-untyped-def]
    _store(database)
    lexemes, (docs, _) = _stats(database)
    assert docs == 7 and lexemes["support"] == 2
    with database.connect() as conn:
        conn.execute("UPDATE messages SET content = 'Caroline: nothing about groups' "
                     "WHERE content LIKE 'Caroline: I went%%'")
        conn.execute("UPDATE messages SET metadata = '{\"x\": 1}'")  # content unchanged
        conn.commit()
    lexemes, _ = _stats(database)
    assert lexemes["support"] == 1 and lexemes["group"] == 2
    with database.connect() as conn:
        conn.execute("DELETE FROM conversations WHERE source_id = 'hand-2'")  # cascades
        conn.commit()
    lexemes, (docs, _) = _stats(database)
    assert docs == 4 and "support" not in lexemes
    with database.connect() as conn:
        conn.execute("TRUNCATE messages CASCADE")
        conn.commit()
    lexemes, (docs, length) = _stats(database)
    assert lexemes == {} and docs == 0 and length == 0


def test_failed_write_leaves_statistics_unchanged(database) -> None:  # type: ignore[no-untyped-def]
    _store(database)
    before = _stats(database)
    with database.connect() as conn, pytest.raises(Exception), conn.transaction():  # noqa: B017
        conn.execute("DELETE FROM messages")
        raise RuntimeError("crash mid-write")
    assert _stats(database) == before
