"""The embedded server's memory is sized to the machine (dovos.db.embedded.memory_tuning):
shared_buffers a quarter of physical memory within bounds, DOVOS_SHARED_BUFFERS
overrides it, the setting reaches the server on its first start and again on the next
start of a stopped cluster when it changed, and pg_prewarm's autoprewarm keeps the
buffer list across restarts."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from dovos.db.embedded import (
    SHARED_BUFFERS_ENV,
    SHARED_BUFFERS_MAX_MB,
    SHARED_BUFFERS_MIN_MB,
    EmbeddedServer,
    memory_tuning,
    shared_buffers_mb,
)

GB = 1024**3


def _show(server: EmbeddedServer, name: str) -> str:
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        return str(conn.execute(f"SHOW {name}").fetchone()[0])


@pytest.fixture
def home(tmp_path: Path):  # type: ignore[no-untyped-def]
    yield tmp_path
    EmbeddedServer(tmp_path).stop(force=True)


def test_sizing_rule() -> None:
    none: dict[str, str] = {}
    assert shared_buffers_mb(24 * GB, none) == 6 * 1024
    assert shared_buffers_mb(1 * GB, none) == 256
    assert shared_buffers_mb(256 * 1024**2, none) == SHARED_BUFFERS_MIN_MB
    assert shared_buffers_mb(512 * GB, none) == SHARED_BUFFERS_MAX_MB
    assert shared_buffers_mb(24 * GB, {SHARED_BUFFERS_ENV: "2GB"}) == 2048
    assert shared_buffers_mb(24 * GB, {SHARED_BUFFERS_ENV: " 768MB "}) == 768
    assert shared_buffers_mb(24 * GB, {SHARED_BUFFERS_ENV: ""}) == 6 * 1024  # blank: unset
    tuning = memory_tuning(24 * GB, none)
    assert tuning["shared_buffers"] == "6144MB"
    assert tuning["effective_cache_size"] == "6144MB"  # never below shared_buffers
    assert memory_tuning(4 * GB, none)["effective_cache_size"] == "4096MB"
    assert tuning["shared_preload_libraries"] == "pg_prewarm"


@pytest.mark.parametrize("bad", ["lots", "2 GiB", "-1GB", "8MB"])
def test_a_bad_override_is_named(bad: str) -> None:
    with pytest.raises(ValueError, match=SHARED_BUFFERS_ENV):
        shared_buffers_mb(24 * GB, {SHARED_BUFFERS_ENV: bad})


def test_the_machine_sized_default_reaches_a_new_server(home: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SHARED_BUFFERS_ENV, raising=False)
    server = EmbeddedServer(home)
    server.start()
    expected = memory_tuning()
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        same = conn.execute("SELECT current_setting('shared_buffers')::text, "
                            "pg_size_bytes(current_setting('shared_buffers')) "
                            "= pg_size_bytes(%s)", (expected["shared_buffers"],)).fetchone()
    assert same[1], (same[0], expected)
    assert "pg_prewarm" in _show(server, "shared_preload_libraries")


def test_override_applies_on_the_next_start_and_autoprewarm_keeps_buffers(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SHARED_BUFFERS_ENV, "160MB")
    server = EmbeddedServer(home)
    server.start()
    assert _show(server, "shared_buffers") == "160MB"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE warm AS SELECT g AS n FROM generate_series(1, 50000) g")
        conn.execute("SELECT count(*) FROM warm").fetchone()
    pid = server.pid()
    # A running server is left alone (others may use it): the change waits for a start.
    monkeypatch.setenv(SHARED_BUFFERS_ENV, "192MB")
    server.start()
    assert server.pid() == pid and _show(server, "shared_buffers") == "160MB"
    assert server.stop(force=True)
    assert (home / "pgdata" / "autoprewarm.blocks").stat().st_size > 0  # dumped at shutdown
    server.start()
    assert _show(server, "shared_buffers") == "192MB"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")  # ships with the build
        assert conn.execute("SELECT pg_prewarm('warm')").fetchone()[0] > 0
