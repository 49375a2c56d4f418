"""The `jobs` table: every statement that reads or writes it, producers' and the queue's.

Producers enqueue through one upsert (`ENQUEUE_SQL`) with one rule: a pending job with
the same dedupe key takes the new payload and run time, so a message has at most one
pending embed job (the partial unique index `jobs_pending_dedupe_key_idx`). Messages
created in the same transaction cannot have a pending job yet, so their jobs are
written with COPY (`copy_new_embed_jobs`), the bulk import's fast path.

The queue's state changes (claim, lease, complete, requeue, retry) are the statements
below; `dovos.queue` runs them and explains the job life cycle.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row

EMBED_MESSAGE = "embed_message"
JOB_STATUSES = ("pending", "running", "completed", "failed")


def embed_dedupe_key(message_id: object) -> str:
    """The key that allows at most one pending embed job per message."""
    return f"{EMBED_MESSAGE}:{message_id}"


@dataclass(frozen=True)
class Job:
    """One row of `jobs`, read by name."""

    id: int
    kind: str
    payload: dict[str, Any]
    dedupe_key: str | None
    status: str
    attempts: int
    max_attempts: int
    run_after: datetime
    lease_owner: str | None
    lease_expires_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker now holds a lease on; `attempts` includes this one."""

    id: int
    kind: str
    payload: dict[str, Any]
    dedupe_key: str | None
    attempts: int
    max_attempts: int


@dataclass(frozen=True)
class FailedJob:
    """A job that used up its attempts, with the error of the last one."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    last_error: str | None
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Requeued:
    """One job sent back by a requeue or retry, and the status it ended in."""

    id: int
    status: str


# -- producers ---------------------------------------------------------------------------

ENQUEUE_SQL = """
INSERT INTO jobs (kind, payload, dedupe_key, max_attempts, run_after)
SELECT t.kind, t.payload::jsonb, t.dedupe_key, t.max_attempts, coalesce(t.run_after, now())
FROM unnest(%(kinds)s::text[], %(payloads)s::text[], %(keys)s::text[], %(max_attempts)s::int[],
            %(run_after)s::timestamptz[])
    AS t(kind, payload, dedupe_key, max_attempts, run_after)
