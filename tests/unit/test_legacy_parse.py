"""Legacy store reading and parsing, no database: the fixture against expected.json, and
bad stores made by copying the fixture to tmp_path and altering the copy with sqlite3."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dovos.importers.legacy import (
    LegacyStoreError,
    LegacyTimezoneError,
    read_legacy_store,
)
from dovos.importers.legacy.document import parse_document
from dovos.importers.legacy.times import LegacyClock

ZONE = "America/Chicago"  # the zone the fixture was built in (expected.json says so)


@pytest.fixture(scope="module")
def expected(legacy_dir: Path) -> dict[str, Any]:
    return json.loads((legacy_dir / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def archive(legacy_dir: Path) -> Any:
    return read_legacy_store(legacy_dir, timezone=ZONE)


def alter(store: Path, *statements: str) -> None:
    with sqlite3.connect(store / "chroma.sqlite3") as connection:
        for statement in statements:
            connection.execute(statement)
    connection.close()


def header_time(message: dict[str, Any]) -> datetime:
    naive = datetime.strptime(message["header_ts"], "%Y-%m-%d %H:%M:%S")
    return naive.replace(tzinfo=ZoneInfo(message["header_tz"])).astimezone(UTC)


# -- the fixture, message by message --------------------------------------------------------
def test_every_expected_message_is_rebuilt(archive: Any, expected: dict[str, Any]) -> None:
    assert len(archive.conversations) == expected["totals"]["conversations"] == 13
    assert archive.message_count == expected["totals"]["messages"] == 74
    assert len(archive.store.documents) == expected["collection"]["count"] == 15
    assert archive.skipped == []
    for built, want in zip(archive.conversations, expected["conversations"], strict=True):
        parsed = built.parsed
        assert parsed.title == want["title"]
        assert built.chroma_ids == want["chroma_ids"]
        assert built.legacy_source == want["legacy_source"]
        assert len(parsed.messages) == want["message_count"] == len(want["messages"])
        for message, spec in zip(parsed.messages, want["messages"], strict=True):
            assert message.role == spec["role"]
            assert message.metadata["legacy_label"] == spec["label"]
            assert len(message.content) == spec["content_len"]
            assert message.content.startswith(spec["content_prefix"])
            assert hashlib.sha256(message.content.encode()).hexdigest() == spec["content_sha256"]
            if spec["header_ts"] is not None:
                assert message.created_at == header_time(spec)
                assert message.metadata["legacy_time"] == spec["header_ts"]
            else:  # docx blocks carry no time: the document's earliest_ts, marked as such
                assert message.metadata["time_from"] == "earliest_ts"
                assert message.created_at == datetime.fromisoformat(
                    want["earliest_ts"]).replace(tzinfo=ZoneInfo(ZONE))


def test_sources_ids_and_legacy_metadata_are_kept(archive: Any, expected: dict[str, Any]) -> None:
    for built, want in zip(archive.conversations, expected["conversations"], strict=True):
        parsed = built.parsed
        legacy = parsed.metadata["legacy"]
        assert legacy["source"] == want["legacy_source"]
        assert legacy["chroma_ids"] == want["chroma_ids"]
        assert [d["title"] for d in legacy["documents"]] == want["stored_titles"]
        if want["conversation_id"]:  # the export's id: re-importing the export matches it
            assert parsed.source_id == want["conversation_id"]
            assert built.has_original_id
        else:
            assert parsed.source_id.startswith(f"legacy-{want['chroma_ids'][0]}-")
            assert not built.has_original_id
        assert parsed.source == {"docx": "unknown"}.get(want["legacy_source"],
                                                        want["legacy_source"])
        assert parsed.created_at is not None
    docx = archive.conversations[-1].parsed
    assert docx.metadata["legacy"]["preamble"] == expected["conversations"][-1]["docx_preamble"]
    assert docx.metadata["legacy"]["documents"][0]["file_path"].startswith("temp_docx_dir/🏖️")


def test_chunked_conversation_is_merged_in_order(archive: Any, expected: dict[str, Any]) -> None:
    chunked = [c for c in archive.conversations if c.is_chunked]
    assert len(chunked) == 1 and archive.chunk_documents == 3
    built = chunked[0]
    assert built.parsed.title == "LLM Pricing Calculator"  # " (Part i/3)" stripped
    assert [d.metadata["chunk_index"] for d in built.documents] == [0, 1, 2]
    assert [m.metadata["legacy_document"] for m in built.parsed.messages] == (
        ["claude-chat-0-chunk-0"] * 8 + ["claude-chat-0-chunk-1"] * 8
        + ["claude-chat-0-chunk-2"] * 4)
    want = next(c for c in expected["conversations"] if c["is_chunked"])
    assert built.checksums == [m["content_sha256"] for m in want["messages"]]


def test_conversations_without_an_id_are_warned_about(archive: Any) -> None:
    warned = [w for w in archive.warnings if "kept no original conversation id" in w]
    assert len(warned) == 2  # the ChatGPT conversation exported without id, and the docx
    assert any("chatgpt-chat-5" in w for w in warned) and any("docx-0" in w for w in warned)


def test_timezone_option_moves_naive_times_only(legacy_dir: Path, archive: Any) -> None:
    utc = read_legacy_store(legacy_dir, timezone="UTC")
    chatgpt_chicago = archive.conversations[0].parsed.messages[0].created_at
    chatgpt_utc = utc.conversations[0].parsed.messages[0].created_at
    # 2023-11-12 14:17:37 in Chicago (CST, UTC-6) is six hours after 14:17:37 UTC.
    assert (chatgpt_chicago - chatgpt_utc).total_seconds() == 6 * 3600
    claude = next(c for c in archive.conversations if c.legacy_source == "claude")
    claude_utc = next(c for c in utc.conversations if c.legacy_source == "claude")
    assert claude.parsed.messages[0].created_at == claude_utc.parsed.messages[0].created_at
    assert archive.conversations[0].parsed.metadata["legacy"]["timezone"] == ZONE


def test_default_timezone_is_this_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    clock = LegacyClock(None)
    assert clock.name == "Asia/Tokyo"
    assert clock.parse("2024-01-01 09:00:00", naive_is_utc=False) == datetime(
        2024, 1, 1, 0, 0, tzinfo=UTC)


def test_unknown_timezone_is_refused(legacy_dir: Path) -> None:
    with pytest.raises(LegacyTimezoneError, match="'Mars/Olympus'"):
        read_legacy_store(legacy_dir, timezone="Mars/Olympus")


# -- document parsing -------------------------------------------------------------------------
def test_headers_count_only_at_block_starts() -> None:
    text = ("**You said** *(on 2024-01-01 10:00:00)*:\n\nquote: **ChatGPT said** *(on "
            "2024-01-01 10:00:01)*:\n\nnot a header\n\n*Tool* *(on unknown time)*:\n\nresult")
    parsed = parse_document(text, "chatgpt")
    assert [(b.role, b.label, b.header_time) for b in parsed.blocks] == [
        ("user", "You said", "2024-01-01 10:00:00"), ("tool", "Tool", "unknown time")]
    assert parsed.blocks[0].content.endswith("not a header")


def test_unknown_speaker_becomes_system_with_its_name_kept() -> None:
    parsed = parse_document("*Critic* *(on unknown time)*:\n\nhmm", "claude")
    assert (parsed.blocks[0].role, parsed.blocks[0].original_role) == ("system", "critic")


def test_docx_preamble_and_blocks() -> None:
    text = "Title line\n**User**:\n\nhello\nsecond line\n\n**Assistant**:\n\nhi\n"
    parsed = parse_document(text, "docx")
    assert parsed.preamble == "Title line"
    assert [(b.role, b.content) for b in parsed.blocks] == [
        ("user", "hello\nsecond line"), ("assistant", "hi")]


def test_text_without_headers_does_not_parse() -> None:
    assert parse_document("just notes", "docx").problem is not None
    assert parse_document("**You said**: hi", "chatgpt").problem is not None


# -- bad stores -------------------------------------------------------------------------------
def test_a_folder_without_a_store_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LegacyStoreError, match="not a legacy Dovos store"):
        read_legacy_store(tmp_path)
    with pytest.raises(LegacyStoreError, match="no such file"):
        read_legacy_store(tmp_path / "missing")


def test_a_sqlite_file_that_is_not_chromadb_is_refused(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "chroma.sqlite3").execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(LegacyStoreError, match="no 'migrations' table"):
        read_legacy_store(tmp_path)


def test_a_corrupt_sqlite_file_is_refused(legacy_store_copy: Path) -> None:
    data = bytearray((legacy_store_copy / "chroma.sqlite3").read_bytes())
    data[4096:20480] = b"\xff" * (20480 - 4096)  # overwrite pages past the header
    (legacy_store_copy / "chroma.sqlite3").write_bytes(bytes(data))
    with pytest.raises(LegacyStoreError, match="damaged|corrupt"):
        read_legacy_store(legacy_store_copy)
    (legacy_store_copy / "chroma.sqlite3").write_bytes(b"not a database at all" * 100)
    with pytest.raises(LegacyStoreError, match="corrupt"):
        read_legacy_store(legacy_store_copy)


def test_a_newer_chromadb_schema_is_refused_naming_the_version(legacy_store_copy: Path) -> None:
    alter(legacy_store_copy, "INSERT INTO migrations VALUES ('sysdb', 10, '00010-x.sqlite.sql', '', '')")
    with pytest.raises(LegacyStoreError, match="sysdb migration 10 is newer"):
        read_legacy_store(legacy_store_copy)


def test_a_chromadb_store_of_another_app_is_refused(legacy_store_copy: Path) -> None:
    alter(legacy_store_copy, "UPDATE collections SET name = 'notes'")
    with pytest.raises(LegacyStoreError, match="no 'chat_history' collection; collections: notes"):
        read_legacy_store(legacy_store_copy)


def test_pending_write_ahead_log_is_refused(legacy_store_copy: Path) -> None:
    (legacy_store_copy / "chroma.sqlite3-wal").write_bytes(b"\0" * 32)
    with pytest.raises(LegacyStoreError, match="writes not yet in chroma.sqlite3"):
        read_legacy_store(legacy_store_copy)


def test_a_1024_dimension_store_reads_like_any_other(legacy_store_copy: Path) -> None:
    alter(legacy_store_copy, "UPDATE collections SET dimension = 1024")
    archive = read_legacy_store(legacy_store_copy, timezone=ZONE)
    assert archive.store.dimension == 1024
    assert archive.store.embedding_model == "BAAI/bge-large-en-v1.5"
    assert archive.message_count == 74  # the vectors are never read, only the text


def test_a_document_that_does_not_parse_is_kept_whole(legacy_store_copy: Path) -> None:
    alter(legacy_store_copy, "UPDATE embedding_metadata SET string_value = 'free notes, no speakers' "
                 "WHERE key = 'chroma:document' AND id = (SELECT id FROM embeddings "
                 "WHERE embedding_id = 'claude-chat-1')")
    archive = read_legacy_store(legacy_store_copy, timezone=ZONE)
    built = next(c for c in archive.conversations if c.chroma_ids == ["claude-chat-1"])
    assert [(m.role, m.content) for m in built.parsed.messages] == [
        ("user", "free notes, no speakers")]
    assert built.parsed.messages[0].metadata["legacy_unparsed"] is True
    assert any("claude-chat-1" in w and "does not parse" in w for w in archive.warnings)
    assert archive.message_count == 74 - 2 + 1


def test_a_missing_chunk_is_reported(legacy_store_copy: Path) -> None:
    alter(legacy_store_copy, "DELETE FROM embedding_metadata WHERE id = (SELECT id FROM embeddings "
                 "WHERE embedding_id = 'claude-chat-0-chunk-1')",
          "DELETE FROM embeddings WHERE embedding_id = 'claude-chat-0-chunk-1'")
    archive = read_legacy_store(legacy_store_copy, timezone=ZONE)
    built = next(c for c in archive.conversations if c.is_chunked)
    assert len(built.parsed.messages) == 12 and not built.complete
    assert any("missing [1]" in w for w in archive.warnings)


def test_the_store_is_not_modified_by_reading(legacy_store_copy: Path) -> None:
    before = {p: p.read_bytes() for p in legacy_store_copy.rglob("*") if p.is_file()}
    read_legacy_store(legacy_store_copy, timezone=ZONE)
    after = {p: p.read_bytes() for p in legacy_store_copy.rglob("*") if p.is_file()}
    assert before == after


def test_a_conversation_stored_twice_is_imported_once(legacy_store_copy: Path) -> None:
    alter(legacy_store_copy,
          "INSERT INTO embeddings (id, segment_id, embedding_id, seq_id) SELECT 99, segment_id, "
          "'claude-chat-9', seq_id FROM embeddings WHERE embedding_id = 'claude-chat-1'",
          "INSERT INTO embedding_metadata SELECT 99, key, string_value, int_value, float_value, "
          "bool_value FROM embedding_metadata WHERE id = (SELECT id FROM embeddings "
          "WHERE embedding_id = 'claude-chat-1')")
    archive = read_legacy_store(legacy_store_copy, timezone=ZONE)
    assert len(archive.conversations) == 13 and archive.message_count == 74
    assert [s.chroma_ids for s in archive.skipped] == [["claude-chat-1"]]
    assert "another copy of conversation 'cd0d6559" in archive.skipped[0].reason
    kept = next(c for c in archive.conversations if c.parsed.source_id.startswith("cd0d6559"))
    assert kept.chroma_ids == ["claude-chat-9"]  # the later of two equal copies
