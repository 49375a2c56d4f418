"""Migration 0011: `messages.search_vector` is a plain column filled by a trigger with
exactly the generated column's expression unless an insert supplies it; UPDATEs
recompute it; the downgrade restores the generated column. Real database."""

from __future__ import annotations

from typing import Any

from dovos.ingest import ParsedConversation, ParsedMessage, ingest

EXPRESSION = "to_tsvector('english'::regconfig, left(content, 100000))"
# Rows whose stored vector is not the column's expression over the stored content.
MISMATCHES = f"SELECT count(*) FROM messages WHERE search_vector IS DISTINCT FROM {EXPRESSION}"
TEXTS = [
    "Ünïcödé naïve café résumé, ÆØÅ æøå, straße STRASSE",
    "中文分词 日本語のテキスト 한국어 텍스트 العربية עברית",
    "emoji 🤖🔥 and a flag 🇳🇴, e\u0301 combining, zero\u200bwidth",
    "quotes 'single' \"double\" it's O'Reilly's back\\slash C:\\path\\to and tab\there",
    "",
    "the and of",
]


def _rows(database: Any, sql: str) -> list[tuple[Any, ...]]:
    with database.connect() as connection:
        return connection.execute(sql).fetchall()


def test_other_writers_get_the_vector_from_the_trigger(database: Any) -> None:
    """No vector supplied (ingest() without vectors, plain SQL): the trigger computes it;
    an UPDATE of the content recomputes it, and an UPDATE cannot set a foreign one."""
    ingest_conversation = ParsedConversation(
        source="chatgpt", source_id="t", title="t",
        messages=[ParsedMessage(role="user", content="Gardening tomatoes in July"),
                  ParsedMessage(role="assistant", content="Water them deeply")])
    with database.connect(autocommit=True) as connection:
        ingest(connection, [ingest_conversation])
        connection.execute(
            "INSERT INTO messages (conversation_id, role, content, position) "
            "SELECT id, 'user', 'Pruning the roses', 2 FROM conversations")
        assert connection.execute(MISMATCHES).fetchone() == (0,)
        connection.execute("UPDATE messages SET content = 'Harvesting pumpkins' WHERE position = 0")
        connection.execute("UPDATE messages SET search_vector = 'bogus:1' WHERE position = 1")
        connection.execute("UPDATE messages SET metadata = '{\"k\": 1}' WHERE position = 2")
        assert connection.execute(MISMATCHES).fetchone() == (0,)
        rows = connection.execute(
            "SELECT position, search_vector::text FROM messages ORDER BY position").fetchall()
    assert rows == [(0, "'harvest':1 'pumpkin':2"), (1, "'deepli':3 'water':1"),
                    (2, "'prune':1 'rose':3")]


def test_0011_down_restores_the_generated_column_and_up_the_trigger(database: Any) -> None:
    """Downgrade: the generated column again (same vectors, GIN index rebuilt, BM25
    statistics untouched); upgrade: a plain column filled by the trigger."""
    generated = ("SELECT attgenerated FROM pg_attribute WHERE attrelid = 'messages'::regclass "
                 "AND attname = 'search_vector'")
    stats = "SELECT * FROM search_corpus_stats"
    conversation = ParsedConversation(
        source="chatgpt", source_id="m", title="m",
        messages=[ParsedMessage(role="user", content=t) for t in TEXTS])
    with database.connect(autocommit=True) as connection:
        ingest(connection, [conversation])
    before = _rows(database, "SELECT id, search_vector::text FROM messages ORDER BY id")
    stats_before = _rows(database, stats)
    assert _rows(database, generated) == [("",)]
    try:
        database.downgrade("0010")
        assert _rows(database, generated) == [("s",)]
        assert _rows(database, "SELECT id, search_vector::text FROM messages ORDER BY id") == before
        assert _rows(database, "SELECT count(*) FROM pg_indexes "
                               "WHERE indexname = 'messages_search_vector_idx'") == [(1,)]
        assert _rows(database, stats) == stats_before
    finally:
        database.migrate("head")
    assert _rows(database, generated) == [("",)]
    assert _rows(database, "SELECT tgname FROM pg_trigger WHERE tgrelid = 'messages'::regclass "
                           "AND tgname LIKE 'messages_search_vector%' ORDER BY 1") == [
        ("messages_search_vector_insert",), ("messages_search_vector_update",)]
    assert _rows(database, "SELECT id, search_vector::text FROM messages ORDER BY id") == before
