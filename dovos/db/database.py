"""The Dovos database: where it is, how to connect, and whether it is ready.

`Database.open()` resolves the server (DATABASE_URL, or the embedded one, started if
needed), checks that `vector` and `pg_trgm` can be used, and brings the schema to the
newest migration. Everything else (CLI, API, worker, notebooks) works from the object it
returns: a pooled SQLAlchemy engine, pooled psycopg connections (`pooled()`, which
`dovos.repositories.UnitOfWork` wraps in a transaction), and unpooled ones for the
paths that need COPY on their own connection or LISTEN.

Searches may read elsewhere: `search_database()` is the handle on
DOVOS_SEARCH_DATABASE_URL (a streaming replica) when it is set, else the primary. That
handle is read-only by construction (every transaction starts READ ONLY), so a write
sent through it is refused by the server instead of landing on a replica or, through a
misconfigured URL, on the primary behind the operator's back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from dovos.config import Settings, get_settings
from dovos.db import migrations
from dovos.db.embedded import EmbeddedServer
from dovos.db.urls import redact, to_libpq_url, to_sqlalchemy_url

REQUIRED_EXTENSIONS = ("vector", "pg_trgm")


class ExtensionUnavailableError(RuntimeError):
    """The configured server cannot provide an extension Dovos needs."""


def embedded_server(settings: Settings | None = None) -> EmbeddedServer:
    """The embedded server object for these settings (not started)."""
    settings = settings or get_settings()
    return EmbeddedServer(settings.home, settings.database_name)


def resolve_database_url(settings: Settings | None = None) -> str:
    """libpq URL of the database to use, starting the embedded server when needed."""
    settings = settings or get_settings()
    if settings.database_url:
        return to_libpq_url(settings.database_url)
    return embedded_server(settings).start()


@dataclass
class DatabaseStatus:
    """What `dovos db status` reports."""

    url: str
    embedded: bool
    running: bool
    started_now: bool = False
    data_dir: str | None = None
    server_pid: int | None = None
    server_version: str | None = None
    extensions: dict[str, str | None] = field(default_factory=dict)
    revision: str | None = None
    head_revision: str | None = None
    client_connections: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Database:
    """A handle on the Dovos database: engine, sessions, migrations, status."""

    def __init__(
        self,
        url: str,
        settings: Settings | None = None,
        *,
        embedded: EmbeddedServer | None = None,
        application: str = "python",
        read_only: bool = False,
    ) -> None:
        self.url = to_libpq_url(url)
        self.settings = settings or get_settings()
        self.embedded = embedded
        self.read_only = read_only
        self.application_name = f"dovos:{os.getpid()}:{application}"
        self.started_now = False

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        migrate: bool = True,
        application: str = "python",
    ) -> Database:
        """Resolve, start (embedded), check extensions and migrate; return a ready handle."""
        settings = settings or get_settings()
        server = None if settings.database_url else embedded_server(settings)
        was_running = server.is_running() if server else True
        url = resolve_database_url(settings)
        database = cls(url, settings, embedded=server, application=application)
        database.started_now = not was_running
        database.check_extensions()
        if migrate:  # the embedded server only: an external one is never migrated unasked
            migrations.ensure_current(
                database.engine, may_migrate=server is not None, where=redact(url)
            )
        return database

    # -- connections ---------------------------------------------------------------------
    @cached_property
    def engine(self) -> Engine:
        """Pooled SQLAlchemy engine on psycopg 3 (pre-ping: survives server restarts)."""
        return create_engine(
            to_sqlalchemy_url(self.url),
            pool_size=self.settings.pool_size,
            max_overflow=self.settings.max_overflow,
            pool_pre_ping=True,
            connect_args=self._connect_args(),
        )

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        return sessionmaker(self.engine, expire_on_commit=False)

    def _connect_args(self) -> dict[str, Any]:
        # JIT compilation costs more than it saves on short ranking queries.
        options = "-c jit=off"
        if self.read_only:
            options += " -c default_transaction_read_only=on"
        return {"application_name": self.application_name, "options": options}

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection[Any]:
        """A raw psycopg connection (for COPY, LISTEN/NOTIFY); the caller closes it."""
        return psycopg.connect(self.url, autocommit=autocommit, **self._connect_args())

    @contextmanager
    def pooled(self) -> Iterator[psycopg.Connection[Any]]:
        """A psycopg connection from the pool (not autocommit). Whatever is left
        uncommitted when the block ends is rolled back before the connection goes back;
        `dovos.repositories.UnitOfWork` commits for you."""
        with self.engine.connect() as sa_connection:
            connection = sa_connection.connection.driver_connection
            if connection.info.transaction_status != TransactionStatus.IDLE:
                connection.rollback()  # never inherit a transaction from the pool
            try:
                yield connection
            finally:
                if not connection.closed:
                    with suppress(psycopg.Error):  # a broken one is discarded by the pool
                        connection.rollback()

    def close(self) -> None:
        """Close pooled connections (the embedded server keeps running for others)."""
        if "engine" in self.__dict__:
            self.engine.dispose()

    # -- schema ---------------------------------------------------------------------------
    def migrate(self, revision: str = "head") -> None:
        migrations.upgrade(self.engine, revision)

    def downgrade(self, revision: str = "base") -> None:
        migrations.downgrade(self.engine, revision)

    def revision(self) -> str | None:
        return migrations.current_revision(self.engine)

    def check_extensions(self) -> dict[str, str]:
        """Ensure `vector` and `pg_trgm` exist (creating them if allowed); name what fails."""
        with self.engine.connect() as conn:
            available = _required_extensions(conn)
        versions: dict[str, str] = {}
        for name in REQUIRED_EXTENSIONS:
            if name not in available:
                raise ExtensionUnavailableError(
                    f"PostgreSQL at {redact(self.url)} has no '{name}' extension installed on "
                    f"the server (needed: {', '.join(REQUIRED_EXTENSIONS)}). Install it "
                    "(pgvector: https://github.com/pgvector/pgvector) or unset DATABASE_URL "
                    "to use Dovos' embedded PostgreSQL."
                )
            versions[name] = available[name] or self._create_extension(name)
        return versions

    def _create_extension(self, name: str) -> str:
        try:
            with self.engine.begin() as conn:
                conn.execute(text(f'CREATE EXTENSION IF NOT EXISTS "{name}"'))
                return str(
                    conn.execute(
                        text("SELECT extversion FROM pg_extension WHERE extname = :n"), {"n": name}
                    ).scalar_one()
                )
        except Exception as error:  # re-raised with the cause named
            raise ExtensionUnavailableError(
                f"cannot create extension '{name}' in {redact(self.url)}: "
                f"{str(error).splitlines()[0]}. Ask an administrator to run "
                f"CREATE EXTENSION {name}; in that database."
            ) from error

    # -- status ---------------------------------------------------------------------------
    def status(self) -> DatabaseStatus:
        """Server, version, extensions, migration revision and client count."""
        with self.engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
            extensions = _required_extensions(conn)
            clients = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE backend_type = 'client backend' AND datname = current_database()"
                )
            ).scalar_one()
        return DatabaseStatus(
            url=redact(self.url),
            embedded=self.embedded is not None,
            running=True,
            started_now=self.started_now,
            data_dir=str(self.embedded.pgdata) if self.embedded else None,
            server_pid=self.embedded.pid() if self.embedded else None,
            server_version=str(version),
            extensions=extensions,
            revision=self.revision(),
            head_revision=migrations.head_revision(),
            client_connections=int(clients),
        )


_default: Database | None = None
_search_default: Database | None = None


def get_database() -> Database:
    """The process-wide database handle (opened, checked and migrated on first use)."""
    global _default
    if _default is None:
        _default = Database.open()
    return _default


def open_search_database(
    settings: Settings | None = None, *, primary: Database | None = None
) -> Database:
    """The database searches read: a read-only handle on DOVOS_SEARCH_DATABASE_URL when it
    is set (not migrated, never written: the primary's migrations arrive by replication),
    else `primary` (default: the process-wide handle)."""
    settings = settings or get_settings()
    if not settings.search_database_url:
        return primary if primary is not None else get_database()
    return Database(settings.search_database_url, settings, application="search",
                    read_only=True)


def search_database() -> Database:
    """The process-wide search handle (see `open_search_database`)."""
    global _search_default
    if _search_default is None:
        _search_default = open_search_database()
    return _search_default


def reset_database() -> None:
    """Forget the process-wide handles (after settings change, or in tests)."""
    global _default, _search_default
    for handle in (_search_default, _default):
        if handle is not None:
            handle.close()
    _default = _search_default = None


def _required_extensions(conn: Connection) -> dict[str, str | None]:
    """Each required extension the server offers -> its installed version (None: not yet)."""
    return dict(
        conn.execute(
            text(
                "SELECT name, installed_version FROM pg_available_extensions "
                "WHERE name = ANY(:names)"
            ),
            {"names": list(REQUIRED_EXTENSIONS)},
        ).all()
    )
