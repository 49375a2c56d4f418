"""Legacy store import into the real database: every message of expected.json, re-import
adding nothing, the store untouched, export/legacy recognition both ways, search through
the service and the API, and bad stores leaving nothing behind."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dovos.importers import import_files
from dovos.importers.legacy import import_legacy_store
from dovos.importers.legacy import importer as legacy_importer

ZONE = "America/Chicago"


@pytest.fixture(scope="module")
def expected(legacy_dir: Path) -> dict[str, Any]:
    return json.loads((legacy_dir / "expected.json").read_text(encoding="utf-8"))


def _file_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _rows(database: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with database.connect() as connection:
        return connection.execute(sql, params).fetchall()


def _snapshot(database: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "conversations": _rows(database, "SELECT id, title, source, source_id, metadata, "
                                         "updated_at FROM conversations ORDER BY id"),
        "messages": _rows(database, "SELECT id, position, role, content, version, metadata, "
                                    "created_at FROM messages ORDER BY id"),
        "jobs": _rows(database, "SELECT id, payload FROM jobs ORDER BY id"),
    }


def _import(path: Path, database: Any) -> Any:
    return import_legacy_store(path, timezone=ZONE, progress=False, database=database)


def test_every_expected_message_is_stored(
    database: Any, legacy_dir: Path, expected: dict[str, Any]
) -> None:
    before = _file_hashes(legacy_dir)
    result = _import(legacy_dir, database)
    assert result.ok, result.error
    assert _file_hashes(legacy_dir) == before  # the store, byte for byte
    assert (result.documents, result.conversations, result.messages) == (15, 13, 74)
    assert (result.chunk_documents, result.chunked_conversations) == (3, 1)
    assert result.result.conversations_new == 13 and result.result.messages_added == 74
    assert result.result.jobs_enqueued == 74  # one embed job per message
    assert result.verification.ok and result.verification.messages == 74
    assert result.skipped == []
    stored = _rows(database,
                   "SELECT c.metadata -> 'legacy' -> 'chroma_ids', c.title, c.source, "
                   "       m.role, m.content, m.created_at, m.metadata ->> 'legacy_label' "
                   "FROM conversations c JOIN messages m ON m.conversation_id = c.id "
                   "ORDER BY c.created_at, c.id, m.position")
    by_conversation: dict[str, list[tuple[Any, ...]]] = {}
    for chroma_ids, *rest in stored:
        by_conversation.setdefault(json.dumps(chroma_ids), []).append(tuple(rest))
    for want in expected["conversations"]:
        rows = by_conversation[json.dumps(want["chroma_ids"])]
        assert len(rows) == len(want["messages"]), want["title"]
        for (title, source, role, content, created, label), spec in zip(
                rows, want["messages"], strict=True):
            assert title == want["title"]
            assert source == {"docx": "unknown"}.get(want["legacy_source"], want["legacy_source"])
            assert (role, label) == (spec["role"], spec["label"])
            assert len(content) == spec["content_len"]
            assert hashlib.sha256(content.encode()).hexdigest() == spec["content_sha256"]
            if spec["header_ts"]:
                naive = datetime.strptime(spec["header_ts"], "%Y-%m-%d %H:%M:%S")
                assert created == naive.replace(tzinfo=ZoneInfo(spec["header_tz"]))
            else:
                assert created == datetime.fromisoformat(want["earliest_ts"]).replace(
                    tzinfo=ZoneInfo(ZONE))
    chunked = by_conversation[json.dumps([f"claude-chat-0-chunk-{k}" for k in range(3)])]
    assert [hashlib.sha256(r[3].encode()).hexdigest() for r in chunked] == [
        m["content_sha256"] for m in next(c for c in expected["conversations"]
                                          if c["is_chunked"])["messages"]]
    assert _rows(database, "SELECT count(*) FROM jobs WHERE kind = 'embed_message'") == [(74,)]


def test_reimport_adds_nothing(database: Any, legacy_dir: Path) -> None:
    assert _import(legacy_dir, database).ok
    before = _snapshot(database)
    again = _import(legacy_dir / "chroma_storage", database)  # the folder itself this time
    assert again.ok, again.error
    assert again.result.conversations_unchanged == 13
    assert (again.result.conversations_new, again.result.messages_added,
            again.result.messages_changed, again.result.jobs_enqueued) == (0, 0, 0, 0)
    assert again.verification.ok and again.verification.messages == 74
    assert _snapshot(database) == before


def test_store_after_its_exports_is_recognised(
    database: Any, legacy_dir: Path, exports_dir: Path
) -> None:
    exported = import_files([exports_dir / "claude" / "minimal.json",
                             exports_dir / "chatgpt" / "minimal.json"],
                            database=database, progress=False)
    assert all(r.ok for r in exported)
    before = _rows(database, "SELECT id, content, version FROM messages ORDER BY id")
    result = _import(legacy_dir, database)
    assert result.ok, result.error
    skipped = {tuple(s.chroma_ids): s.reason for s in result.skipped}
    assert set(skipped) == {("claude-chat-0",), ("chatgpt-chat-0",)}
    assert all("already in the archive from its original export" in r for r in skipped.values())
    assert result.result.conversations_new == 11
    # The exports' messages are untouched: legacy text never overwrites the full text.
    assert _rows(database, "SELECT id, content, version FROM messages "
                           "WHERE id = ANY(%s) ORDER BY id", [r[0] for r in before]) == before
    assert _rows(database, "SELECT count(*) FROM conversations") == [(13,)]


def test_exports_after_the_store_update_the_same_conversations(
    database: Any, legacy_dir: Path, exports_dir: Path
) -> None:
    assert _import(legacy_dir, database).ok
    exported = import_files([exports_dir / "claude" / "minimal.json"], database=database,
                            progress=False)
    assert exported[0].ok, exported[0].error
    assert exported[0].result.conversations_new == 0  # same (source, source_id): one thread
    assert exported[0].result.conversations_updated == 1
    assert _rows(database, "SELECT count(*) FROM conversations") == [(13,)]


def test_migrated_archive_is_searchable(database: Any, legacy_dir: Path) -> None:
    from fastapi.testclient import TestClient

    from dovos.api.app import create_app
    from dovos.config import get_settings
    from dovos.search.service import SearchService

    assert _import(legacy_dir, database).ok
    response = SearchService(database).search("Volkswagen fuel consumption", mode="lexical", k=3)
    assert response.hits and response.hits[0].conversation_title == "Conversation 1. Web Search"
    pto = SearchService(database).search("PTO balance", mode="lexical", k=3)
    assert pto.hits[0].source == "unknown"
    assert pto.hits[0].conversation_title.startswith("🏖️ HR PTO Balance")
    with TestClient(create_app(database=database, settings=get_settings(), tz=UTC)) as client:
        found = client.get("/api/search", params={"q": "pricing calculator", "n": 3})
        assert found.status_code == 200, found.text
        assert found.json()["results"][0]["title"] == "LLM Pricing Calculator"
        listed = client.get("/api/conversations", params={"limit": 100}).json()
        assert listed["pagination"]["total"] == 13
        docx_id = next(i for i, meta in zip(listed["ids"], listed["metadatas"], strict=True)
                       if meta["title"].endswith(".docx"))
        detail = client.get(f"/api/conversation/{docx_id}")
        assert detail.status_code == 200, detail.text
        assert detail.json()["metadatas"][0]["source"] == "unknown"


def test_bad_stores_write_nothing(legacy_store_copy: Path, database: Any) -> None:
    with sqlite3.connect(legacy_store_copy / "chroma.sqlite3") as connection:
        connection.execute("INSERT INTO migrations VALUES ('metadb', 6, 'x.sql', '', '')")
    connection.close()
    newer = _import(legacy_store_copy, database)
    assert not newer.ok and "metadb migration 6 is newer" in newer.error
    (legacy_store_copy / "chroma.sqlite3").write_bytes(b"\x00garbage" * 512)
    corrupt = _import(legacy_store_copy, database)
    assert not corrupt.ok and "corrupt" in corrupt.error
    assert _rows(database, "SELECT count(*) FROM conversations") == [(0,)]
    assert _rows(database, "SELECT count(*) FROM jobs") == [(0,)]


def test_failed_verification_rolls_the_whole_store_back(
    database: Any, legacy_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = legacy_importer._verify

    def tampered(cursor: Any, conversations: list[Any]) -> Any:
        check = real(cursor, conversations)
        check.mismatches.append("simulated mismatch")
        return check

    monkeypatch.setattr(legacy_importer, "_verify", tampered)
    result = _import(legacy_dir, database)
    assert not result.ok and "simulated mismatch" in result.error
    assert "nothing was written" in result.error
    assert _rows(database, "SELECT count(*) FROM conversations") == [(0,)]
    assert _rows(database, "SELECT count(*) FROM messages") == [(0,)]


def test_unparsable_document_is_imported_whole(legacy_store_copy: Path, database: Any) -> None:
    with sqlite3.connect(legacy_store_copy / "chroma.sqlite3") as connection:
        connection.execute(
            "UPDATE embedding_metadata SET string_value = 'notes without speakers' "
            "WHERE key = 'chroma:document' AND id = (SELECT id FROM embeddings "
            "WHERE embedding_id = 'chatgpt-chat-2')")
    connection.close()
    result = _import(legacy_store_copy, database)
    assert result.ok, result.error
    assert result.messages == 74 - 4 + 1 and result.verification.ok
    assert any("chatgpt-chat-2" in w and "kept whole" in w for w in result.warnings)
    assert _rows(database, "SELECT m.content FROM messages m JOIN conversations c "
                           "ON c.id = m.conversation_id WHERE c.title = 'Conversation 2'") == [
        ("notes without speakers",)]


def test_text_postgresql_cannot_hold_is_repaired_and_counted(legacy_store_copy: Path, database: Any) -> None:
    with sqlite3.connect(legacy_store_copy / "chroma.sqlite3") as connection:
        connection.execute(
            "UPDATE embedding_metadata SET string_value = replace(string_value, "
            "'synonyms for aura', 'synonyms' || char(0) || ' for aura') "
            "WHERE key = 'chroma:document'")
    connection.close()
    result = _import(legacy_store_copy, database)
    assert result.ok, result.error
    assert result.verification.ok and result.verification.repaired == 1
    assert any("NUL" in w and "claude-chat-3" in w for w in result.warnings)
    assert _rows(database, "SELECT count(*) FROM messages WHERE content = 'synonyms for aura'") \
        == [(1,)]


def test_a_1024_dimension_store_imports(legacy_store_copy: Path, database: Any) -> None:
    with sqlite3.connect(legacy_store_copy / "chroma.sqlite3") as connection:
        connection.execute("UPDATE collections SET dimension = 1024")
    connection.close()
    result = _import(legacy_store_copy, database)
    assert result.ok, result.error
    assert result.dimension == 1024 and result.result.messages_added == 74
    assert any("1024-d vectors (BAAI/bge-large-en-v1.5" in note for note in result.notes)


def test_cli_imports_a_store_and_reports(database: Any, legacy_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dovos.cli import app

    runner = CliRunner()
    args = ["import", "--no-progress", "--legacy", str(legacy_dir), "--legacy-timezone", ZONE]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "15 documents -> 13 conversations, 74 messages (3 chunk documents" in first.stdout
    assert "conversations  13 new, 0 updated, 0 unchanged, 0 skipped" in first.stdout
    assert "verified       13 conversations, 74 messages: counts and sha256 match" in first.stdout
    again = runner.invoke(app, [*args, "--json"])
    report = json.loads(again.stdout)
    assert report["ok"] and report["written"]["messages_added"] == 0
    assert report["verification"] == {"ok": True, "conversations": 13, "messages": 74,
                                      "repaired": 0, "mismatches": []}
    bad = runner.invoke(app, ["import", "--no-progress", "--legacy", str(tmp_path)])
    assert bad.exit_code == 1 and "not a legacy Dovos store" in bad.stdout
    zone = runner.invoke(app, [*args[:4], "--legacy-timezone", "Nowhere/Town"])
    assert zone.exit_code == 1 and "time zone 'Nowhere/Town' is unknown" in zone.stdout
    both = runner.invoke(app, [*args, str(legacy_dir / "expected.json")])
    assert both.exit_code == 2 and "not both" in both.stderr
