"""Embeddings record the version of the previous turn they were computed with.

A message is embedded with the end of the turn before it as context
(dovos/search/document_text.py), so an edit of that turn makes the embedding stale even
though the message itself did not change. `context_version` (0: no previous turn) lets
the worker and the coverage figures see that. Existing embeddings are taken to be
current: they were computed from the previous turn as it was, and edits before this
migration cannot be told apart afterwards.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
ALTER TABLE message_embeddings ADD COLUMN context_version integer NOT NULL DEFAULT 0;
UPDATE message_embeddings e SET context_version = p.version
FROM messages m
JOIN messages p ON p.conversation_id = m.conversation_id AND p.position = m.position - 1
WHERE m.id = e.message_id;

CREATE OR REPLACE FUNCTION embedding_coverage(p_model text)
RETURNS TABLE (model text, total bigint, embedded bigint, stale bigint)
LANGUAGE sql STABLE AS $$
    SELECT p_model,
           count(*),
           count(e.message_id),
           count(*) FILTER (WHERE (e.message_version, e.context_version)
                                  < (m.version, coalesce(p.version, 0)))
    FROM messages m
    LEFT JOIN messages p
           ON p.conversation_id = m.conversation_id AND p.position = m.position - 1
    LEFT JOIN message_embeddings e ON e.message_id = m.id AND e.model = p_model
$$;
"""

DOWNGRADE = """
CREATE OR REPLACE FUNCTION embedding_coverage(p_model text)
RETURNS TABLE (model text, total bigint, embedded bigint, stale bigint)
LANGUAGE sql STABLE AS $$
    SELECT p_model,
           count(*),
           count(e.message_id),
           count(*) FILTER (WHERE e.message_version < m.version)
    FROM messages m
    LEFT JOIN message_embeddings e ON e.message_id = m.id AND e.model = p_model
$$;
ALTER TABLE message_embeddings DROP COLUMN context_version;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
