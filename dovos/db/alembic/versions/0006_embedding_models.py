"""Several embedding models side by side: a dimension-free vector column and one
partial HNSW index per model.

`message_embeddings.embedding` was `vector(384)` with one HNSW index over every row, so
only one model of one dimension could be searched. Now the column is `vector` (any
dimension) and each model gets its own partial index on `embedding::vector(<dim>)`
`WHERE model = '<model>'`; a search for one model uses exactly that expression and
predicate, so it reads only its model's index and never ranks another model's vectors
(a bf16 variant `all-MiniLM-L6-v2@bf16` is such another model).

`embedding_models` records each model's dimension and index name; rows are added by
`dovos.repositories.embeddings.ensure_model` (the worker, or `dovos models add`). The
default model keeps the index name `message_embeddings_hnsw_idx`. The downgrade drops
vectors that are not 384-dimensional (the old column cannot hold them).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = r"""
CREATE TABLE embedding_models (
    model      text PRIMARY KEY,
    dimensions integer NOT NULL CHECK (dimensions BETWEEN 1 AND 2000),
    index_name text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
DROP INDEX message_embeddings_hnsw_idx;
ALTER TABLE message_embeddings ALTER COLUMN embedding TYPE vector;
INSERT INTO embedding_models (model, dimensions, index_name)
SELECT model, 384,
       CASE WHEN model = 'all-MiniLM-L6-v2' THEN 'message_embeddings_hnsw_idx'
            ELSE 'message_embeddings_hnsw_' || left(md5(model), 12) END
FROM (SELECT 'all-MiniLM-L6-v2' AS model
      UNION SELECT DISTINCT model FROM message_embeddings) AS models;
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT model, dimensions, index_name FROM embedding_models LOOP
        EXECUTE format(
            'CREATE INDEX %I ON message_embeddings USING hnsw '
            '((embedding::vector(%s)) vector_cosine_ops) '
            'WITH (m = 16, ef_construction = 64) WHERE model = %L',
            r.index_name, r.dimensions, r.model);
    END LOOP;
END
$$;
"""

DOWNGRADE = r"""
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT index_name FROM embedding_models LOOP
        EXECUTE format('DROP INDEX IF EXISTS %I', r.index_name);
    END LOOP;
END
$$;
DELETE FROM message_embeddings WHERE vector_dims(embedding) <> 384;
ALTER TABLE message_embeddings ALTER COLUMN embedding TYPE vector(384);
CREATE INDEX message_embeddings_hnsw_idx ON message_embeddings
    USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
DROP TABLE embedding_models;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
