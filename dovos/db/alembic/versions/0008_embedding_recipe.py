"""Embeddings record the recipe (what text was embedded) they were computed with.

What a message's embedding is computed from is decided in one place,
`dovos.search.document_text` (the message with the end of the turn before it). Changing
that choice (how much of the previous turn, a speaker prefix, ...) changes the vector a
message should have, but its message and context versions stay the same, so the
version test alone would keep the old vectors for ever. `recipe` numbers the choice:
the code's current number is `dovos.search.document_text.EMBEDDING_RECIPE`, and an
embedding is stale when `(recipe, message_version, context_version)` is below the
current one (the worker's test, the backfill's, `embedding_coverage`'s).

Existing embeddings were computed with the first recipe (previous turn cut to its last
500 characters): `recipe` 1. This revision comes with recipe 2 (the last 200
characters), so every embedded message gets an embed job here, in the migration's
transaction: the schema change and the re-embed queue commit together or not at all,
with no separate step to forget (`dovos db migrate` on a server named by DATABASE_URL,
automatically on the embedded one). The old vectors keep serving vector search until
the worker replaces them (the upsert lets a newer recipe overwrite an older one), so
search has no gap after the upgrade. A later recipe bump adds a revision like this one
(or runs `dovos models add MODEL`, which queues whatever is stale for MODEL).

`embedding_coverage(model, recipe)` counts an embedding of an older recipe as stale;
called with the model alone (and by the `embedding_coverage` view) it compares versions
only, as before.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECIPE = 2  # dovos.search.document_text.EMBEDDING_RECIPE when this revision was written

UPGRADE = f"""
ALTER TABLE message_embeddings ADD COLUMN recipe integer NOT NULL DEFAULT 1;

DROP VIEW embedding_coverage;
DROP FUNCTION embedding_coverage(text);
CREATE FUNCTION embedding_coverage(p_model text, p_recipe integer DEFAULT 0)
RETURNS TABLE (model text, total bigint, embedded bigint, stale bigint)
LANGUAGE sql STABLE AS $$
    SELECT p_model,
           count(*),
           count(e.message_id),
           count(*) FILTER (WHERE (e.recipe, e.message_version, e.context_version)
                                  < (greatest(e.recipe, p_recipe), m.version,
                                     coalesce(p.version, 0)))
    FROM messages m
    LEFT JOIN messages p
           ON p.conversation_id = m.conversation_id AND p.position = m.position - 1
    LEFT JOIN message_embeddings e ON e.message_id = m.id AND e.model = p_model
$$;
CREATE VIEW embedding_coverage AS
SELECT c.*
FROM (SELECT DISTINCT model FROM message_embeddings) AS models,
     LATERAL embedding_coverage(models.model) AS c;

INSERT INTO jobs (kind, payload, dedupe_key)
SELECT 'embed_message', jsonb_build_object('message_id', m.id::text, 'version', m.version),
       'embed_message:' || m.id::text
FROM messages m
WHERE EXISTS (SELECT 1 FROM message_embeddings e
              WHERE e.message_id = m.id AND e.recipe < {RECIPE})
ORDER BY m.id
ON CONFLICT (dedupe_key) WHERE status = 'pending' AND dedupe_key IS NOT NULL DO NOTHING;
"""

DOWNGRADE = """
DROP VIEW embedding_coverage;
DROP FUNCTION embedding_coverage(text, integer);
CREATE FUNCTION embedding_coverage(p_model text)
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
CREATE VIEW embedding_coverage AS
SELECT c.*
FROM (SELECT DISTINCT model FROM message_embeddings) AS models,
     LATERAL embedding_coverage(models.model) AS c;
ALTER TABLE message_embeddings DROP COLUMN recipe;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
