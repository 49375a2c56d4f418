"""What text of a message is embedded: the single place the worker reads it from.

The search service owns this choice, and the worker only calls `fetch_embedding_inputs`,
so changing what is embedded never touches the queue code.

A message is embedded with the end of the turn before it as context: in a chat the
answer often carries none of the words of the question it answers ("Yes, last
Tuesday!"), and the question alone is what a later search describes. Measured on
LoCoMo dev (per-sample, all-MiniLM-L6-v2 exact): recall@10 0.442 for the turn alone,
0.489 with the previous turn; hybrid 0.705 -> 0.720 (see README, "Search").
Only the last PREVIOUS_TURN_CHARS characters of the previous turn are used, so a long
paste before a short reply does not push the reply out of the model's 256-token window.

Because the input depends on two messages, an embedding records both versions: the
message's and its previous turn's (`context_version`, 0 when there is none). An edit of
a turn therefore makes the next turn's embedding stale too (the importer enqueues both).
"""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

import psycopg

PREVIOUS_TURN_CHARS = 500

EMBEDDING_INPUTS_SQL = """
SELECT m.id, m.version, coalesce(p.version, 0),
       coalesce(right(p.content, %(previous_chars)s) || E'\\n', '') || m.content
FROM messages m
LEFT JOIN messages p ON p.conversation_id = m.conversation_id AND p.position = m.position - 1
WHERE m.id = ANY(%(ids)s)
"""

# The messages whose input holds the text of any of the given ones: each message itself
# and the turn after it. An edit of a message makes all of them stale.
DEPENDENT_INPUTS_SQL = """
SELECT DISTINCT n.id, n.version
FROM messages m
JOIN messages n ON n.conversation_id = m.conversation_id
               AND n.position IN (m.position, m.position + 1)
WHERE m.id = ANY(%(ids)s)
"""

# Messages whose embedding by a model is missing or older than their input.
STALE_MESSAGES_SQL = """
SELECT m.id
FROM messages m
LEFT JOIN messages p ON p.conversation_id = m.conversation_id AND p.position = m.position - 1
LEFT JOIN message_embeddings e ON e.message_id = m.id AND e.model = %(model)s
WHERE e.message_id IS NULL
   OR (e.message_version, e.context_version) < (m.version, coalesce(p.version, 0))
ORDER BY m.id
"""


class EmbeddingInput(NamedTuple):
    """The text to embed for one message, and the versions it was read at."""

    message_id: uuid.UUID
    version: int
    context_version: int
    text: str

    @property
    def versions(self) -> tuple[int, int]:
        """Ordered like the stored (message_version, context_version): both only grow."""
        return (self.version, self.context_version)


def fetch_embedding_inputs(
    cursor: psycopg.Cursor[Any], message_ids: list[uuid.UUID]
) -> list[EmbeddingInput]:
    """The input of each message that still exists, read as it is now."""
    cursor.execute(
        EMBEDDING_INPUTS_SQL, {"ids": message_ids, "previous_chars": PREVIOUS_TURN_CHARS}
    )
    return [EmbeddingInput(*row) for row in cursor.fetchall()]


def dependent_inputs(
    cursor: psycopg.Cursor[Any], message_ids: list[uuid.UUID]
) -> list[tuple[uuid.UUID, int]]:
    """(id, version) of every message to re-embed after `message_ids` changed text."""
    if not message_ids:
        return []
    cursor.execute(DEPENDENT_INPUTS_SQL, {"ids": message_ids})
    return [(row[0], row[1]) for row in cursor.fetchall()]


def stale_message_ids(cursor: psycopg.Cursor[Any], model: str) -> list[uuid.UUID]:
    """Messages with no embedding by `model`, or one computed from an older input."""
    cursor.execute(STALE_MESSAGES_SQL, {"model": model})
    return [row[0] for row in cursor.fetchall()]
