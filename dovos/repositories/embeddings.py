"""Message embeddings: the bulk write (the worker and benchmarks), the stored versions
the worker compares against, and how much of the archive they cover."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import psycopg
from psycopg.rows import dict_row
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from dovos.db.models import MessageEmbedding

STORED_VERSIONS_SQL = """
SELECT message_id, message_version, context_version FROM message_embeddings
WHERE model = %(model)s AND message_id = ANY(%(ids)s)
"""

# Never moves an embedding back to an older input (message and context versions only
# grow, so inputs read later compare greater), and skips messages deleted since their
# text was read (the foreign key would otherwise fail the whole batch). Writing the same
# input twice (a retried write after a lost commit acknowledgement) changes nothing.
UPSERT_EMBEDDINGS_SQL = """
INSERT INTO message_embeddings (message_id, model, embedding, message_version, context_version)
SELECT t.id, %(model)s, t.embedding, t.version, t.context_version
FROM unnest(%(ids)s::uuid[], %(embeddings)b::vector[], %(versions)s::int[],
            %(context_versions)s::int[])
    AS t(id, embedding, version, context_version)
WHERE EXISTS (SELECT 1 FROM messages m WHERE m.id = t.id)
ON CONFLICT (message_id, model) DO UPDATE
SET embedding = EXCLUDED.embedding,
    message_version = EXCLUDED.message_version,
    context_version = EXCLUDED.context_version,
    created_at = now()
WHERE (message_embeddings.message_version, message_embeddings.context_version)
    < (EXCLUDED.message_version, EXCLUDED.context_version)
"""


DELETE_FOR_CONVERSATION_METADATA_SQL = """
DELETE FROM message_embeddings e USING messages m, conversations c
WHERE e.message_id = m.id AND m.conversation_id = c.id AND c.metadata @> %(scope)s::jsonb
"""

COPY_EMBEDDINGS_SQL = (
    "COPY message_embeddings (message_id, model, embedding, message_version, context_version) "
    "FROM STDIN"
)

# Synthetic vectors for the scale benchmark (encoding a million messages takes hours on
# a CPU): `topics` random centres plus noise, so HNSW sees clustered data, never used for
# quality. Stored at the message's version, so coverage counts them as current.
INSERT_SYNTHETIC_SQL = """
WITH centres AS (
    SELECT c, ARRAY(SELECT random() - 0.5 FROM generate_series(1, %(dimensions)s)
                    WHERE c >= 0) AS v
    FROM generate_series(0, %(topics)s - 1) AS c
)
INSERT INTO message_embeddings (message_id, model, embedding, message_version, context_version)
SELECT m.id, %(model)s,
       l2_normalize(ARRAY(SELECT centres.v[i] + (random() - 0.5) * 0.6
                          FROM generate_series(1, %(dimensions)s) AS i
                          WHERE m.id IS NOT NULL)::vector),
       m.version, CASE WHEN m.position > 0 THEN 1 ELSE 0 END
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
) -> None:
    """Bulk-load (message id, model, vector literal, message version, context version)
    rows with COPY, for benchmarks that store vectors they computed themselves."""
    with connection.cursor() as cursor, cursor.copy(COPY_EMBEDDINGS_SQL) as copy:
        for row in rows:
            copy.write_row(row)


def insert_synthetic(
    connection: psycopg.Connection[Any], model: str, topics: int, dimensions: int = 384
) -> int:
    """Give every message a synthetic clustered unit vector under `model` (scale
    benchmark only); returns the rows written."""
    cursor = connection.execute(INSERT_SYNTHETIC_SQL,
                                {"model": model, "topics": topics, "dimensions": dimensions})
    return cursor.rowcount


class EmbeddedInput(Protocol):
    """What an embedding was computed from (`dovos.search.document_text.EmbeddingInput`)."""

    @property
    def message_id(self) -> uuid.UUID: ...
    @property
    def version(self) -> int: ...
    @property
    def context_version(self) -> int: ...


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
        "embeddings": list(vectors),
    })
    return cursor.rowcount


def stored_versions(
    cursor: psycopg.Cursor[Any], model: str, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """message id -> (message version, context version) of its stored `model` embedding."""
    with cursor.connection.cursor(row_factory=dict_row) as named:
        named.execute(STORED_VERSIONS_SQL, {"model": model, "ids": list(ids)})
        return {row["message_id"]: (row["message_version"], row["context_version"])
                for row in named.fetchall()}


@dataclass(frozen=True)
class Coverage:
    """Embedding coverage for one model: `stale` rows were embedded from an older version
    of the message or of the turn before it (its context)."""

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

    def coverage(self, model: str) -> Coverage:
        row = self.session.execute(
            text("SELECT model, total, embedded, stale FROM embedding_coverage(:model)"),
            {"model": model},
        ).one()
        return Coverage(model=row.model, total=row.total, embedded=row.embedded, stale=row.stale)
