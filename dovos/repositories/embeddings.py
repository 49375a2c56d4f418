"""Message embeddings: the bulk write (the worker and benchmarks), the stored versions
the worker compares against, how much of the archive they cover, and the models they
belong to.

Several models live side by side (migration 0006): `message_embeddings.embedding` has
no fixed dimension, and each model registered in `embedding_models` has its own partial
HNSW index on `embedding::vector(<dimensions>)` `WHERE model = '<model>'`.
`ensure_model` is the one place that registers a model and builds its index (the worker
calls it before it writes a model's first vector, `dovos models add` before a backfill).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import class_row, dict_row
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from dovos.db.models import MessageEmbedding

# -- models -------------------------------------------------------------------------------
# Migration 0006 kept the old index name for the default model.
LEGACY_INDEX_NAMES = {"all-MiniLM-L6-v2": "message_embeddings_hnsw_idx"}
MAX_MODEL_NAME = 200
MAX_DIMENSIONS = 2000  # pgvector's HNSW limit for `vector`

MODEL_SQL = """
SELECT model, dimensions, index_name FROM embedding_models WHERE model = %(model)s
"""
MODELS_SQL = """
SELECT model, dimensions, index_name FROM embedding_models ORDER BY created_at, model
"""
# Two workers meeting a new model at once: the second waits, then finds the row.
LOCK_MODELS_SQL = "SELECT pg_advisory_xact_lock(hashtext('dovos.embedding_models'))"
REGISTER_MODEL_SQL = """
INSERT INTO embedding_models (model, dimensions, index_name)
VALUES (%(model)s, %(dimensions)s, %(index_name)s)
"""
# Identifier and literal are quoted by psycopg.sql; the dimension is an int. The
# expression and predicate are the ones the vector leg uses (dovos/search/sql.py).
CREATE_MODEL_INDEX_SQL = sql.SQL(
    "CREATE INDEX IF NOT EXISTS {index} ON message_embeddings USING hnsw "
    "((embedding::vector({dimensions})) vector_cosine_ops) "
    "WITH (m = 16, ef_construction = 64) WHERE model = {model}"
)

STORED_VERSIONS_SQL = """
SELECT message_id, recipe, message_version, context_version FROM message_embeddings
WHERE model = %(model)s AND message_id = ANY(%(ids)s)
"""

# Never moves an embedding back to an older input (message and context versions only
# grow, so inputs read later compare greater) or an older recipe (a newer recipe of
# what is embedded, `dovos.search.document_text.EMBEDDING_RECIPE`, replaces the old
# vector whatever the versions: until then the old one keeps serving search), and skips
# messages deleted since their text was read (the foreign key would otherwise fail the
# whole batch). Writing the same input twice (a retried write after a lost commit
# acknowledgement) changes nothing.
UPSERT_EMBEDDINGS_SQL = """
INSERT INTO message_embeddings
    (message_id, model, embedding, message_version, context_version, recipe)
SELECT t.id, %(model)s, t.embedding, t.version, t.context_version, t.recipe
FROM unnest(%(ids)s::uuid[], %(embeddings)b::vector[], %(versions)s::int[],
            %(context_versions)s::int[], %(recipes)s::int[])
    AS t(id, embedding, version, context_version, recipe)
WHERE EXISTS (SELECT 1 FROM messages m WHERE m.id = t.id)
ON CONFLICT (message_id, model) DO UPDATE
SET embedding = EXCLUDED.embedding,
    message_version = EXCLUDED.message_version,
    context_version = EXCLUDED.context_version,
    recipe = EXCLUDED.recipe,
    created_at = now()
WHERE (message_embeddings.recipe, message_embeddings.message_version,
       message_embeddings.context_version)
    < (EXCLUDED.recipe, EXCLUDED.message_version, EXCLUDED.context_version)
"""


DELETE_FOR_CONVERSATION_METADATA_SQL = """
DELETE FROM message_embeddings e USING messages m, conversations c
WHERE e.message_id = m.id AND m.conversation_id = c.id AND c.metadata @> %(scope)s::jsonb
"""

COPY_EMBEDDINGS_SQL = (
    "COPY message_embeddings "
    "(message_id, model, embedding, message_version, context_version, recipe) FROM STDIN"
)

# Synthetic vectors for the scale benchmark (encoding a million messages takes hours on
# a CPU): `topics` random centres plus noise, so HNSW sees clustered data, never used for
# quality. Stored at the message's version and the caller's recipe, so coverage counts
# them as current.
INSERT_SYNTHETIC_SQL = """
WITH centres AS (
    SELECT c, ARRAY(SELECT random() - 0.5 FROM generate_series(1, %(dimensions)s)
                    WHERE c >= 0) AS v
    FROM generate_series(0, %(topics)s - 1) AS c
)
INSERT INTO message_embeddings
    (message_id, model, embedding, message_version, context_version, recipe)
