"""Database lifecycle as plain Python calls (the same as `dovos db ...`).

    from dovos import db
    db.status()      # starts the embedded server if needed, reports version/extensions/revision
    db.url()         # libpq URL of the database in use
    db.migrate()     # alembic upgrade head
    db.stop()        # stops the embedded server unless another process uses it
"""

from __future__ import annotations

from dovos.config import Settings, get_settings
from dovos.db.database import (
    Database,
    DatabaseStatus,
    ExtensionUnavailableError,
    embedded_server,
    get_database,
    reset_database,
    resolve_database_url,
)
from dovos.db.embedded import DatabaseInUseError, EmbeddedServer
from dovos.db.urls import redact

__all__ = [
    "Database",
    "DatabaseInUseError",
    "DatabaseStatus",
    "EmbeddedServer",
    "ExtensionUnavailableError",
    "get_database",
    "migrate",
    "reset_database",
    "start",
    "status",
    "stop",
    "url",
]


def start(settings: Settings | None = None) -> str:
    """Start the embedded server if needed (or check DATABASE_URL); return a redacted URL."""
    return redact(resolve_database_url(settings))


def url(settings: Settings | None = None) -> str:
    """The libpq URL of the database Dovos uses (starts the embedded server if needed)."""
    return resolve_database_url(settings)


def status(settings: Settings | None = None) -> DatabaseStatus:
    """Open the database (without migrating) and report on it."""
    database = Database.open(settings, migrate=False, application="status")
    try:
        return database.status()
    finally:
        database.close()


def migrate(settings: Settings | None = None, revision: str = "head") -> str | None:
    """Run `alembic upgrade <revision>`; return the revision the database is now at."""
    database = Database.open(settings, migrate=False, application="migrate")
    try:
        database.migrate(revision)
        return database.revision()
    finally:
        database.close()


def stop(settings: Settings | None = None, *, force: bool = False) -> bool:
    """Stop the embedded server; False if it was not running.

    Raises DatabaseInUseError while another process uses it (unless `force`), and
    RuntimeError when DATABASE_URL points at a server Dovos does not manage.
    """
    settings = settings or get_settings()
    if settings.database_url:
        raise RuntimeError("DATABASE_URL is set: Dovos does not start or stop that server")
    reset_database()
    return embedded_server(settings).stop(force=force)
