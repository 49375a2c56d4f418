"""The `settings` table: key -> JSON values users tune (search parameters), with provenance."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import class_row, scalar_row
from psycopg.types.json import Jsonb

GET_SQL = "SELECT value FROM settings WHERE key = %(key)s"

SET_SQL = """
INSERT INTO settings (key, value) VALUES (%(key)s, %(value)s)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
"""

DELETE_SQL = "DELETE FROM settings WHERE key = %(key)s"

# `starts_with` rather than LIKE: a key may hold `%` or `_`.
WITH_PREFIX_SQL = """
SELECT key, value FROM settings WHERE starts_with(key, %(prefix)s) ORDER BY key
"""


class _Entry:
    """One (key, value) row."""

    __slots__ = ("key", "value")

    def __init__(self, key: str, value: Any) -> None:
        self.key = key
        self.value = value


def get(connection: psycopg.Connection[Any], key: str, default: Any = None) -> Any:
    """The value stored under `key`, or `default`."""
    with connection.cursor(row_factory=scalar_row) as cursor:
        value = cursor.execute(GET_SQL, {"key": key}).fetchone()
    return default if value is None else value


def set(connection: psycopg.Connection[Any], key: str, value: Any) -> None:
    """Store `value` (any JSON value) under `key`, replacing what was there."""
    with connection.cursor() as cursor:
        cursor.execute(SET_SQL, {"key": key, "value": Jsonb(value)})


def delete(connection: psycopg.Connection[Any], key: str) -> bool:
    """Remove `key`; False when it was not there."""
    with connection.cursor() as cursor:
        return bool(cursor.execute(DELETE_SQL, {"key": key}).rowcount)


def with_prefix(connection: psycopg.Connection[Any], prefix: str) -> dict[str, Any]:
    """All settings whose key starts with `prefix`."""
    with connection.cursor(row_factory=class_row(_Entry)) as cursor:
        return {row.key: row.value for row in cursor.execute(WITH_PREFIX_SQL, {"prefix": prefix})}
