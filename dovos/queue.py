"""The SQL of the job queue: claim, lease, complete, release, and retry with backoff.

Every state change of a job is one parameterized statement over a whole batch, so a
worker pays a handful of round trips per batch, not per job. Leases are measured on the
database clock (`now()`), so workers on several hosts agree on when a lease expired.

A job's life: `pending` --claim--> `running` --complete--> `completed`
                                             --fail-----> `pending` (later, backoff) or `failed`
                                             --release--> `pending` (now, attempt refunded)
A `running` job whose lease expired (its worker died, even by SIGKILL) is claimable
again by the next claim: there is no separate clean-up step.

The unique index `jobs_pending_dedupe_key_idx` allows one *pending* job per dedupe key.
A running job that goes back to pending while a newer pending job with its key exists
would violate it; such a job is marked `completed` instead ("superseded"): the newer job
does the same work on fresher input.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors

from dovos.repositories.jobs import EMBED_MESSAGE

DEFAULT_KINDS: tuple[str, ...] = (EMBED_MESSAGE,)

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
SELECT count(*),
       extract(epoch FROM min(CASE WHEN status = 'pending' THEN run_after
                                   ELSE lease_expires_at END) - now())
FROM jobs
WHERE status IN ('pending', 'running') AND kind = ANY(%(kinds)s)
"""

COUNTS_SQL = "SELECT status, count(*) FROM jobs GROUP BY status"

FAILED_SQL = """
SELECT id, kind, payload, attempts, max_attempts, last_error, updated_at
FROM jobs WHERE status = 'failed' ORDER BY updated_at DESC, id DESC LIMIT %(limit)s
"""

# A concurrent producer may insert a pending job between our check and our update.
REQUEUE_RETRIES = 5


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
class RequeueResult:
    """What became of jobs sent back: retried later, failed for good, or superseded."""

    pending: list[int]
    failed: list[int]
    superseded: list[int]


@dataclass(frozen=True)
class IdleState:
    """Live jobs of the worker's kinds and the seconds until the next one is claimable."""

    live: int
    seconds_until_due: float | None


