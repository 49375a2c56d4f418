"""The import lock: one writer of imported conversations at a time.

An import plans its writes from what is stored (which conversations exist, how many
messages each holds) and then writes them. Two imports of the same export planning at
once would both see a conversation as new and both insert it; the second then fails on
the (source, source_id) unique key. So every ingest transaction takes this lock before
it plans: a transaction-level advisory lock with one fixed key, held until its commit
or rollback (a killed process or a lost connection releases it with the transaction).
The second import waits, then plans against what the first committed, and finds it
unchanged. Nothing else takes the lock: the worker, the API and searches never wait.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import scalar_row

# A fixed 64-bit key: "dovosimp" in ASCII, recognisable in pg_locks (classid 0x646f766f,
# objid 0x73696d70) and unlikely to meet another application's.
IMPORT_LOCK_KEY = 0x646F766F_73696D70

TRY_LOCK_SQL = "SELECT pg_try_advisory_xact_lock(%(key)s)"
LOCK_SQL = "SELECT pg_advisory_xact_lock(%(key)s)"

# Who holds the lock now (for a test or an operator wondering why an import waits).
HOLDERS_SQL = """
SELECT l.pid FROM pg_locks l
WHERE l.locktype = 'advisory' AND l.granted
  AND ((l.classid::bigint << 32) | l.objid::bigint) = %(key)s
"""


def try_lock(connection: psycopg.Connection[Any]) -> bool:
    """Take the import lock for the current transaction if it is free; True if taken."""
    with connection.cursor(row_factory=scalar_row) as cursor:
        return bool(cursor.execute(TRY_LOCK_SQL, {"key": IMPORT_LOCK_KEY}).fetchone())


def lock(connection: psycopg.Connection[Any]) -> None:
    """Wait for the import lock and hold it until the current transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute(LOCK_SQL, {"key": IMPORT_LOCK_KEY})


def holders(connection: psycopg.Connection[Any]) -> list[int]:
    """Backend pids holding the import lock (at most one)."""
    with connection.cursor(row_factory=scalar_row) as cursor:
        return cursor.execute(HOLDERS_SQL, {"key": IMPORT_LOCK_KEY}).fetchall()
