"""BM25 statistics kept current on write: document frequency per lexeme, corpus totals.

BM25 needs, beside each message's term frequencies (read from its tsvector positions at
query time), how many messages contain each term and the average message length. Both
are maintained here by statement-level triggers on `messages` with transition tables, so
a COPY of 50,000 messages updates the statistics once, in the same transaction as the
messages themselves (a rollback leaves them exact). Lexemes are upserted in sorted order
so that concurrent writers take row locks in the same order and cannot deadlock.

Document length is the number of distinct lexemes (`length(search_vector)`): it costs
nothing at query time and ranks as well as the token count on chat turns.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE TABLE search_lexeme_stats (
    lexeme    text PRIMARY KEY,
    doc_count bigint NOT NULL
);

CREATE TABLE search_corpus_stats (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    doc_count    bigint NOT NULL DEFAULT 0,
    total_length bigint NOT NULL DEFAULT 0
);
INSERT INTO search_corpus_stats (singleton, doc_count, total_length)
SELECT true, count(*), coalesce(sum(length(search_vector)), 0) FROM messages;

INSERT INTO search_lexeme_stats (lexeme, doc_count)
SELECT lexeme, count(*)
FROM messages, unnest(tsvector_to_array(search_vector)) AS t(lexeme)
GROUP BY lexeme;

-- Apply +1/-1 per (document, lexeme) of the changed rows; `sign` is +1 for new rows.
CREATE FUNCTION dovos_bm25_apply(added tsvector[], removed tsvector[])
RETURNS void LANGUAGE sql AS $$
    WITH deltas AS (
        SELECT lexeme, sum(delta)::bigint AS delta
        FROM (
            SELECT t.lexeme, 1 AS delta
            FROM unnest(added) AS v(vec), unnest(tsvector_to_array(v.vec)) AS t(lexeme)
            UNION ALL
            SELECT t.lexeme, -1
            FROM unnest(removed) AS v(vec), unnest(tsvector_to_array(v.vec)) AS t(lexeme)
        ) AS changes
        GROUP BY lexeme
        HAVING sum(delta) <> 0
        ORDER BY lexeme
    )
    INSERT INTO search_lexeme_stats AS s (lexeme, doc_count)
    SELECT lexeme, delta FROM deltas
    ON CONFLICT (lexeme) DO UPDATE SET doc_count = s.doc_count + EXCLUDED.doc_count;

    UPDATE search_corpus_stats SET
        doc_count = doc_count + coalesce(array_length(added, 1), 0)
                              - coalesce(array_length(removed, 1), 0),
        total_length = total_length
            + coalesce((SELECT sum(length(v)) FROM unnest(added) AS v), 0)
            - coalesce((SELECT sum(length(v)) FROM unnest(removed) AS v), 0);
$$;

CREATE FUNCTION dovos_bm25_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dovos_bm25_apply(ARRAY(SELECT search_vector FROM new_rows), '{}');
    RETURN NULL;
END $$;

CREATE FUNCTION dovos_bm25_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dovos_bm25_apply('{}', ARRAY(SELECT search_vector FROM old_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION dovos_bm25_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dovos_bm25_apply(
        ARRAY(SELECT n.search_vector FROM new_rows n JOIN old_rows o USING (id)
              WHERE n.search_vector IS DISTINCT FROM o.search_vector),
        ARRAY(SELECT o.search_vector FROM new_rows n JOIN old_rows o USING (id)
              WHERE n.search_vector IS DISTINCT FROM o.search_vector));
    RETURN NULL;
END $$;

CREATE FUNCTION dovos_bm25_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM search_lexeme_stats;
    UPDATE search_corpus_stats SET doc_count = 0, total_length = 0;
    RETURN NULL;
END $$;

CREATE TRIGGER messages_bm25_insert AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION dovos_bm25_on_insert();
CREATE TRIGGER messages_bm25_delete AFTER DELETE ON messages
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION dovos_bm25_on_delete();
CREATE TRIGGER messages_bm25_update AFTER UPDATE ON messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION dovos_bm25_on_update();
CREATE TRIGGER messages_bm25_truncate AFTER TRUNCATE ON messages
    FOR EACH STATEMENT EXECUTE FUNCTION dovos_bm25_on_truncate();
"""

DOWNGRADE = """
DROP TRIGGER IF EXISTS messages_bm25_truncate ON messages;
DROP TRIGGER IF EXISTS messages_bm25_update ON messages;
DROP TRIGGER IF EXISTS messages_bm25_delete ON messages;
DROP TRIGGER IF EXISTS messages_bm25_insert ON messages;
DROP FUNCTION IF EXISTS dovos_bm25_on_truncate();
DROP FUNCTION IF EXISTS dovos_bm25_on_update();
DROP FUNCTION IF EXISTS dovos_bm25_on_delete();
DROP FUNCTION IF EXISTS dovos_bm25_on_insert();
DROP FUNCTION IF EXISTS dovos_bm25_apply(tsvector[], tsvector[]);
DROP TABLE IF EXISTS search_corpus_stats;
DROP TABLE IF EXISTS search_lexeme_stats;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
