"""The BM25 insert trigger (migration 0009) counts documents per lexeme exactly.

It groups the new rows' lexemes with a hash aggregate; these tests compare its counts
with a recount from the stored tsvectors after several COPY statements in one
transaction (each statement fires the trigger once and upserts lexemes an earlier one
inserted), after a second transaction, and after a rolled-back one.
"""

from __future__ import annotations

import pytest

from dovos.importers.parsed import ParsedConversation, ParsedMessage
from dovos.ingest import ingest_transaction


def _conversation(key: str, texts: list[str]) -> ParsedConversation:
    return ParsedConversation(
        "chatgpt", key, f"title {key}", [ParsedMessage("user", text) for text in texts]
    )


def _stored_and_recounted(database) -> tuple[dict[str, int], dict[str, int], tuple, tuple]:  # type: ignore[no-untyped-def]
    with database.connect() as conn:
        stored = dict(conn.execute(
            "SELECT lexeme, doc_count FROM search_lexeme_stats WHERE doc_count <> 0").fetchall())
        recounted = dict(conn.execute(
            "SELECT lexeme, count(*) FROM messages, unnest(tsvector_to_array(search_vector)) "
            "AS t(lexeme) GROUP BY lexeme").fetchall())
        corpus = tuple(conn.execute(
            "SELECT doc_count, total_length FROM search_corpus_stats").fetchone() or ())
        truth = tuple(conn.execute(
            "SELECT count(*), coalesce(sum(length(search_vector)), 0) FROM messages"
        ).fetchone() or ())
    return stored, recounted, corpus, truth


def test_counts_are_exact_across_batches_and_transactions(database) -> None:  # type: ignore[no-untyped-def]
    with database.connect() as conn, ingest_transaction(conn) as writer:
        # a word repeated inside one message counts once for that message
        writer.write([_conversation("a", ["gardens gardens gardens of roses", "roses bloom"])])
        writer.write([_conversation("b", ["a garden without roses", "nothing shared here"])])
    stored, recounted, corpus, truth = _stored_and_recounted(database)
    assert stored == recounted
    assert stored["garden"] == 2 and stored["rose"] == 3 and stored["bloom"] == 1
    assert corpus == truth and corpus[0] == 4

    with database.connect() as conn, ingest_transaction(conn) as writer:
        writer.write([_conversation("c", ["roses again", "a brand new lexeme: zeppelin"])])
    stored, recounted, corpus, truth = _stored_and_recounted(database)
    assert stored == recounted and stored["rose"] == 4 and stored["zeppelin"] == 1
    assert corpus == truth and corpus[0] == 6


def test_rolled_back_insert_leaves_counts_unchanged(database) -> None:  # type: ignore[no-untyped-def]
    with database.connect() as conn, ingest_transaction(conn) as writer:
        writer.write([_conversation("a", ["roses bloom"])])
    before = _stored_and_recounted(database)
    with (database.connect() as conn, pytest.raises(RuntimeError),
          ingest_transaction(conn) as writer):
        writer.write([_conversation("b", ["roses and tulips"])])
        raise RuntimeError("crash after the COPY, before the commit")
    after = _stored_and_recounted(database)
    assert after == before and "tulip" not in after[0]
