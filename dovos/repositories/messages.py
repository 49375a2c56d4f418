"""The `messages` table: every statement that writes it, and the reads of its rows.

A message's `version` is bumped by a trigger when its content changes, and its
embedding input is the message with the end of the turn before it (see
`dovos.search.document_text`): so an edit makes two embeddings stale, the message's
and the next turn's. `DEPENDENT_INPUTS_SQL` says which; the import and `update_content`
both enqueue their embed jobs through it, in the transaction of the edit (the outbox).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row, scalar_row

from dovos.repositories import jobs

# The roles the schema's CHECK constraint allows.
ROLES = ("user", "assistant", "system", "tool")

_PROGRESS_EVERY = 2_000  # messages between progress callbacks of `copy_new`


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to insert (ids are made by the caller, so jobs can name them at once)."""

    id: uuid.UUID
    conversation_id: uuid.UUID
    role: str
    content: str
    position: int
    source_message_id: str | None
    metadata_json: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MessageChange:
    """New fields for a stored message (matched to an export turn by position)."""

    id: uuid.UUID
    role: str
    content: str
    source_message_id: str | None
    metadata_json: str


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """What an import compares a parsed turn with."""

    conversation_id: uuid.UUID
    id: uuid.UUID
    role: str
    content: str
    source_message_id: str | None
    metadata: dict[str, Any]


@dataclass(frozen=True)
class MessageVersion:
    """A message id and the version of its content."""

    id: uuid.UUID
    version: int


@dataclass(frozen=True)
class Turn:
    """What a transcript shows of one message."""

    role: str
    content: str
    created_at: datetime


@dataclass(frozen=True)
class EmbeddingInput:
    """The text to embed for one message, the versions it was read at, and the recipe
    (`dovos.search.document_text.EMBEDDING_RECIPE`) that built it."""

    message_id: uuid.UUID
    version: int
    context_version: int
    text: str
    recipe: int

    @property
    def versions(self) -> tuple[int, int]:
        """Ordered like the stored (message_version, context_version): both only grow."""
        return (self.version, self.context_version)

    @property
    def key(self) -> tuple[int, int, int]:
        """Ordered like the stored (recipe, message_version, context_version): an
        embedding below it is stale."""
        return (self.recipe, self.version, self.context_version)


# -- writes ------------------------------------------------------------------------------

COPY_MESSAGES_SQL = (
    "COPY messages (id, conversation_id, role, content, position, source_message_id, "
    "metadata, created_at) FROM STDIN"
)

# One statement for every changed message; returns the versions before and after, so
# the caller knows whose content (not only metadata) changed.
UPDATE_CHANGED_SQL = """
WITH changes AS (
    SELECT * FROM unnest(%(ids)s::uuid[], %(roles)s::text[], %(contents)s::text[],
                         %(source_ids)s::text[], %(metadata)s::jsonb[])
        AS t(id, role, content, source_message_id, metadata)
), before AS (
    SELECT m.id, m.version FROM messages m JOIN changes USING (id)
)
UPDATE messages m
SET role = c.role, content = c.content, source_message_id = c.source_message_id,
    metadata = c.metadata
FROM changes c JOIN before b USING (id)
WHERE m.id = c.id
RETURNING m.id, m.version, b.version AS version_before
"""

UPDATE_CONTENT_SQL = """
WITH before AS (SELECT id, version FROM messages WHERE id = %(id)s)
UPDATE messages m SET content = %(content)s
FROM before b WHERE m.id = b.id
RETURNING m.id, m.version, b.version AS version_before
"""

# The messages whose embedding input holds the text of any of the given ones: each
# message itself and the turn after it.
DEPENDENT_INPUTS_SQL = """
SELECT DISTINCT n.id, n.version
FROM messages m
JOIN messages n ON n.conversation_id = m.conversation_id
               AND n.position IN (m.position, m.position + 1)
WHERE m.id = ANY(%(ids)s)
"""


@dataclass(frozen=True)
class _Updated:
    id: uuid.UUID
    version: int
    version_before: int


def copy_new(
    connection: psycopg.Connection[Any],
    rows: Sequence[NewMessage],
    on_progress: Callable[[int], None] | None = None,
) -> None:
    """Insert new messages by COPY (the import's speed); `on_progress(n)` every few
    thousand rows."""
    if not rows:
        return
    with connection.cursor() as cursor, cursor.copy(COPY_MESSAGES_SQL) as copy:
        for start in range(0, len(rows), _PROGRESS_EVERY):
            chunk = rows[start : start + _PROGRESS_EVERY]
            for m in chunk:
                copy.write_row((m.id, m.conversation_id, m.role, m.content, m.position,
                                m.source_message_id, m.metadata_json, m.created_at))
            if on_progress is not None:
                on_progress(len(chunk))


