"""Worker heartbeats get a table of their own (they were `settings` rows matched by LIKE).

One row per worker, written every few seconds by `dovos.worker` and read by `dovos jobs`
and the API's health route (`dovos.repositories.heartbeats`). `updated_at` is set by the
database on every write, so a heartbeat's age is measured on one clock whatever the
workers' hosts think the time is. Existing heartbeat rows move over (fields that do not
parse are left empty); the downgrade moves them back into `settings`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = r"""
CREATE TABLE worker_heartbeats (
    worker_id         text PRIMARY KEY,
    host              text NOT NULL DEFAULT '',
    pid               integer NOT NULL DEFAULT 0,
    state             text NOT NULL DEFAULT 'unknown',
    jobs_done         bigint NOT NULL DEFAULT 0,
    heartbeat_seconds double precision NOT NULL DEFAULT 5,
    started_at        timestamptz,
    last_beat         timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX worker_heartbeats_updated_at_idx ON worker_heartbeats (updated_at);

WITH moved AS (
    DELETE FROM settings WHERE starts_with(key, 'worker.heartbeat.')
    RETURNING key, value, updated_at
)
INSERT INTO worker_heartbeats (worker_id, host, pid, state, jobs_done, heartbeat_seconds,
                               started_at, last_beat, updated_at)
SELECT coalesce(nullif(value->>'worker_id', ''), substr(key, length('worker.heartbeat.') + 1)),
       coalesce(value->>'host', ''),
       CASE WHEN value->>'pid' ~ '^\d{1,9}$' THEN (value->>'pid')::integer ELSE 0 END,
       coalesce(value->>'state', 'unknown'),
       CASE WHEN value->>'jobs_done' ~ '^\d{1,18}$' THEN (value->>'jobs_done')::bigint ELSE 0 END,
       CASE WHEN value->>'heartbeat_seconds' ~ '^\d+(\.\d+)?$'
            THEN (value->>'heartbeat_seconds')::double precision ELSE 5 END,
       CASE WHEN value->>'started_at' ~ '^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d)?([.]\d+)?([+-]\d\d(:\d\d)?|Z)?$'
            THEN (value->>'started_at')::timestamptz END,
       CASE WHEN value->>'last_beat' ~ '^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d)?([.]\d+)?([+-]\d\d(:\d\d)?|Z)?$'
            THEN (value->>'last_beat')::timestamptz END,
       updated_at
FROM moved
ON CONFLICT (worker_id) DO NOTHING;
"""

DOWNGRADE = """
INSERT INTO settings (key, value, updated_at)
SELECT 'worker.heartbeat.' || worker_id,
       jsonb_build_object(
           'worker_id', worker_id, 'host', host, 'pid', pid, 'state', state,
           'jobs_done', jobs_done, 'heartbeat_seconds', heartbeat_seconds,
           'started_at', to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'),
           'last_beat', to_char(last_beat AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')),
       updated_at
FROM worker_heartbeats
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
DROP TABLE worker_heartbeats;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
