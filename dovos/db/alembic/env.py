"""Alembic environment: run migrations on the Dovos database under an advisory lock.

The lock makes concurrent starts safe: when a notebook, the worker and the API all
start at once, one migrates and the others wait, then find the schema at head.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

MIGRATION_LOCK_ID = 7_330_411  # arbitrary, fixed: pg_advisory_lock key for migrations

config = context.config
# Migrations are written by hand (no autogenerate), so alembic needs no model metadata.
target_metadata = None


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from dovos.db.database import resolve_database_url
    from dovos.db.urls import to_sqlalchemy_url

    return to_sqlalchemy_url(resolve_database_url())


def run_migrations_offline() -> None:
    context.configure(url=_database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_locked(connection)
        return
    engine = create_engine(_database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run_locked(connection)
    engine.dispose()


def _run_locked(connection) -> None:  # type: ignore[no-untyped-def]
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_ID})
    connection.commit()
    try:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_ID})
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
