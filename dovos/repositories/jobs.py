"""The job queue as seen by producers (enqueue) and by readers (counts).

Operator actions (list and retry failed jobs) and everything the worker does live in
`dovos.queue`, which keeps the one-pending-job-per-message rule when it requeues.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from dovos.db.models import JOB_STATUSES, Job

EMBED_MESSAGE = "embed_message"


def embed_dedupe_key(message_id: object) -> str:
    """The key that allows at most one pending embed job per message."""
    return f"{EMBED_MESSAGE}:{message_id}"


class JobRepository:
    """Enqueue jobs and count them by status, inside a unit of work."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        dedupe_key: str | None = None,
        max_attempts: int = 5,
        run_after: datetime | None = None,
    ) -> int:
        """Add a job; with a dedupe key, a pending job with that key is updated instead."""
        return int(
            self.session.execute(
                text(
                    "INSERT INTO jobs (kind, payload, dedupe_key, max_attempts, run_after) "
                    "VALUES (:kind, CAST(:payload AS jsonb), :key, :max_attempts, "
                    "        coalesce(:run_after, now())) "
                    "ON CONFLICT (dedupe_key) WHERE status = 'pending' AND dedupe_key IS NOT NULL "
                    "DO UPDATE SET payload = EXCLUDED.payload, run_after = EXCLUDED.run_after "
                    "RETURNING id"
                ),
                {
                    "kind": kind,
                    "payload": _json(payload),
                    "key": dedupe_key,
                    "max_attempts": max_attempts,
                    "run_after": run_after,
                },
            ).scalar_one()
        )

    def get(self, job_id: int) -> Job | None:
        return self.session.get(Job, job_id)

    def counts_by_status(self) -> dict[str, int]:
        """Jobs per status, every status present (zero when none)."""
        rows = self.session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
        counts = dict.fromkeys(JOB_STATUSES, 0)
        counts.update({status: int(count) for status, count in rows})
        return counts

    def live_counts(self) -> dict[str, int]:
        """Pending, running and failed counts only: cheap (partial indexes) at any queue size."""
        row = self.session.execute(
            text(
                "SELECT (SELECT count(*) FROM jobs WHERE status = 'pending') AS pending, "
                "       (SELECT count(*) FROM jobs WHERE status = 'running') AS running, "
                "       (SELECT count(*) FROM jobs WHERE status = 'failed') AS failed"
            )
        ).one()
        return {"pending": row.pending, "running": row.running, "failed": row.failed}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