def update_changed(
    connection: psycopg.Connection[Any], changes: Sequence[MessageChange]
) -> list[uuid.UUID]:
    """Apply `changes` in one statement; return the ids whose content changed (new version)."""
    if not changes:
        return []
    with connection.cursor(row_factory=class_row(_Updated)) as cursor:
        updated = cursor.execute(UPDATE_CHANGED_SQL, {
            "ids": [c.id for c in changes],
            "roles": [c.role for c in changes],
            "contents": [c.content for c in changes],
            "source_ids": [c.source_message_id for c in changes],
            "metadata": [c.metadata_json for c in changes],
        }).fetchall()
    return [row.id for row in updated if row.version != row.version_before]


def dependent_inputs(
    connection: psycopg.Connection[Any], message_ids: Sequence[uuid.UUID]
) -> list[MessageVersion]:
    """Every message to re-embed after `message_ids` changed text, at its version now."""
    if not message_ids:
        return []
    with connection.cursor(row_factory=class_row(MessageVersion)) as cursor:
        return cursor.execute(DEPENDENT_INPUTS_SQL, {"ids": list(message_ids)}).fetchall()


def enqueue_dependent_embed_jobs(
    connection: psycopg.Connection[Any], message_ids: Sequence[uuid.UUID], max_attempts: int = 5
) -> int:
    """Enqueue (upsert) the embed jobs an edit of `message_ids` calls for; returns how many."""
    stale = dependent_inputs(connection, message_ids)
    return jobs.enqueue_embed_jobs(
        connection, [(row.id, row.version) for row in stale], max_attempts=max_attempts
    )


def update_content(
    connection: psycopg.Connection[Any], message_id: uuid.UUID, content: str
) -> int | None:
    """Change a message's text; returns its version (bumped by the trigger if changed),
    or None for an unknown id.

    A change enqueues, in the same transaction (the outbox), the embed jobs it calls
    for: this message's and the next turn's, which is embedded with it as context.
    """
    with connection.cursor(row_factory=class_row(_Updated)) as cursor:
        row = cursor.execute(UPDATE_CONTENT_SQL, {"id": message_id, "content": content}).fetchone()
    if row is None:
        return None
    if row.version != row.version_before:
        enqueue_dependent_embed_jobs(connection, [message_id])
    return row.version


# -- reads -------------------------------------------------------------------------------

FOR_CONVERSATIONS_SQL = """
SELECT conversation_id, id, role, content, source_message_id, metadata
FROM messages WHERE conversation_id = ANY(%(ids)s) ORDER BY conversation_id, position
"""

TURNS_SQL = """
SELECT role, content, created_at FROM messages
WHERE conversation_id = %(id)s ORDER BY position
"""

COUNT_SQL = "SELECT count(*) FROM messages"

EMBEDDING_INPUTS_SQL = """
SELECT m.id AS message_id, m.version, coalesce(p.version, 0) AS context_version,
       coalesce(right(p.content, %(previous_chars)s) || E'\\n', '') || m.content AS text,
       %(recipe)s::int AS recipe
FROM messages m
LEFT JOIN messages p ON p.conversation_id = m.conversation_id AND p.position = m.position - 1
WHERE m.id = ANY(%(ids)s)
"""

# Messages whose embedding by a model is missing, or older than their input or recipe.
STALE_FOR_MODEL_SQL = """
SELECT m.id
FROM messages m
LEFT JOIN messages p ON p.conversation_id = m.conversation_id AND p.position = m.position - 1
LEFT JOIN message_embeddings e ON e.message_id = m.id AND e.model = %(model)s
WHERE e.message_id IS NULL
   OR (e.recipe, e.message_version, e.context_version)
      < (%(recipe)s, m.version, coalesce(p.version, 0))
ORDER BY m.id
"""


@dataclass(frozen=True)
class ContextTurn:
    """A turn near a given message, with its conversation's title and source."""

    id: uuid.UUID
    position: int
    role: str
    created_at: datetime
    content: str
    is_hit: bool
    conversation_id: uuid.UUID
    title: str
    source: str


