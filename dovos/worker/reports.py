"""Operator reports: what `dovos jobs` / `dovos worker status` print, as plain calls.

    queue_report()      # counts by status, recent failures, worker heartbeats
    retry_failed()      # failed jobs back to pending with a fresh attempt budget
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dovos import queue
from dovos.db import Database, get_database
from dovos.repositories.heartbeats import WorkerHeartbeat, worker_heartbeats


@dataclass(frozen=True)
class QueueReport:
    """What `dovos jobs` shows: counts by status, recent failures, worker heartbeats."""

    counts: dict[str, int]
    failed: list[queue.FailedJob]
    workers: list[WorkerHeartbeat]

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "failed": [job.as_dict() for job in self.failed],
            "workers": [worker.as_dict() for worker in self.workers],
        }


def queue_report(database: Database | None = None, *, failed_limit: int = 20) -> QueueReport:
    """Counts by status, the most recent failed jobs and the worker heartbeats."""
    database = database or get_database()
    with database.connect(autocommit=True) as connection:
        counts = queue.counts(connection)
        failed = queue.failed_jobs(connection, failed_limit)
    return QueueReport(counts, failed, worker_heartbeats(database))


def retry_failed(
    database: Database | None = None, job_ids: Sequence[int] | None = None
) -> queue.RequeueResult:
    """Requeue failed jobs (all, or `job_ids`) with a fresh attempt budget."""
    database = database or get_database()
    with database.connect(autocommit=True) as connection:
        return queue.retry_failed(connection, job_ids)
