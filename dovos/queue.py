"""The job queue: claim, lease, complete, release, and retry with backoff.

Its statements live with the rest of the `jobs` table's in `dovos.repositories.jobs`;
this module runs them, each in the transaction its step needs, and reads rows by name.

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
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors
from psycopg.rows import class_row, scalar_row

from dovos.repositories import jobs as jobs_sql
from dovos.repositories.jobs import EMBED_MESSAGE, ClaimedJob, FailedJob, Requeued

__all__ = [
    "DEFAULT_KINDS",
    "Backoff",
    "ClaimedJob",
    "FailedJob",
    "IdleState",
    "NotFailedError",
    "RequeueResult",
    "claim",
    "complete",
    "counts",
    "extend_leases",
    "fail",
    "failed_jobs",
    "idle_state",
    "release",
    "retry_failed",
]

DEFAULT_KINDS: tuple[str, ...] = (EMBED_MESSAGE,)

# A concurrent producer may insert a pending job between our check and our update.
REQUEUE_RETRIES = 5


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
    with connection.transaction(), connection.cursor(row_factory=class_row(ClaimedJob)) as cur:
        cur.execute(
            jobs_sql.CLAIM_SQL,
            {"kinds": list(kinds), "limit": limit, "owner": owner, "lease": lease_seconds},
        )
        claimed = cur.fetchall()
    return sorted(claimed, key=lambda job: job.id)


def extend_leases(
    connection: psycopg.Connection[Any], owner: str, *, lease_seconds: float
) -> int:
    """Push back the lease expiry of every job `owner` runs (the heartbeat); returns how many."""
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute(jobs_sql.EXTEND_SQL, {"owner": owner, "lease": lease_seconds})
        return cursor.rowcount


def complete(cursor: psycopg.Cursor[Any], owner: str, job_ids: Sequence[int]) -> int:
    """Mark `owner`'s running jobs completed; runs in the caller's transaction (with the
    writes the jobs produced), and skips jobs whose lease another worker has taken."""
    if not job_ids:
        return 0
    cursor.execute(jobs_sql.COMPLETE_SQL, {"ids": list(job_ids), "owner": owner})
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

    def statement(cursor: psycopg.Cursor[Requeued]) -> list[Requeued]:
        return cursor.execute(jobs_sql.REQUEUE_SQL, params).fetchall()

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

    def statement(cursor: psycopg.Cursor[Requeued]) -> list[Requeued]:
        if ids is not None:
            with cursor.connection.cursor(row_factory=scalar_row) as lock:
                locked = lock.execute(jobs_sql.LOCK_FAILED_SQL, {"ids": ids}).fetchall()
            missing = sorted(set(ids) - set(locked))
            if missing:
                raise NotFailedError(
                    "not failed jobs (unknown, or not in status failed): "
                    + ", ".join(str(job_id) for job_id in missing)
                )
        return cursor.execute(jobs_sql.RETRY_FAILED_SQL, {"ids": ids}).fetchall()

    return _requeue_result(_retry_on_conflict(connection, statement))


def _retry_on_conflict(
    connection: psycopg.Connection[Any],
    statement: Callable[[psycopg.Cursor[Requeued]], list[Requeued]],
) -> list[Requeued]:
    """Run `statement` in its own transaction, again if a producer raced it on the unique
    key (the next attempt sees the producer's pending job and supersedes instead)."""
    for attempt in range(REQUEUE_RETRIES):
        try:
            with connection.transaction(), \
                    connection.cursor(row_factory=class_row(Requeued)) as cursor:
                return statement(cursor)
        except errors.UniqueViolation:
            if attempt == REQUEUE_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def _requeue_result(rows: list[Requeued]) -> RequeueResult:
    by_status: dict[str, list[int]] = {"pending": [], "failed": [], "completed": []}
    for row in rows:
        by_status[row.status].append(row.id)
    return RequeueResult(
        sorted(by_status["pending"]), sorted(by_status["failed"]), sorted(by_status["completed"])
    )


def idle_state(
    connection: psycopg.Connection[Any], kinds: Sequence[str] = DEFAULT_KINDS
) -> IdleState:
    """How many jobs are pending or running, and when the next one becomes claimable
    (a backoff ends or a lease expires); a worker with nothing to claim sleeps that long."""
    with connection.transaction(), connection.cursor(row_factory=class_row(IdleState)) as cur:
        state = cur.execute(jobs_sql.IDLE_SQL, {"kinds": list(kinds)}).fetchone()
    return state or IdleState(0, None)


def counts(connection: psycopg.Connection[Any]) -> dict[str, int]:
    """Jobs per status, every status present."""
    with connection.transaction():
        return jobs_sql.counts(connection)


def failed_jobs(connection: psycopg.Connection[Any], limit: int = 20) -> list[FailedJob]:
    """The most recently failed jobs, with their last error."""
    with connection.transaction(), connection.cursor(row_factory=class_row(FailedJob)) as cur:
        return cur.execute(jobs_sql.FAILED_SQL, {"limit": limit}).fetchall()
