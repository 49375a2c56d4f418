"""Cheaper import writes: the BM25 insert trigger reads its new rows directly.

0002's statement trigger after an INSERT into `messages` first gathered every new
row's tsvector into one array (`ARRAY(SELECT search_vector FROM new_rows)`), then
unnested that array twice inside `dovos_bm25_apply` (once for the lexeme counts, once
for the lengths), with an empty `removed` side UNION ALL'ed in. An insert has nothing
to remove, so the insert trigger now aggregates straight from the transition table:
one pass for the lexeme document counts (upserted in lexeme order, as before, so
concurrent writers lock rows in the same order), one for the corpus totals. The
statistics it leaves are identical; updates, deletes and truncates keep 0002's path.

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

UPGRADE = """
CREATE OR REPLACE FUNCTION dovos_bm25_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_lexeme_stats AS s (lexeme, doc_count)
    SELECT t.lexeme, count(*)
    FROM new_rows, unnest(tsvector_to_array(new_rows.search_vector)) AS t(lexeme)
    GROUP BY t.lexeme
    ORDER BY t.lexeme
    ON CONFLICT (lexeme) DO UPDATE SET doc_count = s.doc_count + EXCLUDED.doc_count;

    UPDATE search_corpus_stats SET
        doc_count = doc_count + added.docs,
        total_length = total_length + added.total
    FROM (SELECT count(*) AS docs, coalesce(sum(length(search_vector)), 0) AS total
          FROM new_rows) AS added;
    RETURN NULL;
END $$;
"""

# 0002's body.
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
