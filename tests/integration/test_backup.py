"""Backups on the real embedded server: back up the demo archive (with real embeddings),
restore it into a second, fresh DOVOS_HOME, and find every table's rows and checksum equal;
refuse a non-empty database; a truncated or corrupt file changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dovos.config import Settings
from dovos.db import backup as backups
from dovos.resources import demo_archive_dir

pytestmark = pytest.mark.slow  # a second embedded cluster is initialised (initdb)


@pytest.fixture(scope="module")
def vectors() -> dict[str, str]:
    """The demo messages' vectors by content, encoded once for the module's tests."""
    return {}


@pytest.fixture
def archive(database, embedder, vectors: dict[str, str]):  # type: ignore[no-untyped-def]
    """The demo archive imported, every message embedded by the real model."""
    from dovos.importers.files import import_files

    results = import_files(sorted(demo_archive_dir().rglob("*.json")), database=database,
                           progress=False)
    assert results and all(result.ok for result in results)
    with database.connect() as conn:
        rows = conn.execute("SELECT id, content, version FROM messages ORDER BY id").fetchall()
        missing = sorted({content for _, content, _ in rows} - set(vectors))
        for content, vector in zip(missing, embedder.encode(missing), strict=True):
            vectors[content] = "[" + ",".join(map(str, vector.tolist())) + "]"
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO message_embeddings (message_id, model, embedding, message_version) "
                "VALUES (%s, %s, %s::vector, %s)",
                [(message_id, embedder.name, vectors[content], version)
                 for message_id, content, version in rows],
            )
        conn.commit()
    return database


@pytest.fixture
def fresh_home(tmp_path: Path) -> Iterator[Settings]:
    """Settings naming a second DOVOS_HOME; its embedded server is stopped at the end."""
    settings = Settings(home=tmp_path / "home", database_url=None)
    yield settings
    from dovos.db.embedded import EmbeddedServer

    EmbeddedServer(settings.home).stop(force=True)


def test_round_trip_into_a_fresh_home_has_equal_checksums(
    archive, fresh_home: Settings, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    path = tmp_path / "dovos.dump"
    made = backups.backup(path, progress=False)

    source = backups.verify()
    assert made.tables == source
    assert source["messages"][0] == 208 and source["message_embeddings"][0] == 208
    assert source["conversations"][0] > 0 and source["jobs"][0] > 0
    manifest = json.loads(backups.manifest_path_for(path).read_text())
    assert manifest["bytes"] == path.stat().st_size
    assert {name: (entry["rows"], entry["checksum"]) for name, entry in
            manifest["tables"].items()} == source
    assert not list(tmp_path.glob(".*partial*"))  # no temporary file left behind

    restored = backups.restore(path, fresh_home, progress=False)

    assert restored.verified
    assert restored.tables == source == backups.verify(fresh_home)
    assert restored.revision == made.revision is not None
    assert "verified: every table matches the manifest" in restored.format()


def test_restore_refuses_a_database_that_is_not_empty(
    archive, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    path = tmp_path / "dovos.dump"
    backups.backup(path, progress=False)
    before = backups.verify()

    with pytest.raises(backups.DatabaseNotEmptyError, match=r"not empty .*--force"):
        backups.restore(path, progress=False)
    assert backups.verify() == before

    done = subprocess.run(
        [sys.executable, "-m", "dovos.cli", "db", "restore", str(path), "--no-progress"],
        capture_output=True, text=True, timeout=300, env=dict(os.environ), check=False,
    )
    assert done.returncode == 1
    assert "is not empty" in done.stderr and "--force" in done.stderr
    assert "Traceback" not in done.stderr


def test_forced_restore_of_a_truncated_file_changes_nothing(
    archive, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    """With its manifest, the file is refused before the database is touched; without
    it, pg_restore fails half-way and its single transaction leaves every table as it was."""
    path = tmp_path / "dovos.dump"
    backups.backup(path, progress=False)
    before = backups.verify()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])

    with pytest.raises(backups.BackupError, match="truncated or corrupt"):
        backups.restore(path, force=True, progress=False)
    assert backups.verify() == before

    backups.manifest_path_for(path).unlink()
    with pytest.raises(backups.BackupError, match="left as it was"):
        backups.restore(path, force=True, progress=False)
    assert backups.verify() == before


def test_a_file_that_is_no_backup_is_a_clear_error(
    database, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    path = tmp_path / "notes.dump"
    path.write_text("not a dump\n" * 50)
    with pytest.raises(backups.BackupError, match="not a readable pg_dump custom-format archive"):
        backups.restore(path, progress=False)
    with pytest.raises(backups.BackupError, match="no such backup file"):
        backups.restore(tmp_path / "missing.dump", progress=False)


def test_cli_backup_prints_the_checksums_it_verified(
    archive, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    path = tmp_path / "cli.dump"
    done = subprocess.run(
        [sys.executable, "-m", "dovos.cli", "db", "backup", str(path), "--json"],
        capture_output=True, text=True, timeout=300, env=dict(os.environ), check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert Path(report["path"]) == path and path.is_file()
    assert {name: (entry["rows"], entry["checksum"]) for name, entry in
            report["tables"].items()} == backups.verify()