# The turns from `before` positions before a message to `after` after it.
CONTEXT_SQL = """
SELECT n.id, n.position, n.role, n.created_at, n.content, n.id = m.id AS is_hit,
       c.id AS conversation_id, c.title, c.source
FROM messages m
JOIN conversations c ON c.id = m.conversation_id
JOIN messages n ON n.conversation_id = m.conversation_id
               AND n.position BETWEEN m.position - %(before)s AND m.position + %(after)s
WHERE m.id = %(id)s
ORDER BY n.position
"""


def context(
    connection: psycopg.Connection[Any], message_id: uuid.UUID, before: int, after: int
) -> list[ContextTurn]:
    """The message and the turns around it, in order (empty for an unknown id)."""
    with connection.cursor(row_factory=class_row(ContextTurn)) as cursor:
        return cursor.execute(
            CONTEXT_SQL, {"id": message_id, "before": before, "after": after}
        ).fetchall()


# Messages of the conversations whose metadata contains a JSON object (e.g. a dataset tag).
IN_CONVERSATIONS_WITH_METADATA_SQL = """
SELECT m.id, m.version
FROM messages m JOIN conversations c ON c.id = m.conversation_id
WHERE c.metadata @> %(scope)s::jsonb
"""


def in_conversations_with_metadata(
    connection: psycopg.Connection[Any], scope: dict[str, Any]
) -> list[MessageVersion]:
    """(id, version) of the messages of conversations whose metadata contains `scope`."""
    with connection.cursor(row_factory=class_row(MessageVersion)) as cursor:
        return cursor.execute(
            IN_CONVERSATIONS_WITH_METADATA_SQL, {"scope": json.dumps(scope)}
        ).fetchall()


@dataclass(frozen=True)
class SampledMessage:
    """A message drawn for generated queries: its document id and (the start of) its text."""

    doc: str
    content: str


# User/assistant messages in an order fixed by `seed` (md5 of seed and document id), for
# known-item query generation; the document id is the export's message id when there is one.
SEEDED_SAMPLE_SQL = """
SELECT coalesce(m.source_message_id, m.id::text) AS doc, left(m.content, 20000) AS content
FROM messages m JOIN conversations c ON c.id = m.conversation_id
WHERE m.role IN ('user', 'assistant') AND c.metadata @> %(scope)s::jsonb
ORDER BY md5(%(seed)s || coalesce(m.source_message_id, m.id::text)), m.id
LIMIT %(limit)s
"""

# User turns of 3 to 30 words in the order `seed` fixes (by export id, so the same archive
# and seed draw the same turns in any database): candidate queries to judge.
SEEDED_USER_TURNS_SQL = """
SELECT coalesce(m.source_message_id, m.id::text) AS doc, m.content
FROM messages m
WHERE m.role = 'user'
  AND array_length(regexp_split_to_array(trim(m.content), '\\s+'), 1) BETWEEN 3 AND 30
ORDER BY md5(%(seed)s || coalesce(m.source_message_id, m.id::text)), m.id
LIMIT %(limit)s
"""


@dataclass(frozen=True)
class DocMessage:
    """A message found by its document id (export message id, else its UUID)."""

    doc: str
    message_id: str
    title: str
    role: str
    created_at: datetime
    content: str


BY_DOC_IDS_SQL = """
SELECT coalesce(m.source_message_id, m.id::text) AS doc, m.id::text AS message_id, c.title,
       m.role, m.created_at, left(m.content, %(chars)s) AS content
FROM messages m JOIN conversations c ON c.id = m.conversation_id
WHERE coalesce(m.source_message_id, m.id::text) = ANY(%(docs)s)
"""

EXISTING_DOC_IDS_SQL = """
SELECT source_message_id FROM messages WHERE source_message_id = ANY(%(ids)s)
UNION SELECT id::text FROM messages WHERE id::text = ANY(%(ids)s)
"""


def seeded_user_turns(
    connection: psycopg.Connection[Any], seed: str, limit: int
) -> list[SampledMessage]:
    """Up to `limit` user turns of 3 to 30 words, in the order `seed` fixes."""
    with connection.cursor(row_factory=class_row(SampledMessage)) as cursor:
        return cursor.execute(SEEDED_USER_TURNS_SQL, {"seed": seed, "limit": limit}).fetchall()


def by_doc_ids(
    connection: psycopg.Connection[Any], docs: Sequence[str], chars: int
) -> list[DocMessage]:
    """The messages with these document ids, their text cut to `chars` characters."""
    with connection.cursor(row_factory=class_row(DocMessage)) as cursor:
        return cursor.execute(BY_DOC_IDS_SQL, {"docs": list(docs), "chars": chars}).fetchall()


