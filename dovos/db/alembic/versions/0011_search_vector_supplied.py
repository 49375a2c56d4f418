"""`messages.search_vector` may be supplied by the writer; a trigger fills it otherwise.

Until now the column was generated (0001): PostgreSQL computed
`to_tsvector('english', left(content, 100000))` for each inserted row, in the backend
of the inserting transaction. An import writes a file in one transaction, so that one
backend did all of it, ~40 % of its work, while the machine's second core idled. An
importer computing the next batch's vectors on a second, read-only connection (another
backend, another core) and supplying them with its COPY needs a column that accepts a
value. (That importer path was built and measured, 1.16x same-run wall over 20 pairs on
a loaded machine, under the 1.2x bar, and reverted; see docs/scaling.md. The column
form stays: databases were already migrated, and the trigger costs what the generated
column did, +4.5 % backend CPU on INSERT...SELECT, within the noise.)

- `DROP EXPRESSION` keeps every stored vector (no rewrite) and makes the column plain.
- `messages_search_vector_insert` (BEFORE INSERT, only when the row gives NULL: the
  `WHEN` clause skips the function call for supplied rows) computes it from the
  content with exactly the generated column's expression. Every other writer (the API,
  the legacy importer, tests, psql) gives none and gets what the generated column gave.
- `messages_search_vector_update` (BEFORE UPDATE, when the content or the vector
  changes) recomputes it from the content: an UPDATE can never leave a vector that
  disagrees with its content, nor set one of its own (stricter than "when the content
  changes without a new vector": only an INSERT may supply one, and it must be computed
  with the same expression in SQL).

BEFORE row triggers run before the statement's AFTER triggers read the transition
tables, so the BM25 statistics (0002, 0009) see the final vectors, as before.

Downgrade restores the generated column: the column is dropped and added again, which
REWRITES the table and recomputes every vector (minutes at a million messages), and
rebuilds the GIN index on it (the only object that depends on the column: the BM25
and champion functions read it by name, views do not use it). The BM25 statistics are
unchanged (the same vectors).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The generated column's expression in 0001 (FTS_PREFIX_CHARS = 100000), frozen here.
EXPRESSION = "to_tsvector('english'::regconfig, left({content}, 100000))"

UPGRADE = f"""
ALTER TABLE messages ALTER COLUMN search_vector DROP EXPRESSION;

CREATE FUNCTION dovos_message_search_vector() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector := {EXPRESSION.format(content="NEW.content")};
    RETURN NEW;
END
$$;

CREATE TRIGGER messages_search_vector_insert BEFORE INSERT ON messages
    FOR EACH ROW WHEN (NEW.search_vector IS NULL)
    EXECUTE FUNCTION dovos_message_search_vector();
CREATE TRIGGER messages_search_vector_update BEFORE UPDATE ON messages
    FOR EACH ROW WHEN (NEW.content IS DISTINCT FROM OLD.content
                       OR NEW.search_vector IS DISTINCT FROM OLD.search_vector)
    EXECUTE FUNCTION dovos_message_search_vector();
"""

DOWNGRADE = f"""
DROP TRIGGER IF EXISTS messages_search_vector_update ON messages;
DROP TRIGGER IF EXISTS messages_search_vector_insert ON messages;
DROP FUNCTION IF EXISTS dovos_message_search_vector();
ALTER TABLE messages DROP COLUMN search_vector;
ALTER TABLE messages ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS ({EXPRESSION.format(content="content")}) STORED;
CREATE INDEX messages_search_vector_idx ON messages USING gin (search_vector);
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