ON CONFLICT (dedupe_key) WHERE status = 'pending' AND dedupe_key IS NOT NULL
DO UPDATE SET payload = EXCLUDED.payload, run_after = EXCLUDED.run_after
RETURNING id
"""

COPY_NEW_JOBS_SQL = "COPY jobs (kind, payload, dedupe_key, max_attempts) FROM STDIN"


@dataclass(frozen=True)
class NewJob:
    """A job to enqueue; with a dedupe key, a pending job with that key is updated instead."""

    kind: str
    payload: dict[str, Any]
    dedupe_key: str | None = None
    max_attempts: int = 5
    run_after: datetime | None = None


def enqueue_many(connection: psycopg.Connection[Any], jobs: Sequence[NewJob]) -> list[int]:
    """Enqueue `jobs` in one statement; returns their ids (an updated pending job's id).

    Keys must be distinct within one call (PostgreSQL cannot update a row twice).
    """
    if not jobs:
        return []
    with connection.cursor() as cursor:
        cursor.execute(ENQUEUE_SQL, {
            "kinds": [job.kind for job in jobs],
            "payloads": [_json(job.payload) for job in jobs],
            "keys": [job.dedupe_key for job in jobs],
            "max_attempts": [job.max_attempts for job in jobs],
            "run_after": [job.run_after for job in jobs],
        })
        return [int(row[0]) for row in cursor.fetchall()]


def enqueue(
    connection: psycopg.Connection[Any],
    kind: str,
    payload: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    max_attempts: int = 5,
    run_after: datetime | None = None,
) -> int:
    """Enqueue one job (see `enqueue_many`); returns its id."""
    [job_id] = enqueue_many(
        connection, [NewJob(kind, payload, dedupe_key, max_attempts, run_after)]
    )
    return job_id


def enqueue_embed_jobs(
    connection: psycopg.Connection[Any],
    messages: Sequence[tuple[uuid.UUID, int]],
    *,
    max_attempts: int = 5,
) -> int:
    """One pending embed job per (message id, version); returns how many were written."""
    return len(enqueue_many(connection, [
        NewJob(EMBED_MESSAGE, {"message_id": str(message_id), "version": version},
               embed_dedupe_key(message_id), max_attempts)
        for message_id, version in messages
    ]))


def copy_new_embed_jobs(
    connection: psycopg.Connection[Any], message_ids: Sequence[uuid.UUID], max_attempts: int
) -> int:
    """Embed jobs (version 1) for messages inserted in this same transaction, by COPY.

    Their ids are new, so no pending job can hold their dedupe key and the upsert is not
    needed: COPY is the bulk import's speed.
    """
    if not message_ids:
        return 0
    with connection.cursor() as cursor, cursor.copy(COPY_NEW_JOBS_SQL) as copy:
        for message_id in message_ids:
            copy.write_row((
                EMBED_MESSAGE,
                f'{{"message_id": "{message_id}", "version": 1}}',
                embed_dedupe_key(message_id),
                max_attempts,
            ))
    return len(message_ids)


# Backfill for one model: embed jobs for the next `chunk` messages (by id, after
# `after`) that have no embedding of `model` at their current text, context and recipe. A
# message that has a pending job keeps it (the worker embeds every configured model
# that is stale for it). Returns the last id seen, the messages found, the jobs added.
ENQUEUE_MISSING_EMBEDDINGS_SQL = """
WITH missing AS (
    SELECT m.id, m.version
    FROM messages m
    LEFT JOIN messages p
           ON p.conversation_id = m.conversation_id AND p.position = m.position - 1
    LEFT JOIN message_embeddings e ON e.message_id = m.id AND e.model = %(model)s
    WHERE m.id > %(after)s
      AND (e.message_id IS NULL
           OR (e.recipe, e.message_version, e.context_version)
              < (%(recipe)s, m.version, coalesce(p.version, 0)))
    ORDER BY m.id
    LIMIT %(chunk)s
), added AS (
    INSERT INTO jobs (kind, payload, dedupe_key, max_attempts)
    SELECT 'embed_message',
           jsonb_build_object('message_id', id::text, 'version', version),
           'embed_message:' || id::text, %(max_attempts)s
    FROM missing
    ON CONFLICT (dedupe_key) WHERE status = 'pending' AND dedupe_key IS NOT NULL DO NOTHING
    RETURNING 1
)
SELECT (SELECT id FROM missing ORDER BY id DESC LIMIT 1) AS last_id,
       (SELECT count(*) FROM missing) AS found,
       (SELECT count(*) FROM added) AS added
"""

NIL_UUID = uuid.UUID(int=0)


def enqueue_missing_embeddings(
    connection: psycopg.Connection[Any],
    model: str,
    *,
    recipe: int,
    chunk: int = 10_000,
    max_attempts: int = 5,
    progress: Any = None,
) -> tuple[int, int]:
    """Enqueue an embed job for every message lacking a current `model` embedding (at
    its text, context and `recipe`: `dovos.search.document_text.enqueue_stale`), in
    chunks of `chunk` messages inside the caller's transaction (all or nothing).
    `progress` (a tqdm bar) advances by the messages found. Returns (messages found,
    jobs added); the difference already had a pending job."""
    found = added = 0
    after = NIL_UUID
    with connection.cursor(row_factory=dict_row) as cursor:
        while True:
            row = cursor.execute(ENQUEUE_MISSING_EMBEDDINGS_SQL, {
                "model": model, "recipe": recipe, "after": after, "chunk": chunk,
                "max_attempts": max_attempts,
            }).fetchone()
            if row is None or not row["found"]:
                return found, added
            found += int(row["found"])
            added += int(row["added"])
            after = row["last_id"]
            if progress is not None:
                progress.update(int(row["found"]))


DELETE_EMBED_JOBS_OF_CONVERSATIONS_SQL = """
DELETE FROM jobs
WHERE kind = %(kind)s AND payload->>'message_id' IN (
    SELECT m.id::text FROM messages m JOIN conversations c ON c.id = m.conversation_id
    WHERE c.source_id LIKE %(pattern)s AND (%(source)s::text IS NULL OR c.source = %(source)s))
"""


def delete_embed_jobs_of_conversations(
    connection: psycopg.Connection[Any], source_id_pattern: str, source: str | None = None
) -> int:
    """Delete the embed jobs of the messages of conversations whose source id matches
    `source_id_pattern` (LIKE), e.g. what a benchmark wrote; returns how many."""
    with connection.cursor() as cursor:
        cursor.execute(DELETE_EMBED_JOBS_OF_CONVERSATIONS_SQL, {
            "kind": EMBED_MESSAGE, "pattern": source_id_pattern, "source": source,
        })
        return cursor.rowcount


# -- readers -----------------------------------------------------------------------------

GET_SQL = """
SELECT id, kind, payload, dedupe_key, status, attempts, max_attempts, run_after, lease_owner,
       lease_expires_at, last_error, created_at, updated_at, completed_at
FROM jobs WHERE id = %(id)s
"""

COUNTS_SQL = "SELECT status, count(*) AS n FROM jobs GROUP BY status"

# Each count is served by a partial index: cheap at any queue size.
LIVE_COUNTS_SQL = """
SELECT (SELECT count(*) FROM jobs WHERE status = 'pending') AS pending,
       (SELECT count(*) FROM jobs WHERE status = 'running') AS running,
       (SELECT count(*) FROM jobs WHERE status = 'failed') AS failed
"""


def get(connection: psycopg.Connection[Any], job_id: int) -> Job | None:
    """The job with `job_id`, or None."""
    with connection.cursor(row_factory=class_row(Job)) as cursor:
        return cursor.execute(GET_SQL, {"id": job_id}).fetchone()


def counts(connection: psycopg.Connection[Any]) -> dict[str, int]:
    """Jobs per status, every status present (zero when none)."""
    found = dict.fromkeys(JOB_STATUSES, 0)
    with connection.cursor(row_factory=dict_row) as cursor:
        for row in cursor.execute(COUNTS_SQL):
            found[row["status"]] = int(row["n"])
    return found


def live_counts(connection: psycopg.Connection[Any]) -> dict[str, int]:
    """Pending, running and failed counts only (not completed: that one grows forever)."""
    with connection.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(LIVE_COUNTS_SQL).fetchone()
    assert row is not None
    return {status: int(count) for status, count in row.items()}


# -- the queue (run by dovos.queue) ------------------------------------------------------

# Two arms, each served by its partial index in order; the LIMIT over UNION ALL stops
# pulling (and locking) rows once the batch is full, so expired leases go first and a
# claim reads `limit` index entries, not the whole queue.
CLAIM_SQL = """
WITH expired AS (
    SELECT id FROM jobs
    WHERE status = 'running' AND lease_expires_at < now() AND kind = ANY(%(kinds)s)
    ORDER BY lease_expires_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), due AS (
    SELECT id FROM jobs
    WHERE status = 'pending' AND run_after <= now() AND kind = ANY(%(kinds)s)
    ORDER BY run_after, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT id FROM expired UNION ALL SELECT id FROM due LIMIT %(limit)s
)
UPDATE jobs j
SET status = 'running',
    lease_owner = %(owner)s,
    lease_expires_at = now() + make_interval(secs => %(lease)s),
    attempts = j.attempts + 1
FROM picked
WHERE j.id = picked.id
RETURNING j.id, j.kind, j.payload, j.dedupe_key, j.attempts, j.max_attempts
"""

EXTEND_SQL = """
UPDATE jobs SET lease_expires_at = now() + make_interval(secs => %(lease)s)
WHERE status = 'running' AND lease_owner = %(owner)s
"""

COMPLETE_SQL = """
UPDATE jobs SET status = 'completed', completed_at = now(), lease_expires_at = NULL
WHERE id = ANY(%(ids)s) AND status = 'running' AND lease_owner = %(owner)s
"""

# Back to pending (or failed / superseded): one statement for failures and releases.
# `refund` gives the attempt back (a release is not a failure). A job superseded by a
# pending job with the same key, or by another of the same batch, is completed instead.
REQUEUE_SQL = """
WITH input AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(errors)s::text[], %(delays)s::float8[])
        AS t(id, error, delay)
), target AS (
    SELECT j.id, i.error, i.delay,
           CASE
               WHEN NOT %(refund)s AND j.attempts >= j.max_attempts THEN 'failed'
               WHEN j.dedupe_key IS NOT NULL AND (
                    EXISTS (SELECT 1 FROM jobs p
                            WHERE p.dedupe_key = j.dedupe_key AND p.status = 'pending')
                    OR row_number() OVER (PARTITION BY j.dedupe_key ORDER BY j.id DESC) > 1
               ) THEN 'completed'
               ELSE 'pending'
           END AS status
    FROM jobs j JOIN input i ON i.id = j.id
    WHERE j.status = 'running' AND j.lease_owner = %(owner)s
)
UPDATE jobs j
SET status = t.status,
    attempts = CASE WHEN %(refund)s THEN greatest(j.attempts - 1, 0) ELSE j.attempts END,
    last_error = coalesce(t.error, j.last_error),
    run_after = CASE WHEN t.status = 'pending'
                     THEN now() + make_interval(secs => t.delay) ELSE j.run_after END,
    lease_owner = CASE WHEN t.status = 'pending' THEN NULL ELSE j.lease_owner END,
    lease_expires_at = NULL,
    completed_at = CASE WHEN t.status = 'completed' THEN now() END