@dataclass(frozen=True)
class Backoff:
    """Delay before retry `n`: min(cap, base * factor**(n-1)), plus up to `jitter` of it.

    The jitter spreads retries of jobs that failed together (a model or database
    hiccup) so they do not all come back in the same instant.
    """

    base_seconds: float = 2.0
    factor: float = 2.0
    cap_seconds: float = 300.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.base_seconds < 0 or self.cap_seconds < 0:
            raise ValueError("backoff base and cap must be >= 0 seconds")
        if self.factor < 1:
            raise ValueError("backoff factor must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("backoff jitter must be between 0 and 1")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        exponent = min(max(attempt - 1, 0), 64)  # 64 doublings exceed any cap
        raw = min(self.cap_seconds, self.base_seconds * self.factor**exponent)
        return raw * (1.0 + self.jitter * (rng or random).random())


def claim(
    connection: psycopg.Connection[Any],
    owner: str,
    *,
    limit: int,
    lease_seconds: float,
    kinds: Sequence[str] = DEFAULT_KINDS,
) -> list[ClaimedJob]:
    """Lease up to `limit` due jobs (expired leases first) to `owner`, in one statement."""
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute(
            CLAIM_SQL,
            {"kinds": list(kinds), "limit": limit, "owner": owner, "lease": lease_seconds},
        )
        rows = cursor.fetchall()
    return sorted((ClaimedJob(*row) for row in rows), key=lambda job: job.id)


def extend_leases(
    connection: psycopg.Connection[Any], owner: str, *, lease_seconds: float
) -> int:
    """Push back the lease expiry of every job `owner` runs (the heartbeat); returns how many."""
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute(EXTEND_SQL, {"owner": owner, "lease": lease_seconds})
        return cursor.rowcount


def complete(cursor: psycopg.Cursor[Any], owner: str, job_ids: Sequence[int]) -> int:
    """Mark `owner`'s running jobs completed; runs in the caller's transaction (with the
    writes the jobs produced), and skips jobs whose lease another worker has taken."""
    if not job_ids:
        return 0
    cursor.execute(COMPLETE_SQL, {"ids": list(job_ids), "owner": owner})
    return cursor.rowcount


def fail(
    connection: psycopg.Connection[Any],
    owner: str,
    failures: Sequence[tuple[ClaimedJob, str]],
    backoff: Backoff,
) -> RequeueResult:
    """Record failed attempts: back to pending after a backoff, or `failed` when the
    attempts are used up (the error is kept in `last_error` either way)."""
    return _requeue(
        connection,
        owner,
        [job.id for job, _ in failures],
        [error for _, error in failures],
        [backoff.delay(job.attempts) for job, _ in failures],
        refund=False,
    )


def release(
    connection: psycopg.Connection[Any], owner: str, job_ids: Sequence[int]
) -> RequeueResult:
    """Give jobs back untouched (worker stopping): pending now, attempt refunded."""
    return _requeue(
        connection, owner, list(job_ids), [None] * len(job_ids), [0.0] * len(job_ids),
        refund=True,
    )


def _requeue(
    connection: psycopg.Connection[Any],
    owner: str,
    ids: list[int],
    errors_: list[str | None],
    delays: list[float],
    *,
    refund: bool,
) -> RequeueResult:
    if not ids:
        return RequeueResult([], [], [])
    params = {"ids": ids, "errors": errors_, "delays": delays, "owner": owner, "refund": refund}

    def statement(cursor: psycopg.Cursor[Any]) -> list[tuple[Any, ...]]:
        cursor.execute(REQUEUE_SQL, params)
        return cursor.fetchall()

    return _requeue_result(_retry_on_conflict(connection, statement))


class NotFailedError(ValueError):
    """Some job ids given to `retry_failed` are not failed jobs; nothing was changed."""


def retry_failed(
    connection: psycopg.Connection[Any], job_ids: Sequence[int] | None = None
) -> RequeueResult:
    """Requeue failed jobs (all, or those in `job_ids`) with a fresh attempt budget.

    A failed job whose key already has a pending job is superseded (completed) rather
    than requeued, so the one-pending-job-per-key rule holds. Raises NotFailedError,
    changing nothing, when an id in `job_ids` is not a failed job.
    """
    ids = None if job_ids is None else sorted(set(job_ids))

    def statement(cursor: psycopg.Cursor[Any]) -> list[tuple[Any, ...]]:
        if ids is not None:
            cursor.execute(
                "SELECT id FROM jobs WHERE id = ANY(%(ids)s) AND status = 'failed' FOR UPDATE",
                {"ids": ids},
            )
            missing = sorted(set(ids) - {row[0] for row in cursor.fetchall()})
            if missing:
                raise NotFailedError(
                    "not failed jobs (unknown, or not in status failed): "
                    + ", ".join(str(job_id) for job_id in missing)
                )
        cursor.execute(RETRY_FAILED_SQL, {"ids": ids})
        return cursor.fetchall()

    return _requeue_result(_retry_on_conflict(connection, statement))


def _retry_on_conflict(
    connection: psycopg.Connection[Any],
    statement: Callable[[psycopg.Cursor[Any]], list[tuple[Any, ...]]],
) -> list[tuple[Any, ...]]:
    """Run `statement` in its own transaction, again if a producer raced it on the unique
    key (the next attempt sees the producer's pending job and supersedes instead)."""
    for attempt in range(REQUEUE_RETRIES):
        try:
            with connection.transaction(), connection.cursor() as cursor:
                return statement(cursor)
        except errors.UniqueViolation:
            if attempt == REQUEUE_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def _requeue_result(rows: list[tuple[Any, ...]]) -> RequeueResult:
    by_status: dict[str, list[int]] = {"pending": [], "failed": [], "completed": []}
    for job_id, status in rows:
        by_status[status].append(job_id)
    return RequeueResult(
        sorted(by_status["pending"]), sorted(by_status["failed"]), sorted(by_status["completed"])
    )


def idle_state(
    connection: psycopg.Connection[Any], kinds: Sequence[str] = DEFAULT_KINDS
) -> IdleState:
    """How many jobs are pending or running, and when the next one becomes claimable
    (a backoff ends or a lease expires); a worker with nothing to claim sleeps that long."""
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute(IDLE_SQL, {"kinds": list(kinds)})
        live, seconds = cursor.fetchone() or (0, None)
    return IdleState(int(live), None if seconds is None else float(seconds))


def counts(connection: psycopg.Connection[Any]) -> dict[str, int]:
    """Jobs per status, every status present."""
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute(COUNTS_SQL)
        found = dict(cursor.fetchall())
    return {status: int(found.get(status, 0))
            for status in ("pending", "running", "completed", "failed")}


def failed_jobs(connection: psycopg.Connection[Any], limit: int = 20) -> list[FailedJob]:
    """The most recently failed jobs, with their last error."""
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute(FAILED_SQL, {"limit": limit})
        return [FailedJob(*row) for row in cursor.fetchall()]