SELECT m.id, %(model)s,
       l2_normalize(ARRAY(SELECT centres.v[i] + (random() - 0.5) * 0.6
                          FROM generate_series(1, %(dimensions)s) AS i
                          WHERE m.id IS NOT NULL)::vector),
       m.version, CASE WHEN m.position > 0 THEN 1 ELSE 0 END, %(recipe)s
FROM messages m JOIN centres ON centres.c = abs(hashtext(m.id::text)) %% %(topics)s
"""


def delete_for_conversations_with_metadata(
    connection: psycopg.Connection[Any], scope: dict[str, Any]
) -> int:
    """Drop every embedding of the messages of conversations whose metadata contains
    `scope` (re-embedding one dataset); returns the rows deleted."""
    cursor = connection.execute(DELETE_FOR_CONVERSATION_METADATA_SQL,
                                {"scope": json.dumps(scope)})
    return cursor.rowcount


def copy_embeddings(
    connection: psycopg.Connection[Any],
    rows: Iterable[tuple[uuid.UUID, str, str, int, int]],
    *,
    recipe: int,
) -> None:
    """Bulk-load (message id, model, vector literal, message version, context version)
    rows with COPY, for benchmarks that store vectors they computed themselves. Every row
    is stored under `recipe` (pass `dovos.search.document_text.EMBEDDING_RECIPE`: the
    column's default, 1, would make recipe-aware readers count the rows stale)."""
    with connection.cursor() as cursor, cursor.copy(COPY_EMBEDDINGS_SQL) as copy:
        for row in rows:
            copy.write_row((*row, recipe))


def insert_synthetic(
    connection: psycopg.Connection[Any], model: str, topics: int, dimensions: int = 384,
    *, recipe: int,
) -> int:
    """Give every message a synthetic clustered unit vector under `model` (scale
    benchmark only), stored under `recipe` (as `copy_embeddings`); returns the rows
    written."""
    cursor = connection.execute(INSERT_SYNTHETIC_SQL, {
        "model": model, "topics": topics, "dimensions": dimensions, "recipe": recipe})
    return cursor.rowcount


class EmbeddedInput(Protocol):
    """What an embedding was computed from (`dovos.search.document_text.EmbeddingInput`)."""

    @property
    def message_id(self) -> uuid.UUID: ...
    @property
    def version(self) -> int: ...
    @property
    def context_version(self) -> int: ...
    @property
    def recipe(self) -> int: ...


def upsert_embeddings(
    cursor: psycopg.Cursor[Any],
    model: str,
    inputs: Sequence[EmbeddedInput],
    vectors: Sequence[np.ndarray],
) -> int:
    """Store the embeddings of `inputs` in one statement (newer inputs win); returns the
    rows written. The cursor's connection needs pgvector's types registered
    (`pgvector.psycopg.register_vector`)."""
    if not inputs:
        return 0
    cursor.execute(UPSERT_EMBEDDINGS_SQL, {
        "model": model,
        "ids": [item.message_id for item in inputs],
        "versions": [item.version for item in inputs],
        "context_versions": [item.context_version for item in inputs],
        "recipes": [item.recipe for item in inputs],
        "embeddings": list(vectors),
    })
    return cursor.rowcount


def stored_versions(
    cursor: psycopg.Cursor[Any], model: str, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int, int]]:
    """message id -> (recipe, message version, context version) of its stored `model`
    embedding (ordered like `EmbeddingInput.key`: below it means stale)."""
    with cursor.connection.cursor(row_factory=dict_row) as named:
        named.execute(STORED_VERSIONS_SQL, {"model": model, "ids": list(ids)})
        return {row["message_id"]:
                (row["recipe"], row["message_version"], row["context_version"])
                for row in named.fetchall()}


@dataclass(frozen=True)
class Coverage:
    """Embedding coverage for one model: `stale` rows were embedded from an older version
    of the message or of the turn before it (its context), or, when a recipe was given,
    with an older recipe of what is embedded."""

    model: str
    total: int
    embedded: int
    stale: int

    @property
    def current(self) -> int:
        return self.embedded - self.stale

    @property
    def missing(self) -> int:
        return self.total - self.embedded

    @property
    def percent(self) -> float:
        """Share of messages whose embedding matches their current text and context."""
        return 100.0 * self.current / self.total if self.total else 100.0


