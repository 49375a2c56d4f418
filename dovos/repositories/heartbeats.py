"""Worker heartbeats: the `worker_heartbeats` table, written by workers, read by reports.

Each running worker upserts its row every few seconds (`record`); `dovos jobs`, `dovos
worker status` and the API's health route read them all (`worker_heartbeats`). A row's
age comes from `updated_at`, which the database sets on every write, so hosts need not
agree on the time. Rows of workers silent for a day are pruned when a worker starts or
stops (`prune`).

This module holds every statement on the table, and needs nothing from the worker, so the
API can report on workers without importing it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy import text

if TYPE_CHECKING:
    from dovos.db import Database

DEFAULT_HEARTBEAT_SECONDS = 5.0
# A heartbeat older than this many intervals means the worker is gone.
ALIVE_INTERVALS = 3
RETENTION = "1 day"

RECORD_SQL = """
INSERT INTO worker_heartbeats AS h (worker_id, host, pid, state, jobs_done,
                                    heartbeat_seconds, started_at, last_beat, updated_at)
VALUES (%(worker_id)s, %(host)s, %(pid)s, %(state)s, %(jobs_done)s,
        %(heartbeat_seconds)s, %(started_at)s, %(last_beat)s, now())
ON CONFLICT (worker_id) DO UPDATE
SET host = EXCLUDED.host, pid = EXCLUDED.pid, state = EXCLUDED.state,
    jobs_done = EXCLUDED.jobs_done, heartbeat_seconds = EXCLUDED.heartbeat_seconds,
    started_at = EXCLUDED.started_at, last_beat = EXCLUDED.last_beat, updated_at = now()
"""

PRUNE_SQL = """
DELETE FROM worker_heartbeats WHERE updated_at < now() - %(retention)s::interval
"""

READ_SQL = """
SELECT worker_id, host, pid, state, jobs_done, heartbeat_seconds, started_at, last_beat,
       extract(epoch FROM now() - updated_at)::float8 AS age_seconds
FROM worker_heartbeats ORDER BY worker_id
"""


@dataclass(frozen=True)
class Beat:
    """What a worker writes about itself on each heartbeat."""

    worker_id: str
    host: str
    pid: int
    state: str
    jobs_done: int
    heartbeat_seconds: float
    started_at: datetime | None
    last_beat: datetime | None


@dataclass(frozen=True)
class WorkerHeartbeat:
    """A worker as its last heartbeat recorded it; `alive` if that beat is recent."""

    worker_id: str
    host: str
    pid: int
    started_at: str
    last_beat: str
    jobs_done: int
    state: str
    heartbeat_seconds: float
    age_seconds: float
    alive: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def record(connection: psycopg.Connection[Any], beat: Beat) -> None:
    """Upsert `beat` as its worker's row (in the connection's transaction, if any)."""
    connection.execute(RECORD_SQL, asdict(beat))


def prune(connection: psycopg.Connection[Any], retention: str = RETENTION) -> int:
    """Forget workers silent for longer than `retention` (a PostgreSQL interval)."""
    cursor = connection.execute(PRUNE_SQL, {"retention": retention})
    return cursor.rowcount


def worker_heartbeats(database: Database | None = None) -> list[WorkerHeartbeat]:
    """Every worker's last heartbeat; `alive` when it beat within a few intervals and has
    not stopped. Ages come from the database clock."""
    if database is None:
        from dovos.db import get_database

        database = get_database()
    with database.engine.connect() as connection:
        rows = connection.execute(text(READ_SQL)).mappings().all()
    return [_heartbeat(row) for row in rows]


def _heartbeat(row: Any) -> WorkerHeartbeat:
    interval = float(row["heartbeat_seconds"] or DEFAULT_HEARTBEAT_SECONDS)
    age = float(row["age_seconds"])
    return WorkerHeartbeat(
        worker_id=row["worker_id"],
        host=row["host"],
        pid=int(row["pid"]),
        started_at=_iso(row["started_at"]),
        last_beat=_iso(row["last_beat"]),
        jobs_done=int(row["jobs_done"]),
        state=row["state"],
        heartbeat_seconds=interval,
        age_seconds=round(age, 3),
        alive=row["state"] != "stopped" and age <= ALIVE_INTERVALS * interval,
    )


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment is not None else ""
