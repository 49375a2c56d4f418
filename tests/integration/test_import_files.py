"""Import end to end into the real database: fixtures, idempotence, increments, atomicity."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from export_support import chatgpt_conversation

from dovos.importers import ImportInterrupted, import_files, parse_file
from dovos.ingest import IngestError, ingest

# Conversations and messages each fixture yields (the truncated file yields an error).
FIXTURE_COUNTS = {
    "chatgpt/browsing_tools_2023.json": (2, 19),
    "chatgpt/content_types.json": (1, 15),
    "chatgpt/minimal.json": (1, 2),
    "chatgpt/reasoning_thoughts.json": (1, 3),
    "chatgpt/regenerated_branches.json": (1, 6),
    "claude/artifacts_inline_2024.json": (1, 20),
    "claude/attachments.json": (1, 5),
    "claude/content_blocks.json": (5, 10),
    "claude/minimal.json": (1, 4),
    "claude/thinking_blocks.json": (1, 2),
    "claude/tool_use_blocks.json": (4, 23),
    "openwebui/image_attachment.json": (1, 2),
    "openwebui/sample_chats.json": (5, 10),
    "openwebui/tool_calls.json": (3, 6),
}


def _rows(database: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with database.connect() as connection:
        return connection.execute(sql, params).fetchall()


def _snapshot(database: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Everything an import can touch, in a comparable form."""
    return {
        "conversations": _rows(database, "SELECT id, title, source, source_id, metadata, "
                                         "updated_at FROM conversations ORDER BY id"),
        "messages": _rows(database, "SELECT id, conversation_id, position, role, content, "
                                    "version, metadata FROM messages ORDER BY id"),
        "jobs": _rows(database, "SELECT id, kind, payload, status FROM jobs ORDER BY id"),
    }


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _import(database: Any, *paths: Path, **options: Any) -> list[Any]:
    return import_files(paths, database=database, progress=False, **options)


def test_every_fixture_imports_with_its_counts(database: Any, exports_dir: Path) -> None:
    results = {r.path: r for r in _import(database, exports_dir)}
    assert len(results) == len(FIXTURE_COUNTS) + 1
    for name, (conversations, messages) in FIXTURE_COUNTS.items():
        result = results[str(exports_dir / name)]
        assert result.ok, result.error
        assert (result.conversations, result.messages) == (conversations, messages), name
        assert result.result.conversations_new == conversations
        assert result.result.messages_added == result.result.jobs_enqueued == messages
    truncated = results[str(exports_dir / "invalid" / "truncated_chatgpt.json")]
    assert not truncated.ok and "is not valid JSON" in truncated.error
    total = sum(messages for _, messages in FIXTURE_COUNTS.values())
    [(stored, jobs, stale)] = _rows(database,
        "SELECT (SELECT count(*) FROM messages), "
        "       (SELECT count(*) FROM jobs WHERE status = 'pending' AND kind = 'embed_message'), "
        "       (SELECT count(*) FROM jobs j LEFT JOIN messages m "
        "          ON m.id = (j.payload->>'message_id')::uuid AND m.version = "
        "             (j.payload->>'version')::int WHERE m.id IS NULL)")
    assert (stored, jobs, stale) == (total, total, 0)  # one job per message, naming it@version


def test_stored_rows_keep_order_roles_and_ids(database: Any, exports_dir: Path) -> None:
    _import(database, exports_dir / "chatgpt" / "regenerated_branches.json")
    rows = _rows(database, "SELECT m.position, m.role, m.source_message_id, m.content "
                           "FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                           "WHERE c.source = 'chatgpt' AND c.source_id = %s ORDER BY m.position",
                 "d5dc5307-6807-41a0-8b04-4acee626eeb7")
    assert [row[0] for row in rows] == list(range(6))
    assert [row[1] for row in rows] == ["user", "assistant"] * 3
    assert rows[2][3] == "hi again" and rows[-1][2] == "f63b8e17-aa5c-4ca6-a1bf-d4d285e269b8"


def test_truncated_file_is_rejected_and_writes_nothing(database: Any, exports_dir: Path) -> None:
    [result] = _import(database, exports_dir / "invalid" / "truncated_chatgpt.json")
    assert not result.ok and result.result is None
    assert "truncated" in result.error
    assert _snapshot(database) == {"conversations": [], "messages": [], "jobs": []}


def test_reimport_changes_nothing(database: Any, exports_dir: Path) -> None:
    _import(database, exports_dir)
    before = _snapshot(database)
    again = [r for r in _import(database, exports_dir) if r.ok]
    assert len(again) == len(FIXTURE_COUNTS)
    for result in again:
        counts = result.result
        assert (counts.conversations_new, counts.conversations_updated) == (0, 0), result.path
        assert counts.conversations_unchanged == result.conversations
        assert (counts.messages_added, counts.messages_changed, counts.jobs_enqueued) == (0, 0, 0)
    assert _snapshot(database) == before  # not even updated_at moved


