"""The BM25 statistics insert trigger counts lexemes with one hash aggregate (issue 16).

An import's one backend spent about a fifth of its CPU in the statement trigger of
0002 (`dovos_bm25_on_insert`): it copied every new row's tsvector into an array, then
`dovos_bm25_apply` unnested the array and sorted all lexeme occurrences (about 50 per
message, 250,000 per 5,000-message COPY) to group them. Here the insert trigger reads
the transition table directly and groups the occurrences with a hash aggregate (the
planner knows the transition table's size, so it hashes), then sorts only the distinct
lexemes (a few thousand per batch) before the upsert: the row locks are still taken in
lexeme order, the same order as `dovos_bm25_apply`'s, so concurrent writers still
cannot deadlock. The counts are the same: one per message holding the lexeme
(`tsvector_to_array` lists each lexeme of a vector once), the corpus gains one
document and the vector's length per row. Updates, deletes and truncates keep 0002's
functions.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE OR REPLACE FUNCTION dovos_bm25_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_lexeme_stats AS s (lexeme, doc_count)
    SELECT d.lexeme, d.doc_count
    FROM (
        SELECT t.lexeme, count(*) AS doc_count
        FROM new_rows AS r, unnest(tsvector_to_array(r.search_vector)) AS t(lexeme)
        GROUP BY t.lexeme
    ) AS d
    ORDER BY d.lexeme
    ON CONFLICT (lexeme) DO UPDATE SET doc_count = s.doc_count + EXCLUDED.doc_count;

    UPDATE search_corpus_stats SET
        doc_count = doc_count + a.documents,
        total_length = total_length + coalesce(a.length, 0)
    FROM (SELECT count(*) AS documents, sum(length(search_vector)) AS length FROM new_rows) AS a;
    RETURN NULL;
END $$;
"""

DOWNGRADE = """
CREATE OR REPLACE FUNCTION dovos_bm25_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dovos_bm25_apply(ARRAY(SELECT search_vector FROM new_rows), '{}');
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
