"""Conversations keep their message count and first/last message time (issue 16).

The `conversation_summaries` view of 0001 aggregated every message of every conversation
before the API's page could sort by latest activity and keep 50: 1.8-1.9 s at a million
messages, growing with the archive. Here `conversations` stores `message_count`,
`first_message_at` and `last_message_at`, kept exact by statement-level triggers with
transition tables on `messages` (in the writing transaction, so a rollback leaves them
exact), and an index on the page's sort key (`coalesce(last_message_at, created_at)
DESC, id`) lets the page read its rows in order and stop. The view keeps its columns and
types; the preview stays a lookup of the first message by (conversation_id, position).

- Insert (the import's path): one grouped pass over the new rows adds each
  conversation's count and widens its span (`least`/`greatest`), which compose with a
  concurrent writer's: an UPDATE waiting on the row re-reads its newest version.
- Delete, and an update that moves a message or changes its time: the affected
  conversations are recounted from `messages`, in a statement after the lock pass, so
  its snapshot sees whatever a writer that held the row lock committed.
- Truncate: every conversation is emptied.

Each trigger first locks the conversations it will write, in id order (FOR NO KEY
UPDATE: the level UPDATE takes, which does not block other transactions' foreign key
checks): concurrent writers take the locks in the same order and cannot deadlock, the
reasoning of the BM25 trigger's sorted upserts (0002, 0009).

`conversations_touch` now names the table's own columns (UPDATE OF ...): it fires for
every statement it fired for before, but not for the triggers' writes, so `updated_at`
still means "the conversation's fields were written", not "a message was added".

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The view's definition before and after: the same columns, names and types.
OLD_VIEW = """
CREATE OR REPLACE VIEW conversation_summaries AS
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
"""

NEW_VIEW = """
CREATE OR REPLACE VIEW conversation_summaries AS
SELECT c.id AS conversation_id,
       c.title,
       c.source,
       c.created_at,
       c.is_saved,
       c.message_count::bigint AS message_count,
       c.first_message_at,
       c.last_message_at,
       (SELECT left(p.content, 1000) FROM messages p
         WHERE p.conversation_id = c.id ORDER BY p.position LIMIT 1) AS preview
FROM conversations c;
"""

UPGRADE = f"""
-- No message may be written between the backfill and the triggers' creation.
LOCK TABLE conversations, messages IN SHARE ROW EXCLUSIVE MODE;

ALTER TABLE conversations
    ADD COLUMN message_count integer NOT NULL DEFAULT 0,
    ADD COLUMN first_message_at timestamptz,
    ADD COLUMN last_message_at timestamptz;

DROP TRIGGER conversations_touch ON conversations;
CREATE TRIGGER conversations_touch
    BEFORE UPDATE OF id, title, source, source_id, created_at, updated_at, is_saved, metadata
    ON conversations
    FOR EACH ROW EXECUTE FUNCTION dovos_touch_updated_at();

UPDATE conversations AS c
SET message_count = a.n, first_message_at = a.first_at, last_message_at = a.last_at
FROM (SELECT conversation_id, count(*) AS n, min(created_at) AS first_at,
             max(created_at) AS last_at
      FROM messages GROUP BY conversation_id) AS a
WHERE c.id = a.conversation_id;

CREATE INDEX conversations_activity_idx
    ON conversations ((coalesce(last_message_at, created_at)) DESC, id);

{NEW_VIEW}

-- Lock the given conversations in id order (see the module docstring).
CREATE FUNCTION dovos_lock_conversations(ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM FROM conversations WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
END $$;

-- Recount the given conversations from `messages` (after the lock pass: a new snapshot).
CREATE FUNCTION dovos_recount_conversations(ids uuid[]) RETURNS void LANGUAGE sql AS $$
    UPDATE conversations AS c
    SET (message_count, first_message_at, last_message_at) =
        (SELECT count(*), min(m.created_at), max(m.created_at)
         FROM messages m WHERE m.conversation_id = c.id)
    WHERE c.id = ANY(ids);
$$;

CREATE FUNCTION dovos_activity_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dovos_lock_conversations(ARRAY(SELECT DISTINCT conversation_id FROM new_rows));
    UPDATE conversations AS c
    SET message_count = c.message_count + d.n,
        first_message_at = least(c.first_message_at, d.first_at),
        last_message_at = greatest(c.last_message_at, d.last_at)
    FROM (SELECT conversation_id, count(*) AS n, min(created_at) AS first_at,
                 max(created_at) AS last_at
          FROM new_rows GROUP BY conversation_id) AS d
    WHERE c.id = d.conversation_id;
    RETURN NULL;
END $$;

CREATE FUNCTION dovos_activity_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[] := ARRAY(SELECT DISTINCT conversation_id FROM old_rows);
BEGIN
    PERFORM dovos_lock_conversations(ids);
    PERFORM dovos_recount_conversations(ids);
    RETURN NULL;
END $$;

CREATE FUNCTION dovos_activity_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[] := ARRAY(
        SELECT DISTINCT t.conversation_id
        FROM new_rows n JOIN old_rows o USING (id),
             LATERAL (VALUES (n.conversation_id), (o.conversation_id)) AS t(conversation_id)
        WHERE n.conversation_id IS DISTINCT FROM o.conversation_id
           OR n.created_at IS DISTINCT FROM o.created_at);
BEGIN
    IF cardinality(ids) > 0 THEN
        PERFORM dovos_lock_conversations(ids);
        PERFORM dovos_recount_conversations(ids);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION dovos_activity_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conversations
    SET message_count = 0, first_message_at = NULL, last_message_at = NULL
    WHERE message_count <> 0 OR first_message_at IS NOT NULL;
    RETURN NULL;
END $$;

CREATE TRIGGER messages_activity_insert AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION dovos_activity_on_insert();
CREATE TRIGGER messages_activity_delete AFTER DELETE ON messages
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION dovos_activity_on_delete();
CREATE TRIGGER messages_activity_update AFTER UPDATE ON messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION dovos_activity_on_update();
CREATE TRIGGER messages_activity_truncate AFTER TRUNCATE ON messages
    FOR EACH STATEMENT EXECUTE FUNCTION dovos_activity_on_truncate();
"""

DOWNGRADE = f"""
DROP TRIGGER IF EXISTS messages_activity_truncate ON messages;
DROP TRIGGER IF EXISTS messages_activity_update ON messages;
DROP TRIGGER IF EXISTS messages_activity_delete ON messages;
DROP TRIGGER IF EXISTS messages_activity_insert ON messages;
DROP FUNCTION IF EXISTS dovos_activity_on_truncate();
DROP FUNCTION IF EXISTS dovos_activity_on_update();
DROP FUNCTION IF EXISTS dovos_activity_on_delete();
DROP FUNCTION IF EXISTS dovos_activity_on_insert();
DROP FUNCTION IF EXISTS dovos_recount_conversations(uuid[]);
DROP FUNCTION IF EXISTS dovos_lock_conversations(uuid[]);
{OLD_VIEW}
DROP INDEX IF EXISTS conversations_activity_idx;
DROP TRIGGER conversations_touch ON conversations;
CREATE TRIGGER conversations_touch BEFORE UPDATE ON conversations
    FOR EACH ROW EXECUTE FUNCTION dovos_touch_updated_at();
ALTER TABLE conversations
    DROP COLUMN last_message_at,
    DROP COLUMN first_message_at,
    DROP COLUMN message_count;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