def existing_doc_ids(connection: psycopg.Connection[Any], ids: Sequence[str]) -> set[str]:
    """Which of `ids` are document ids of stored messages."""
    with connection.cursor(row_factory=scalar_row) as cursor:
        return {str(doc) for doc in cursor.execute(EXISTING_DOC_IDS_SQL, {"ids": list(ids)})}


@dataclass(frozen=True)
class MessageDigest:
    """A stored message's conversation key, role and the sha256 (hex) of its content."""

    source: str
    source_id: str
    role: str
    digest: str


# The messages of the conversations with these keys, in order, as content checksums: what
# an import verifies against the documents it read.
DIGESTS_SQL = """
SELECT c.source, c.source_id, m.role,
       encode(sha256(convert_to(m.content, 'UTF8')), 'hex') AS digest
FROM conversations c
JOIN unnest(%(sources)s::text[], %(source_ids)s::text[]) AS k(source, source_id)
  ON c.source = k.source AND c.source_id = k.source_id
JOIN messages m ON m.conversation_id = c.id
ORDER BY c.source, c.source_id, m.position
"""


def digests(
    connection: psycopg.Connection[Any], keys: Sequence[tuple[str, str]]
) -> list[MessageDigest]:
    """Role and content checksum of every message of these conversations, by position."""
    with connection.cursor(row_factory=class_row(MessageDigest)) as cursor:
        return cursor.execute(DIGESTS_SQL, {
            "sources": [source for source, _ in keys],
            "source_ids": [source_id for _, source_id in keys],
        }).fetchall()


ROLES_PRESENT_SQL = "SELECT DISTINCT role FROM messages ORDER BY role"


def seeded_sample(
    connection: psycopg.Connection[Any], seed: str, limit: int, scope: dict[str, Any]
) -> list[SampledMessage]:
    """Up to `limit` user/assistant messages of conversations whose metadata contains
    `scope`, in the order `seed` fixes."""
    with connection.cursor(row_factory=class_row(SampledMessage)) as cursor:
        return cursor.execute(
            SEEDED_SAMPLE_SQL, {"seed": seed, "limit": limit, "scope": json.dumps(scope)}
        ).fetchall()


def roles_present(connection: psycopg.Connection[Any]) -> list[str]:
    """The roles the archive's messages have."""
    with connection.cursor(row_factory=scalar_row) as cursor:
        return cursor.execute(ROLES_PRESENT_SQL).fetchall()


def for_conversations(
    connection: psycopg.Connection[Any], conversation_ids: Sequence[uuid.UUID]
) -> list[StoredMessage]:
    """The messages of these conversations, by conversation and position."""
    if not conversation_ids:
        return []
    with connection.cursor(row_factory=class_row(StoredMessage)) as cursor:
        return cursor.execute(FOR_CONVERSATIONS_SQL, {"ids": list(conversation_ids)}).fetchall()


def turns(connection: psycopg.Connection[Any], conversation_id: uuid.UUID) -> list[Turn]:
    """A conversation's messages in order, only what a transcript shows (not the tsvector)."""
    with connection.cursor(row_factory=class_row(Turn)) as cursor:
        return cursor.execute(TURNS_SQL, {"id": conversation_id}).fetchall()


def count(connection: psycopg.Connection[Any]) -> int:
    """How many messages the archive holds."""
    with connection.cursor(row_factory=scalar_row) as cursor:
        return int(cursor.execute(COUNT_SQL).fetchone() or 0)


def embedding_inputs(
    connection: psycopg.Connection[Any], message_ids: Sequence[uuid.UUID], previous_chars: int,
    recipe: int,
) -> list[EmbeddingInput]:
    """Each existing message's text with the last `previous_chars` of the turn before it,
    labelled with `recipe` (the number of that choice)."""
    with connection.cursor(row_factory=class_row(EmbeddingInput)) as cursor:
        return cursor.execute(EMBEDDING_INPUTS_SQL, {
            "ids": list(message_ids), "previous_chars": previous_chars, "recipe": recipe,
        }).fetchall()


def stale_for_model(
    connection: psycopg.Connection[Any], model: str, recipe: int
) -> list[uuid.UUID]:
    """Messages with no embedding by `model`, or one computed from an older input or an
    older recipe than `recipe`."""
    with connection.cursor(row_factory=scalar_row) as cursor:
        return cursor.execute(STALE_FOR_MODEL_SQL, {"model": model, "recipe": recipe}).fetchall()
