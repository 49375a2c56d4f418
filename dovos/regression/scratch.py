"""Throwaway sibling databases for the benchmarks, on the server Dovos already uses.

BM25 statistics depend on the whole corpus, so quality figures are reproducible only
on an archive that holds exactly the benchmark's data: each phase that writes runs in
a database `<name>_bench...` created next to the user's (never inside it), migrated,
and dropped afterwards. An advisory lock keeps two benchmark runs on one server from
dropping each other's database; a leftover from a killed run is dropped on the next.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from dovos.db import Database
from dovos.db.urls import redact

LOCK_KEY = 0x646F766F73  # "dovos": one benchmark run per server at a time


class ScratchDatabaseError(RuntimeError):
    """A benchmark database cannot be created; the message names server and cause."""


def sibling_url(url: str, name: str) -> str:
    """`url` with its database name replaced by `name`."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def database_name(url: str) -> str:
    return make_url(url).database or "postgres"


@contextmanager
def benchmark_lock(url: str) -> Iterator[None]:
    """Hold a session advisory lock on the server for the whole run, or fail clearly."""
    try:
        conn = psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as error:
        raise ScratchDatabaseError(
            f"cannot connect to {redact(url)}: {str(error).strip().splitlines()[0]}"
        ) from error
    with conn:
        locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
        if not locked or not locked[0]:
            raise ScratchDatabaseError(
                f"another `dovos bench` is running on {redact(url)}; wait for it to finish"
            )
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


@contextmanager
def scratch_database(url: str, suffix: str = "_bench") -> Iterator[Database]:
    """A new, migrated database `<name><suffix>` next to `url`'s; dropped on exit."""
    name = database_name(url) + suffix
    _drop(url, name)
    _create(url, name)
    database = Database(sibling_url(url, name), application="bench")
    try:
        database.check_extensions()
        database.migrate()
        yield database
    finally:
        database.close()
        _wait_for_clients(url, name)
        _drop(url, name)


def _wait_for_clients(url: str, name: str, seconds: float = 3.0) -> None:
    """Give connections still closing (a stopped worker's listener notices within a
    quarter second) time to go, so that DROP ... FORCE cuts off no one mid-sentence."""
    deadline = time.monotonic() + seconds
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
            ).fetchone()
            if not row or not row[0]:
                return
            time.sleep(0.1)


def _create(url: str, name: str) -> None:
    _admin(url, name, sql.SQL("CREATE DATABASE {}"))


def _drop(url: str, name: str) -> None:
    _admin(url, name, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)"))


def _admin(url: str, name: str, statement: sql.SQL) -> None:
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statement.format(sql.Identifier(name)))
    except psycopg.Error as error:
        raise ScratchDatabaseError(
            f"cannot create or drop the benchmark database {name!r} on {redact(url)}: "
            f"{str(error).strip().splitlines()[0]}. The benchmark never writes into your "
            "archive: grant CREATEDB to this role, or point DATABASE_URL at a server "
            "where it may create databases."
        ) from error

