"""Migrations: up and down cleanly, and leave the schema the code expects."""

from __future__ import annotations

from sqlalchemy import inspect, text

from dovos.db import migrations

TABLES = {"conversations", "messages", "message_embeddings", "jobs", "settings", "worker_heartbeats",
          "embedding_models"}
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
    # one partial HNSW index per model (0006); the default model's keeps the old name
    hnsw = definitions["message_embeddings_hnsw_idx"]
    assert "USING hnsw (((embedding)::vector(384)) vector_cosine_ops)" in hnsw
    assert "WHERE (model = 'all-MiniLM-L6-v2'::text)" in hnsw
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


def test_0005_moves_worker_heartbeats_out_of_settings_and_back(database) -> None:
    """Heartbeats kept in `settings` (before 0005) move to `worker_heartbeats`; the
    downgrade moves them back; other settings stay where they are."""
    from dovos.worker import worker_heartbeats

    try:
        database.downgrade("0004")
        assert "worker_heartbeats" not in _tables(database)
        with database.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO settings (key, value) VALUES ('worker.heartbeat.h:1:ab', "
                "'{\"worker_id\": \"h:1:ab\", \"host\": \"h\", \"pid\": 1, \"state\": \"idle\", "
                "\"jobs_done\": 7, \"heartbeat_seconds\": 2.5, "
                "\"last_beat\": \"2025-03-21T10:00:00+00:00\"}'), "
                "('worker.heartbeat.odd', '{\"pid\": \"not a number\", \"last_beat\": \"now\"}'), "
                "('search.tuned', '{\"k\": 60}')"
            ))
        database.migrate("0005")
        beats = {beat.worker_id: beat for beat in worker_heartbeats(database)}
        assert set(beats) == {"h:1:ab", "odd"}
        beat = beats["h:1:ab"]
        assert (beat.host, beat.pid, beat.state, beat.jobs_done, beat.heartbeat_seconds) == (
            "h", 1, "idle", 7, 2.5)
        assert beat.last_beat.startswith("2025-03-21")
        assert (beats["odd"].pid, beats["odd"].last_beat) == (0, "")  # unparsable: left empty
        with database.engine.connect() as conn:
            keys = set(conn.execute(text("SELECT key FROM settings")).scalars())
        assert keys == {"search.tuned"}
        database.downgrade("0004")
        with database.engine.connect() as conn:
            value = conn.execute(text(
                "SELECT value FROM settings WHERE key = 'worker.heartbeat.h:1:ab'")).scalar_one()
        assert value["jobs_done"] == 7 and value["last_beat"] == "2025-03-21T10:00:00+00:00"
    finally:
        database.migrate("head")