def test_same_data_from_another_path_changes_nothing(
    database: Any, exports_dir: Path, tmp_path: Path
) -> None:
    source = exports_dir / "claude" / "tool_use_blocks.json"
    _import(database, source)
    before = _snapshot(database)
    copy = tmp_path / "renamed-export.json"
    copy.write_bytes(source.read_bytes())
    [result] = _import(database, copy)
    assert result.result.conversations_unchanged == 4
    assert _snapshot(database) == before


def test_continued_conversation_appends_only_new_messages(database: Any, tmp_path: Path) -> None:
    first = _write(tmp_path / "old.json", [chatgpt_conversation("c1", ["q1", "a1", "q2", "a2"]),
                                            chatgpt_conversation("c2", ["other", "reply"])])
    _import(database, first)
    old_ids = _rows(database, "SELECT id, position FROM messages ORDER BY id")
    old_jobs = _rows(database, "SELECT id FROM jobs ORDER BY id")
    newer = _write(tmp_path / "new.json", [chatgpt_conversation("c1", ["q1", "a1", "q2", "a2", "q3", "a3"]),
                                            chatgpt_conversation("c2", ["other", "reply"])])
    [result] = _import(database, newer)
    counts = result.result
    assert (counts.conversations_new, counts.conversations_updated,
            counts.conversations_unchanged) == (0, 1, 1)
    assert (counts.messages_added, counts.messages_changed, counts.jobs_enqueued) == (2, 0, 2)
    assert set(old_ids) <= set(_rows(database, "SELECT id, position FROM messages"))
    new_jobs = _rows(database, "SELECT m.content, (j.payload->>'version')::int FROM jobs j "
                               "JOIN messages m ON m.id = (j.payload->>'message_id')::uuid "
                               "WHERE j.id > %s ORDER BY m.position", old_jobs[-1][0])
    assert new_jobs == [("q3", 1), ("a3", 1)]


def test_changed_message_gets_a_new_version_and_one_pending_job(
    database: Any, tmp_path: Path
) -> None:
    _import(database, _write(tmp_path / "v1.json", [chatgpt_conversation("c1", ["question", "answer"])]))
    [result] = _import(database, _write(tmp_path / "v2.json",
                                        [chatgpt_conversation("c1", ["question", "better answer"])]))
    assert (result.result.messages_changed, result.result.jobs_enqueued) == (1, 1)
    [(content, version)] = _rows(database, "SELECT content, version FROM messages "
                                           "WHERE position = 1")
    assert (content, version) == ("better answer", 2)
    # The first import's job was still pending: it now names version 2, no second job.
    jobs = _rows(database, "SELECT payload->>'version' FROM jobs j JOIN messages m "
                           "ON m.id = (j.payload->>'message_id')::uuid WHERE m.position = 1")
    assert jobs == [("2",)]


def test_changed_turn_also_enqueues_the_turn_after_it(database: Any, tmp_path: Path) -> None:
    """The next turn is embedded with the changed one as context, so it needs a new job."""
    _import(database, _write(tmp_path / "v1.json", [chatgpt_conversation("c1", ["q1", "a1", "q2", "a2"])]))
    with database.connect() as connection:
        connection.execute("UPDATE jobs SET status = 'completed'")  # the worker ran
        connection.commit()
    [result] = _import(database, _write(tmp_path / "v2.json",
                                        [chatgpt_conversation("c1", ["q1", "a1 edited", "q2", "a2"])]))
    assert (result.result.messages_changed, result.result.jobs_enqueued) == (1, 2)
    pending = _rows(database, "SELECT m.content, (j.payload->>'version')::int FROM jobs j "
                              "JOIN messages m ON m.id = (j.payload->>'message_id')::uuid "
                              "WHERE j.status = 'pending' ORDER BY m.position")
    assert pending == [("a1 edited", 2), ("q2", 1)]


@pytest.fixture
def failing_trigger(database: Any) -> Iterator[Any]:
    """A real database failure on demand: inserting content 'boom' raises inside PostgreSQL."""
    with database.connect(autocommit=True) as connection:
        connection.execute(
            "CREATE FUNCTION test_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.content = 'boom' THEN RAISE EXCEPTION 'boom refused'; END IF; "
            "RETURN NEW; END $$")
        connection.execute("CREATE TRIGGER test_boom BEFORE INSERT ON messages "
                           "FOR EACH ROW EXECUTE FUNCTION test_boom()")
    yield database
    with database.connect(autocommit=True) as connection:
        connection.execute("DROP TRIGGER test_boom ON messages")
        connection.execute("DROP FUNCTION test_boom()")


