"""Helpers for fault tests on a real embedded server of their own: a private cluster,
its postmaster's pid (to `kill -9` it), and whether a new postmaster is up."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dovos.config import Settings
from dovos.db import Database


@contextmanager
def private_cluster(application: str = "faults") -> Iterator[Database]:
    """A migrated database on an embedded cluster of its own, stopped and removed after.

    Not under pytest's tmp_path: other pytest sessions reset that tree to mode 0700,
    which the server's system user cannot enter when the tests run as root.
    """
    home = Path(tempfile.mkdtemp(prefix="dovos-faults-"))
    database = Database.open(Settings(home=home, database_url=None), application=application)
    try:
        yield database
    finally:
        database.close()
        if database.embedded is not None:
            database.embedded.stop(force=True)
        shutil.rmtree(home, ignore_errors=True)


def postmaster_pid(database: Database) -> int:
    assert database.embedded is not None
    return int((Path(database.embedded.pgdata) / "postmaster.pid").read_text().split()[0])


def restarted(database: Database, old_pid: int) -> bool:
    """A new postmaster is ready (postmaster.pid may be half-written meanwhile)."""
    assert database.embedded is not None
    try:
        return database.embedded.is_running() and postmaster_pid(database) != old_pid
    except (AssertionError, ValueError, IndexError, OSError):
        return False


def dovos_env(database: Database) -> dict[str, str]:
    """The environment for a `dovos` subprocess working on `database`'s cluster."""
    assert database.embedded is not None
    env = {**os.environ, "DOVOS_HOME": str(database.embedded.home)}
    env.pop("DATABASE_URL", None)
    env.pop("DOVOS_DATABASE_URL", None)
    return env


def dovos_command(*args: str) -> list[str]:
    """The installed console script, as a subprocess argument list."""
    return [str(Path(sys.executable).parent / "dovos"), *args]
