"""Migrations: up and down cleanly, and leave the schema the code expects."""

from __future__ import annotations

from sqlalchemy import inspect, text

from dovos.db import migrations

TABLES = {"conversations", "messages", "message_embeddings", "jobs", "settings"}
VIEWS = {"conversation_summaries", "embedding_coverage"}


def _tables(database) -> set[str]:  # type: ignore[no-untyped-def]
    return set(inspect(database.engine).get_table_names()) - {"alembic_version"}


def _views(database) -> set[str]:  # type: ignore[no-untyped-def]
    return set(inspect(database.engine).get_view_names())


def test_schema_is_at_head_after_open(database) -> None:
    assert database.revision() == migrations.head_revision()
    assert TABLES <= _tables(database)
    assert VIEWS <= _views(database)


def test_downgrade_base_then_upgrade_head(database) -> None:
    try:
        database.downgrade("base")
        assert database.revision() is None
        assert not (TABLES & _tables(database))
        assert not (VIEWS & _views(database))
    finally:
        database.migrate("head")
    assert database.revision() == migrations.head_revision()
    assert TABLES <= _tables(database)


def test_indexes_the_queries_need_exist(database) -> None:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")
        ).all()
    definitions = {name: definition for name, definition in rows}
    assert "USING gin (search_vector)" in definitions["messages_search_vector_idx"]
    assert "gin_trgm_ops" in definitions["search_lexeme_stats_trgm_idx"]
    assert "messages_content_trgm_idx" not in definitions  # typo tolerance uses the vocabulary
    assert "USING hnsw (embedding vector_cosine_ops)" in definitions["message_embeddings_hnsw_idx"]
    assert "WHERE (status = 'pending'::text)" in definitions["jobs_pending_due_idx"]
    assert "UNIQUE" in definitions["jobs_pending_dedupe_key_idx"]


def test_dequeue_uses_partial_index_among_many_completed_jobs(database) -> None:
    """With 200k completed jobs, finding due work reads the small partial index only."""
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO jobs (kind, status, completed_at) "
                "SELECT 'embed_message', 'completed', now() FROM generate_series(1, 200000)"
            )
        )
        conn.execute(text("INSERT INTO jobs (kind) SELECT 'embed_message' FROM generate_series(1, 10)"))
        conn.execute(text("ANALYZE jobs"))
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                text(
                    "EXPLAIN SELECT id FROM jobs WHERE status = 'pending' AND run_after <= now() "
                    "ORDER BY run_after, id LIMIT 64 FOR UPDATE SKIP LOCKED"
                )
            )
        )
    assert "jobs_pending_due_idx" in plan


def test_0004_records_the_context_version_of_existing_embeddings(database) -> None:
    """Embeddings stored before 0004 take their previous turn's current version, so they
    are not all reported stale; the coverage function then sees context edits."""
    try:
        database.downgrade("0003")
        with database.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO conversations (id, title, source, source_id) "
                "VALUES ('00000000-0000-0000-0000-000000000001', 't', 'chatgpt', 'c1');"
                "INSERT INTO messages (id, conversation_id, role, content, position) VALUES "
                "('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000001',"
                " 'user', 'q', 0),"
                "('00000000-0000-0000-0000-00000000000b', '00000000-0000-0000-0000-000000000001',"
                " 'assistant', 'a', 1);"
                "UPDATE messages SET content = 'q, edited' WHERE position = 0;"
                "INSERT INTO message_embeddings (message_id, model, embedding, message_version) "
                "SELECT id, 'm', array_fill(0.1, ARRAY[384])::vector, version FROM messages;"
            ))
    finally:
        database.migrate("head")
    with database.engine.begin() as conn:
        rows = conn.execute(text(
            "SELECT m.position, e.context_version FROM message_embeddings e "
            "JOIN messages m ON m.id = e.message_id ORDER BY m.position")).all()
        assert [tuple(row) for row in rows] == [(0, 0), (1, 2)]
        assert conn.execute(text("SELECT stale FROM embedding_coverage('m')")).scalar_one() == 0
        conn.execute(text("UPDATE messages SET content = 'q, again' WHERE position = 0"))
        assert conn.execute(text("SELECT stale FROM embedding_coverage('m')")).scalar_one() == 2
