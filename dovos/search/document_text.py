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
200 rather than 500 (recipe 2): on LoCoMo dev, leave-one-sample-out, hybrid nDCG@10
0.537 -> 0.551 (p < 0.001, chosen in 6 of 6 folds), vector nDCG@10 +0.017 (see
docs/generalization.md): the end of the question carries what the reply answers, the
start of a long turn mostly other things.

EMBEDDING_RECIPE numbers this choice. Every embedding records the recipe it was
computed with (migration 0008), and one of an older recipe is stale: the worker
re-embeds it and the upsert lets the newer recipe replace it; until then the old vector
keeps serving search. **Bump EMBEDDING_RECIPE whenever what is embedded changes** (the
cut, a prefix, the template), and queue the archive for it (a migration like 0008
does it in the upgrade's transaction; `dovos models add MODEL` queues what is stale for
MODEL).

Because the input depends on two messages, an embedding records both versions too: the
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

from dovos.repositories import jobs, messages
from dovos.repositories.embeddings import Coverage, coverage_of
from dovos.repositories.messages import EmbeddingInput

__all__ = [
    "EMBEDDING_RECIPE",
    "PREVIOUS_TURN_CHARS",
    "EmbeddingInput",
    "coverage",
    "enqueue_stale",
    "fetch_embedding_inputs",
    "stale_message_ids",
]

PREVIOUS_TURN_CHARS = 200
# 1: previous turn cut to 500 characters (every embedding before migration 0008);
# 2: cut to 200.
EMBEDDING_RECIPE = 2


def fetch_embedding_inputs(
    cursor: psycopg.Cursor[Any], message_ids: list[uuid.UUID]
) -> list[EmbeddingInput]:
    """The input of each message that still exists, read as it is now (in the cursor's
    transaction)."""
    return messages.embedding_inputs(cursor.connection, message_ids, PREVIOUS_TURN_CHARS,
                                     EMBEDDING_RECIPE)


def stale_message_ids(cursor: psycopg.Cursor[Any], model: str) -> list[uuid.UUID]:
    """Messages with no embedding by `model`, or one computed from an older input or
    recipe."""
    return messages.stale_for_model(cursor.connection, model, EMBEDDING_RECIPE)


def enqueue_stale(
    connection: psycopg.Connection[Any], model: str, *, progress: Any = None
) -> tuple[int, int]:
    """Queue an embed job for every message whose `model` embedding is missing or stale
    (input or recipe), in the caller's transaction; returns (messages found, jobs added)."""
    return jobs.enqueue_missing_embeddings(connection, model, recipe=EMBEDDING_RECIPE,
                                           progress=progress)


def coverage(connection: psycopg.Connection[Any], model: str) -> Coverage:
    """`model`'s coverage, an embedding of an older recipe counted as stale."""
    return coverage_of(connection, model, EMBEDDING_RECIPE)
