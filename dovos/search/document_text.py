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
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

PREVIOUS_TURN_CHARS = 500

EMBEDDING_INPUTS_SQL = """
SELECT m.id, m.version,
       coalesce(right(p.content, %(previous_chars)s) || E'\\n', '') || m.content
FROM messages m
LEFT JOIN messages p ON p.conversation_id = m.conversation_id AND p.position = m.position - 1
WHERE m.id = ANY(%(ids)s)
"""


def fetch_embedding_inputs(
    cursor: psycopg.Cursor[Any], message_ids: list[uuid.UUID]
) -> list[tuple[uuid.UUID, int, str]]:
    """(message id, current version, text to embed) for each message that still exists."""
    cursor.execute(
        EMBEDDING_INPUTS_SQL, {"ids": message_ids, "previous_chars": PREVIOUS_TURN_CHARS}
    )
    return [(row[0], row[1], row[2]) for row in cursor.fetchall()]
