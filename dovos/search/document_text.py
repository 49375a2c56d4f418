"""What text of a message is embedded: the single place the worker reads it from.

The search service owns this choice, and the worker only calls `fetch_embedding_inputs`,
so changing what is embedded never touches the queue code.

A message is embedded with the end of the turn before it as context: in a chat the
answer often carries none of the words of the question it answers ("Yes, last
Tuesday!"), and the question alone is what a later search describes. Measured on
LoCoMo dev (per-sample, all-MiniLM-L6-v2 exact): recall@10 0.442 for the turn alone,
0.489 with the previous turn; hybrid 0.705 -> 0.720 (see docs/search.md).
Only the last PREVIOUS_TURN_CHARS characters of the previous turn are used, so a long
paste before a short reply does not push the reply out of the model's 256-token window.

Because the input depends on two messages, an embedding records both versions: the
message's and its previous turn's (`context_version`, 0 when there is none). An edit of
a turn therefore makes the next turn's embedding stale too: the importer and
`dovos.repositories.messages.update_content` enqueue both (`DEPENDENT_INPUTS_SQL`).
The statements themselves live with the other `messages` reads in
`dovos.repositories.messages`; this module chooses what they read.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from dovos.repositories import messages
from dovos.repositories.messages import EmbeddingInput

__all__ = [
    "PREVIOUS_TURN_CHARS",
    "EmbeddingInput",
    "fetch_embedding_inputs",
    "stale_message_ids",
]

PREVIOUS_TURN_CHARS = 500


def fetch_embedding_inputs(
    cursor: psycopg.Cursor[Any], message_ids: list[uuid.UUID]
) -> list[EmbeddingInput]:
    """The input of each message that still exists, read as it is now (in the cursor's
    transaction)."""
    return messages.embedding_inputs(cursor.connection, message_ids, PREVIOUS_TURN_CHARS)


def stale_message_ids(cursor: psycopg.Cursor[Any], model: str) -> list[uuid.UUID]:
    """Messages with no embedding by `model`, or one computed from an older input."""
    return messages.stale_for_model(cursor.connection, model)
