"""Shared fixtures: one throwaway embedded PostgreSQL per test session, a clean schema
per test, the real embedding model, and the read-only `../shared` folder.

The session's server lives in a temporary DOVOS_HOME and DATABASE_URL is unset, so
every test (and every subprocess a test starts) exercises Dovos' default path: the
embedded server, found through DOVOS_HOME.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from dovos.config import shared_dir
from tests.tables import TABLES

SHARED_DIR = shared_dir()


@pytest.fixture(scope="session")
def dovos_home() -> Iterator[Path]:
    """A temporary DOVOS_HOME holding this session's embedded cluster."""
    home = Path(tempfile.mkdtemp(prefix="dovos-test-"))
    saved = {name: os.environ.get(name) for name in ("DOVOS_HOME", "DATABASE_URL")}
    os.environ["DOVOS_HOME"] = str(home)
    os.environ.pop("DATABASE_URL", None)
    from dovos.config import get_settings

    get_settings.cache_clear()
    yield home
    from dovos.db.embedded import EmbeddedServer

    EmbeddedServer(home).stop(force=True)
    shutil.rmtree(home, ignore_errors=True)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def database_session(dovos_home: Path):  # type: ignore[no-untyped-def]
    """The session's database, started and migrated once."""
    from dovos.db import Database, reset_database

    database = Database.open(application="tests")
    yield database
    reset_database()
    database.close()


@pytest.fixture
def database(database_session):  # type: ignore[no-untyped-def]
    """The migrated database, emptied after the test so each test starts clean."""
    yield database_session
    from sqlalchemy import text

    database_session.engine.dispose()  # drop connections a test left mid-transaction
    with database_session.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real all-MiniLM-L6-v2 embedder, loaded once per session."""
    from dovos.embeddings import get_embedder

    model = get_embedder()
    model.encode(["warm up"])
    return model


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text of every statement a psycopg cursor sends while the test runs."""
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def recording(self: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", recording)
    return sent


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ../shared folder (fixtures, datasets, contract); skip when absent."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"../shared is not present at {SHARED_DIR} (set DOVOS_SHARED_DIR)")
    return SHARED_DIR


@pytest.fixture(scope="session")
def exports_dir(shared_dir: Path) -> Path:
    path = shared_dir / "fixtures" / "exports"
    if not path.is_dir():
        pytest.skip(f"export fixtures are not present at {path}")
    return path


@pytest.fixture(scope="session")
def legacy_dir(shared_dir: Path) -> Path:
    """The earlier ChromaDB-based version's store (read-only) with its expected.json."""
    path = shared_dir / "fixtures" / "legacy_store"
    if not (path / "chroma_storage" / "chroma.sqlite3").is_file():
        pytest.skip(f"the legacy store fixture is not present at {path}")
    return path


@pytest.fixture
def legacy_store_copy(legacy_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the legacy store's chroma_storage, for tests that alter it."""
    target = tmp_path / "chroma_storage"
    shutil.copytree(legacy_dir / "chroma_storage", target)
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return target


@pytest.fixture(scope="session")
def locomo_path(shared_dir: Path) -> Path:
    path = shared_dir / "datasets" / "locomo" / "locomo10_dev.json"
    if not path.is_file():
        pytest.skip(f"LoCoMo dev file is not present at {path}")
    return path
