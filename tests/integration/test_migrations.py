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
    assert "gin_trgm_ops" in definitions["messages_content_trgm_idx"]
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