FROM target t
WHERE j.id = t.id AND j.status = 'running' AND j.lease_owner = %(owner)s
RETURNING j.id, j.status
"""

# Locks the failed jobs a retry names, so none changes status before the retry.
LOCK_FAILED_SQL = "SELECT id FROM jobs WHERE id = ANY(%(ids)s) AND status = 'failed' FOR UPDATE"

# Failed jobs back to pending with a fresh budget; where several failed jobs (or a
# pending one) share a key, only one stays: the others are superseded.
RETRY_FAILED_SQL = """
WITH candidates AS (
    SELECT j.id,
           j.dedupe_key IS NOT NULL AND (
               EXISTS (SELECT 1 FROM jobs p
                       WHERE p.dedupe_key = j.dedupe_key AND p.status = 'pending')
               OR row_number() OVER (PARTITION BY j.dedupe_key ORDER BY j.id DESC) > 1
           ) AS superseded
    FROM jobs j
    WHERE j.status = 'failed' AND (%(ids)s::bigint[] IS NULL OR j.id = ANY(%(ids)s))
)
UPDATE jobs j
SET status = CASE WHEN c.superseded THEN 'completed' ELSE 'pending' END,
    attempts = CASE WHEN c.superseded THEN j.attempts ELSE 0 END,
    run_after = now(),
    lease_owner = NULL,
    lease_expires_at = NULL,
    completed_at = CASE WHEN c.superseded THEN now() END
FROM candidates c
WHERE j.id = c.id AND j.status = 'failed'
RETURNING j.id, j.status
"""

IDLE_SQL = """
SELECT count(*) AS live,
       extract(epoch FROM min(CASE WHEN status = 'pending' THEN run_after
                                   ELSE lease_expires_at END) - now())::float8
           AS seconds_until_due
FROM jobs
WHERE status IN ('pending', 'running') AND kind = ANY(%(kinds)s)
"""

FAILED_SQL = """
SELECT id, kind, payload, attempts, max_attempts, last_error, updated_at
FROM jobs WHERE status = 'failed' ORDER BY updated_at DESC, id DESC LIMIT %(limit)s
"""


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