class EmbeddingRepository:
    """Reads `message_embeddings` (the worker writes them in bulk)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, message_id: uuid.UUID, model: str) -> MessageEmbedding | None:
        return self.session.get(MessageEmbedding, (message_id, model))

    def count(self, model: str | None = None) -> int:
        query = select(func.count()).select_from(MessageEmbedding)
        if model is not None:
            query = query.where(MessageEmbedding.model == model)
        return int(self.session.scalar(query) or 0)

    def coverage(self, model: str, recipe: int = 0) -> Coverage:
        """`model`'s coverage; an embedding below `recipe` counts as stale (0: versions
        only; `dovos.search.document_text.EMBEDDING_RECIPE` is the code's)."""
        row = self.session.execute(
            text("SELECT model, total, embedded, stale FROM embedding_coverage(:model, :recipe)"),
            {"model": model, "recipe": recipe},
        ).one()
        return Coverage(model=row.model, total=row.total, embedded=row.embedded, stale=row.stale)


# -- models -------------------------------------------------------------------------------
COVERAGE_SQL = """
SELECT model, total, embedded, stale FROM embedding_coverage(%(model)s, %(recipe)s)
"""


def coverage_of(connection: psycopg.Connection[Any], model: str, recipe: int = 0) -> Coverage:
    """`model`'s coverage on a psycopg connection (EmbeddingRepository.coverage's twin);
    an embedding below `recipe` counts as stale (0: versions only)."""
    with connection.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(COVERAGE_SQL, {"model": model, "recipe": recipe}).fetchone()
    return Coverage(model=row["model"], total=int(row["total"]),
                    embedded=int(row["embedded"]), stale=int(row["stale"]))


class ModelDimensionError(ValueError):
    """A model is stored with another dimension than the one asked for."""


@dataclass(frozen=True)
class EmbeddingModel:
    """A model with vectors in `message_embeddings`: its dimension and HNSW index."""

    model: str
    dimensions: int
    index_name: str


def index_name(model: str) -> str:
    """The partial HNSW index of `model`: a fixed-length name (any model name fits in
    PostgreSQL's 63 characters), the old name for the default model."""
    legacy = LEGACY_INDEX_NAMES.get(model)
    if legacy:
        return legacy
    return "message_embeddings_hnsw_" + hashlib.md5(model.encode("utf-8")).hexdigest()[:12]


def check_model(model: str, dimensions: int) -> None:
    """ValueError naming what is wrong with a model name or dimension."""
    if not isinstance(model, str) or not model.strip() or len(model) > MAX_MODEL_NAME:
        raise ValueError(f"embedding model name {model!r} must be 1 to {MAX_MODEL_NAME} characters")
    if isinstance(dimensions, bool) or not isinstance(dimensions, int) \
            or not 1 <= dimensions <= MAX_DIMENSIONS:
        raise ValueError(f"embedding dimensions {dimensions!r} must be an integer from 1 to "
                         f"{MAX_DIMENSIONS} (HNSW's limit)")


def get_model(connection: psycopg.Connection[Any], model: str) -> EmbeddingModel | None:
    """The registered `model`, or None."""
    with connection.cursor(row_factory=class_row(EmbeddingModel)) as cursor:
        return cursor.execute(MODEL_SQL, {"model": model}).fetchone()


def list_models(connection: psycopg.Connection[Any]) -> list[EmbeddingModel]:
    """Every registered model, oldest first."""
    with connection.cursor(row_factory=class_row(EmbeddingModel)) as cursor:
        return cursor.execute(MODELS_SQL).fetchall()


def ensure_model(connection: psycopg.Connection[Any], model: str, dimensions: int) -> bool:
    """Register `model` and build its partial HNSW index if it has none, in one
    transaction (a no-op for a known model). Returns True when it was new.

    ModelDimensionError when the model is registered with another dimension: its stored
    vectors could not share an index with the new ones."""
    check_model(model, dimensions)
    known = get_model(connection, model)
    if known is not None:
        _check_dimensions(known, dimensions)
        return False
    with connection.transaction():
        connection.execute(LOCK_MODELS_SQL)
        known = get_model(connection, model)
        if known is not None:
            _check_dimensions(known, dimensions)
            return False
        name = index_name(model)
        connection.execute(REGISTER_MODEL_SQL,
                           {"model": model, "dimensions": dimensions, "index_name": name})
        connection.execute(CREATE_MODEL_INDEX_SQL.format(
            index=sql.Identifier(name), dimensions=sql.Literal(int(dimensions)),
            model=sql.Literal(model)))
    return True


def _check_dimensions(known: EmbeddingModel, dimensions: int) -> None:
    if known.dimensions != dimensions:
        raise ModelDimensionError(
            f"embedding model {known.model!r} is stored with {known.dimensions} dimensions, "
            f"not {dimensions}: store the other one under another name"
        )