def test_failure_in_the_middle_of_a_file_leaves_the_database_unchanged(
    failing_trigger: Any, tmp_path: Path
) -> None:
    database = failing_trigger
    _import(database, _write(tmp_path / "base.json", [chatgpt_conversation("c1", ["q", "a"])]))
    before = _snapshot(database)
    # Conversation c1 grows, c2 is new and imports fine, c3's last message fails.
    bad = _write(tmp_path / "bad.json", [
        chatgpt_conversation("c1", ["q", "a", "q2", "a2"]),
        chatgpt_conversation("c2", ["fine", "also fine"]),
        chatgpt_conversation("c3", ["ok", "boom"]),
    ])
    good = _write(tmp_path / "good.json", [chatgpt_conversation("c4", ["independent", "file"])])
    bad_result, good_result = _import(database, bad, good)
    assert not bad_result.ok
    assert "the database refused the file, nothing was written" in bad_result.error
    assert "boom refused" in bad_result.error and str(bad) in bad_result.error
    assert good_result.ok
    after = _snapshot(database)
    # Apart from good.json's conversation, everything is as before: c1 not extended,
    # c2 and c3 absent, no jobs beyond good.json's two.
    [c4] = [row[0] for row in after["conversations"] if row[3] == "c4"]
    assert [row for row in after["conversations"] if row[0] != c4] == before["conversations"]
    assert [row for row in after["messages"] if row[1] != c4] == before["messages"]
    assert len(after["jobs"]) == len(before["jobs"]) + 2


def test_failure_at_job_enqueue_rolls_back_messages_too(database: Any, tmp_path: Path) -> None:
    with database.connect(autocommit=True) as connection:
        connection.execute("ALTER TABLE jobs ADD CONSTRAINT test_no_jobs CHECK (kind <> 'embed_message')")
    try:
        [result] = _import(database, _write(tmp_path / "x.json", [chatgpt_conversation("c1", ["q", "a"])]))
    finally:
        with database.connect(autocommit=True) as connection:
            connection.execute("ALTER TABLE jobs DROP CONSTRAINT test_no_jobs")
    assert not result.ok and "test_no_jobs" in result.error
    assert _snapshot(database) == {"conversations": [], "messages": [], "jobs": []}


def test_ctrl_c_during_the_write_leaves_nothing(database: Any, tmp_path: Path) -> None:
    texts = [f"message number {i}" for i in range(5_000)]
    parsed = parse_file(_write(tmp_path / "big.json", [chatgpt_conversation("c1", texts)]))

    def interrupt(written: int) -> None:
        raise KeyboardInterrupt

    with database.connect() as connection, pytest.raises(KeyboardInterrupt):
        ingest(connection, parsed.conversations, on_progress=interrupt)
    assert _snapshot(database) == {"conversations": [], "messages": [], "jobs": []}


def test_ctrl_c_in_import_files_reports_finished_files(
    database: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dovos.importers import files

    first = _write(tmp_path / "a.json", [chatgpt_conversation("c1", ["q", "a"])])
    second = _write(tmp_path / "b.json", [chatgpt_conversation("c2", ["q", "a"])])
    real_transaction = files.ingest_transaction
    calls = []

    def interrupt(written: int) -> None:
        raise KeyboardInterrupt  # as Ctrl-C would, while the second file is being written

    def transaction_then_interrupt(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            kwargs["on_progress"] = interrupt
        return real_transaction(*args, **kwargs)

    monkeypatch.setattr(files, "ingest_transaction", transaction_then_interrupt)
    with pytest.raises(ImportInterrupted) as caught:
        _import(database, first, second)
    done, stopped = caught.value.results
    assert done.ok and "interrupted; nothing of this file was written" in stopped.error
    assert _rows(database, "SELECT source_id FROM conversations") == [("c1",)]


def test_repaired_text_is_stored(database: Any, tmp_path: Path) -> None:
    path = tmp_path / "dirty.json"
    path.write_text('[{"uuid": "c1", "name": "t\\u0000", "chat_messages": [{"uuid": "m1", '
                    '"sender": "human", "text": "nul\\u0000 and \\udc00 lone"}]}]')
    [result] = _import(database, path)
    assert result.ok and len(result.warnings) == 3  # title NUL, content NUL, surrogate
    assert _rows(database, "SELECT content FROM messages") == [("nul and \ufffd lone",)]


def test_ten_megabyte_message_is_stored_and_searchable(database: Any, tmp_path: Path) -> None:
    huge = "needle " + "haystack " * 1_150_000
    [result] = _import(database, _write(tmp_path / "big.json", [chatgpt_conversation("big", [huge, "ok"])]))
    assert result.ok and any("full-text search covers" in w for w in result.warnings)
    [(length, found)] = _rows(database, "SELECT length(content), search_vector @@ "
                                        "plainto_tsquery('english', 'needle') FROM messages "
                                        "WHERE position = 0")
    assert length == len(huge.strip()) and found


def test_ingest_refuses_unstorable_text_before_writing(database: Any) -> None:
    from dovos.importers.parsed import ParsedConversation, ParsedMessage

    bad = ParsedConversation("chatgpt", "c1", "t", [ParsedMessage("user", "ok",
                                                                  metadata={"k": "a\x00b"})])
    with database.connect() as connection, pytest.raises(IngestError, match="metadata holds a NUL"):
        ingest(connection, [bad])
    assert _snapshot(database)["conversations"] == []
