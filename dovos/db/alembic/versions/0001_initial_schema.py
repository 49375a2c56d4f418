"""Initial schema: conversations, messages, embeddings, job queue, settings.

Written as plain SQL so that what runs on the server is exactly what is reviewed:
tables, generated tsvector, triggers (updated_at, version bump, queue notifications),
indexes (GIN full text, trigram, HNSW cosine, queue partial indexes) and views.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Full-text indexing covers the first 100,000 characters of a message: a tsvector
# cannot exceed 1 MB, and a 10 MB paste must not make its insert fail.
FTS_PREFIX_CHARS = 100_000

UPGRADE = f"""
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE FUNCTION dovos_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

CREATE FUNCTION dovos_bump_message_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.content IS DISTINCT FROM OLD.content THEN
        NEW.version := OLD.version + 1;
    ELSE
        NEW.version := OLD.version;
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION dovos_notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('dovos_jobs', '');
    RETURN NULL;
END $$;

CREATE TABLE conversations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    title       text NOT NULL DEFAULT '',
    source      text NOT NULL
                CHECK (source IN ('chatgpt', 'claude', 'openwebui', 'unknown')),
    source_id   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    is_saved    boolean NOT NULL DEFAULT false,
    metadata    jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    CONSTRAINT conversations_source_id_key UNIQUE (source, source_id)
);
CREATE INDEX conversations_created_at_idx ON conversations (created_at DESC);
CREATE INDEX conversations_metadata_idx ON conversations USING gin (metadata jsonb_path_ops);
CREATE TRIGGER conversations_touch BEFORE UPDATE ON conversations
    FOR EACH ROW EXECUTE FUNCTION dovos_touch_updated_at();

CREATE TABLE messages (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id   uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role              text NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    content           text NOT NULL,
    position          integer NOT NULL CHECK (position >= 0),
    source_message_id text,
    metadata          jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    version           integer NOT NULL DEFAULT 1,
    search_vector     tsvector GENERATED ALWAYS AS
                      (to_tsvector('english'::regconfig, left(content, {FTS_PREFIX_CHARS}))) STORED,
    CONSTRAINT messages_position_key UNIQUE (conversation_id, position)
);
CREATE INDEX messages_search_vector_idx ON messages USING gin (search_vector);
CREATE INDEX messages_content_trgm_idx ON messages USING gin (content gin_trgm_ops);
CREATE INDEX messages_created_at_idx ON messages (created_at);
CREATE INDEX messages_conversation_source_id_idx
    ON messages (conversation_id, source_message_id) WHERE source_message_id IS NOT NULL;
CREATE TRIGGER messages_bump_version BEFORE UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION dovos_bump_message_version();
CREATE TRIGGER messages_touch BEFORE UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION dovos_touch_updated_at();

CREATE TABLE message_embeddings (
    message_id      uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    model           text NOT NULL,
    embedding       vector(384) NOT NULL,
    message_version integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, model)
);
CREATE INDEX message_embeddings_hnsw_idx ON message_embeddings
    USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
CREATE INDEX message_embeddings_model_idx ON message_embeddings (model);

CREATE TABLE jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             text NOT NULL,
    payload          jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    dedupe_key       text,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    run_after        timestamptz NOT NULL DEFAULT now(),
    lease_owner      text,
    lease_expires_at timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz
);
-- Partial indexes: dequeue and lease recovery read only live rows, so millions of
-- completed jobs cost them nothing.
CREATE INDEX jobs_pending_due_idx ON jobs (run_after, id) WHERE status = 'pending';
CREATE INDEX jobs_running_lease_idx ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_failed_idx ON jobs (updated_at) WHERE status = 'failed';
-- At most one pending job per dedupe key (for embed jobs: one per message).
CREATE UNIQUE INDEX jobs_pending_dedupe_key_idx ON jobs (dedupe_key)
    WHERE status = 'pending' AND dedupe_key IS NOT NULL;
CREATE TRIGGER jobs_touch BEFORE UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION dovos_touch_updated_at();
CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION dovos_notify_jobs();
CREATE TRIGGER jobs_notify_requeue AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (NEW.status = 'pending' AND OLD.status <> 'pending')
    EXECUTE FUNCTION dovos_notify_jobs();

CREATE TABLE settings (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER settings_touch BEFORE UPDATE ON settings
    FOR EACH ROW EXECUTE FUNCTION dovos_touch_updated_at();

CREATE VIEW conversation_summaries AS
SELECT c.id AS conversation_id,
       c.title,
       c.source,
       c.created_at,
       c.is_saved,
       count(m.id) AS message_count,
       min(m.created_at) AS first_message_at,
       max(m.created_at) AS last_message_at,
       (SELECT left(p.content, 1000) FROM messages p
         WHERE p.conversation_id = c.id ORDER BY p.position LIMIT 1) AS preview
FROM conversations c
LEFT JOIN messages m ON m.conversation_id = c.id
GROUP BY c.id;

CREATE FUNCTION embedding_coverage(p_model text)
RETURNS TABLE (model text, total bigint, embedded bigint, stale bigint)
LANGUAGE sql STABLE AS $$
    SELECT p_model,
           count(*),
           count(e.message_id),
           count(*) FILTER (WHERE e.message_version < m.version)
    FROM messages m
    LEFT JOIN message_embeddings e ON e.message_id = m.id AND e.model = p_model
$$;

CREATE VIEW embedding_coverage AS
SELECT c.*
FROM (SELECT DISTINCT model FROM message_embeddings) AS models,
     LATERAL embedding_coverage(models.model) AS c;
"""

DOWNGRADE = """
DROP VIEW IF EXISTS embedding_coverage;
DROP FUNCTION IF EXISTS embedding_coverage(text);
DROP VIEW IF EXISTS conversation_summaries;
DROP TABLE IF EXISTS settings;
DROP TABLE IF EXISTS jobs;
DROP TABLE IF EXISTS message_embeddings;
DROP TABLE IF EXISTS messages;
DROP TABLE IF EXISTS conversations;
DROP FUNCTION IF EXISTS dovos_notify_jobs();
DROP FUNCTION IF EXISTS dovos_bump_message_version();
DROP FUNCTION IF EXISTS dovos_touch_updated_at();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    # The extensions stay: other databases objects may use them, and they are harmless.
    op.execute(DOWNGRADE)
