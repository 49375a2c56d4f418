"""The heartbeat thread: extends the leases of the jobs in hand and records the worker.

Every `heartbeat_seconds` it pushes back the lease of every job this worker runs (so a
live worker keeps its jobs however long a claim takes) and upserts the worker's row in
`worker_heartbeats` (`dovos.repositories.heartbeats`), which `dovos jobs` and the API
read. While the database is away it waits for it like every other thread (its `Link`),
and extends the leases as soon as it is back.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg

from dovos import queue
from dovos.db import Database
from dovos.repositories import heartbeats
from dovos.worker.connection import Cancelled, Link


class Heartbeat:
    """Writes one worker's heartbeat; `run` is the periodic thread."""

    def __init__(
        self,
        *,
        worker_id: str,
        host: str,
        heartbeat_seconds: float,
        lease_seconds: float,
        snapshot: Callable[[], dict[str, Any]],
    ) -> None:
        self.worker_id = worker_id
        self.host = host
        self.heartbeat_seconds = heartbeat_seconds
        self.lease_seconds = lease_seconds
        self.snapshot = snapshot
        self.started_at: datetime | None = None

    def beat(self, connection: psycopg.Connection[Any]) -> None:
        """Record the worker as it is now (state, jobs done)."""
        now = self.snapshot()
        heartbeats.record(connection, heartbeats.Beat(
            worker_id=self.worker_id, host=self.host, pid=os.getpid(), state=now["state"],
            jobs_done=now["jobs_done"], heartbeat_seconds=self.heartbeat_seconds,
            started_at=self.started_at, last_beat=datetime.now(UTC),
        ))

    def beat_and_prune(self, database: Database) -> None:
        """A beat on a connection of its own (start and end of a run), also forgetting
        workers silent for a day."""
        with database.connect(autocommit=True) as connection:
            self.beat(connection)
            heartbeats.prune(connection)

    def run(self, link: Link, done: threading.Event) -> None:
        """Until `done`: extend our leases and beat every `heartbeat_seconds`."""
        try:
            while not done.wait(self.heartbeat_seconds):
                link.run(self._tick)
        except Cancelled:
            pass
        finally:
            link.close()

    def _tick(self, connection: psycopg.Connection[Any]) -> None:
        queue.extend_leases(connection, self.worker_id, lease_seconds=self.lease_seconds)
        self.beat(connection)
