"""An external DATABASE_URL at an older schema revision: Dovos refuses, names
`dovos db migrate`, runs no DDL, and works once the user has migrated.

The session's embedded server stands in for "someone else's server": a fresh database is
created on it for the test, brought to an older revision, and named by DATABASE_URL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from dovos.config import Settings
from dovos.db import Database, migrations
from dovos.db.migrations import SchemaOutOfDateError
from dovos.db.urls import to_sqlalchemy_url
from dovos.resources import demo_archive_dir

OLDER = "0003"


def _sibling_url(url: str, name: str) -> str:
    """`url` with its database name replaced by `name`."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _revision(url: str) -> str | None:
    engine = create_engine(to_sqlalchemy_url(url))
    try:
        return migrations.current_revision(engine)
    finally:
        engine.dispose()


@pytest.fixture
def external_url(database_session: Database) -> Iterator[str]:
    """A new database on the session's server, not known to Dovos as its own; dropped after."""
    name = f"dovos_external_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_session.url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _sibling_url(database_session.url, name)
    finally:
        with psycopg.connect(database_session.url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _at_revision(url: str, revision: str) -> str:
    engine = create_engine(to_sqlalchemy_url(url))
    try:
        migrations.upgrade(engine, revision)
    finally:
        engine.dispose()
    return url


def _dovos(args: list[str], url: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "DOVOS_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "dovos.cli", *args],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )


def _conversations(url: str) -> int:
    with psycopg.connect(url) as connection:
        return int(connection.execute("SELECT count(*) FROM conversations").fetchone()[0])


def test_open_refuses_an_external_database_at_an_older_revision(
    external_url: str, tmp_path: Path
) -> None:
    url = _at_revision(external_url, OLDER)
    settings = Settings(database_url=url, home=tmp_path / "unused-home")
    with pytest.raises(SchemaOutOfDateError) as refused:
        Database.open(settings)
    message = str(refused.value)
    assert "dovos db migrate" in message and f"revision {OLDER}" in message
    assert migrations.head_revision() in message
    assert _revision(url) == OLDER  # no DDL ran
    assert not (tmp_path / "unused-home").exists()  # and no embedded server was started


def test_open_refuses_an_external_database_without_schema(
    external_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=external_url, home=tmp_path / "unused-home")
    with pytest.raises(SchemaOutOfDateError, match="no Dovos schema yet.*dovos db migrate"):
        Database.open(settings)
    assert _revision(external_url) is None


def test_cli_refuses_until_dovos_db_migrate(external_url: str, tmp_path: Path) -> None:
    url = _at_revision(external_url, OLDER)
    export = demo_archive_dir() / "chatgpt" / "conversations.json"
    home = tmp_path / "home"

    refused = _dovos(["import", "--no-progress", str(export)], url, home)
    assert refused.returncode != 0
    assert "dovos db migrate" in refused.stderr, refused.stderr
    searched = _dovos(["search", "sourdough"], url, home)  # one error line, no traceback
    assert searched.returncode == 1
    assert searched.stderr.startswith("error: ") and "dovos db migrate" in searched.stderr
    assert "Traceback" not in searched.stderr, searched.stderr
    assert _revision(url) == OLDER

    migrated = _dovos(["db", "migrate"], url, home)
    assert migrated.returncode == 0, migrated.stderr
    assert _revision(url) == migrations.head_revision()

    imported = _dovos(["import", "--no-progress", str(export)], url, home)
    assert imported.returncode == 0, imported.stderr
    assert _conversations(url) > 0


def test_the_embedded_server_is_still_migrated_on_first_use(database_session: Any) -> None:
    """The session's server was opened without `dovos db migrate`: Database.open did it."""
    assert database_session.revision() == migrations.head_revision()
