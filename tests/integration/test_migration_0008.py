"""Migration 0008: the BM25 insert trigger's direct form keeps the statistics exact, and
its downgrade restores 0002's form (which keeps them exact too)."""

from __future__ import annotations

from typing import Any

from search_support import handmade

from dovos.ingest import ParsedConversation, ParsedMessage, ingest

# The statistics recomputed from the stored tsvectors, as 0002 backfilled them.
RECOMPUTED = """
SELECT lexeme, count(*) FROM messages, unnest(tsvector_to_array(search_vector)) t(lexeme)
GROUP BY lexeme
"""
KEPT = "SELECT lexeme, doc_count FROM search_lexeme_stats WHERE doc_count <> 0"
TOTALS = "SELECT doc_count, total_length FROM search_corpus_stats"
RECOMPUTED_TOTALS = "SELECT count(*), coalesce(sum(length(search_vector)), 0) FROM messages"
BODY = "SELECT prosrc FROM pg_proc WHERE proname = 'dovos_bm25_on_insert'"


def _exact(database: Any) -> bool:
    with database.connect() as conn:
        kept = dict(conn.execute(KEPT).fetchall())
        recomputed = dict(conn.execute(RECOMPUTED).fetchall())
        totals = tuple(conn.execute(TOTALS).fetchone())
        recomputed_totals = tuple(conn.execute(RECOMPUTED_TOTALS).fetchone())
    return bool(kept) and kept == recomputed and totals == recomputed_totals


def _more(tag: str) -> list[ParsedConversation]:
    return [ParsedConversation("chatgpt", f"more-{tag}", "more", [
        ParsedMessage("user", f"support groups and painting classes, {tag}"),
        ParsedMessage("assistant", f"painting helps; so do the groups {tag}"),
    ])]


def test_inserts_keep_the_statistics_exact_at_head_and_after_the_downgrade(
    database: Any,
) -> None:
    with database.connect() as conn:
        assert "dovos_bm25_apply" not in conn.execute(BODY).fetchone()[0]
        ingest(conn, handmade())
        ingest(conn, _more("one"))  # lexemes already counted meet the upsert
    assert _exact(database)
    try:
        database.downgrade("0007")
        with database.connect() as conn:
            assert "dovos_bm25_apply" in conn.execute(BODY).fetchone()[0]
            ingest(conn, _more("two"))
        assert _exact(database)
    finally:
        database.migrate("head")
    with database.connect() as conn:
        ingest(conn, _more("three"))
    assert _exact(database)
