"""What text of a message is embedded: the single place the worker reads it from.

The search service owns this choice (e.g. adding the speaker or the previous turn as
context), and the worker only calls `fetch_embedding_inputs`, so changing what is
embedded never touches the queue code.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

EMBEDDING_INPUTS_SQL = """
SELECT m.id, m.version, m.content
FROM messages m
WHERE m.id = ANY(%(ids)s)
"""


def fetch_embedding_inputs(
    cursor: psycopg.Cursor[Any], message_ids: list[uuid.UUID]
) -> list[tuple[uuid.UUID, int, str]]:
    """(message id, current version, text to embed) for each message that still exists."""
    cursor.execute(EMBEDDING_INPUTS_SQL, {"ids": message_ids})
    return [(row[0], row[1], row[2]) for row in cursor.fetchall()]
