"""Conversation summaries read stored counts (migration 0010): after every kind of write
they equal the aggregate over `messages` that the view of 0001 computed, and the page
keeps the old view's order, ties included."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from dovos.ingest import ParsedConversation, ParsedMessage, ingest
from dovos.repositories import conversations, messages
from dovos.repositories.messages import NewMessage
from dovos.repositories.unit_of_work import UnitOfWork

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

# What the view of migration 0001 computed, over `messages` itself.
DIRECT = """
SELECT c.id AS conversation_id, c.title, c.source, c.created_at, c.is_saved,
       count(m.id) AS message_count, min(m.created_at) AS first_message_at,
       max(m.created_at) AS last_message_at,
       (SELECT left(p.content, 1000) FROM messages p
         WHERE p.conversation_id = c.id ORDER BY p.position LIMIT 1) AS preview
FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id
GROUP BY c.id
"""
DIRECT_ORDER = f"""
SELECT * FROM ({DIRECT}) AS d
ORDER BY coalesce(last_message_at, created_at) DESC, conversation_id
"""
COLUMNS = ("conversation_id, title, source, created_at, is_saved, message_count, "
           "first_message_at, last_message_at, preview")


def _rows(connection: psycopg.Connection[Any], sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in connection.execute(sql).fetchall()]


def assert_exact(database) -> None:  # type: ignore[no-untyped-def]
    """The view, the stored columns and every page equal the direct aggregate."""
    with UnitOfWork(database) as uow:
        connection = uow.connection
        expected = _rows(connection, DIRECT_ORDER)
        view = _rows(connection, f"SELECT {COLUMNS} FROM conversation_summaries ORDER BY "
                                 "coalesce(last_message_at, created_at) DESC, conversation_id")
        assert view == expected
        paged = []
        for number in range(1, len(expected) // 2 + 2):
            page = conversations.list_page(connection, page=number, limit=2)
            assert page.total == len(expected)
            paged.extend(page.items)
        for summary in paged:
            assert summary == conversations.summary(connection, summary.conversation_id)
    assert [_astuple(summary) for summary in paged] == expected


def _astuple(summary: conversations.ConversationSummary) -> tuple[Any, ...]:
    return tuple(getattr(summary, name.strip()) for name in COLUMNS.split(","))


def _parsed(source_id: str, times: list[datetime], created: datetime | None = None,
            texts: list[str] | None = None) -> ParsedConversation:
    bodies = texts or [f"{source_id} turn {i}" for i in range(len(times))]
    return ParsedConversation(
        source="chatgpt", source_id=source_id, title=f"title {source_id}", created_at=created,
        messages=[ParsedMessage("user" if i % 2 == 0 else "assistant", body, created_at=when)
                  for i, (body, when) in enumerate(zip(bodies, times, strict=True))])


def _import(database, parsed: list[ParsedConversation]) -> None:  # type: ignore[no-untyped-def]
    with UnitOfWork(database) as uow:
        ingest(uow.connection, parsed)


def _id(database, source_id: str) -> uuid.UUID:  # type: ignore[no-untyped-def]
    with UnitOfWork(database) as uow:
        [found] = conversations.find_by_source(uow.connection, [("chatgpt", source_id)])
    return found.id


def _tied_archive(database) -> None:  # type: ignore[no-untyped-def]
    """Conversations whose sort keys tie: same last message time, and an empty
    conversation created at another's last message time."""
    hour = timedelta(hours=1)
    _import(database, [
        _parsed("a", [T0, T0 + hour]),
        _parsed("b", [T0 - hour, T0 + hour]),             # ties with a
        _parsed("c", [T0 + hour], created=T0 - 2 * hour),  # ties with a and b
        _parsed("empty", [], created=T0 + hour),           # ties by its creation time
        _parsed("old", [T0 - 5 * hour, T0 - 4 * hour, T0 - 4 * hour]),
        _parsed("new", [T0 + 3 * hour, T0 + 2 * hour]),    # last message is not the last turn
    ])


def test_counts_span_preview_and_order_after_an_import(database) -> None:
    _tied_archive(database)
    assert_exact(database)
    with UnitOfWork(database) as uow:
        first = conversations.list_page(uow.connection, page=1, limit=6).items
        new = conversations.summary(uow.connection, _id(database, "new"))
    assert new is not None and new.message_count == 2
    assert (new.first_message_at, new.last_message_at) == (T0 + 2 * timedelta(hours=1),
                                                           T0 + 3 * timedelta(hours=1))
    assert first[0].conversation_id == new.conversation_id
    tied = [s.conversation_id for s in first[1:5]]
    assert tied == sorted(tied)  # ties broken by id, as the old view's ORDER BY did


def test_a_reimport_that_adds_and_changes_messages(database) -> None:
    _tied_archive(database)
    hour = timedelta(hours=1)
    # "a" continues, its first turn edited; "old" gains a turn earlier than its first.
    _import(database, [
        _parsed("a", [T0, T0 + hour, T0 + 9 * hour], texts=["edited", "x", "y"]),
        _parsed("old", [T0 - 5 * hour, T0 - 4 * hour, T0 - 4 * hour, T0 - 9 * hour]),
        _parsed("empty", [T0 + 4 * hour]),
    ])
    assert_exact(database)
    with UnitOfWork(database) as uow:
        a = conversations.summary(uow.connection, _id(database, "a"))
        old = conversations.summary(uow.connection, _id(database, "old"))
        [top] = conversations.list_page(uow.connection, page=1, limit=1).items
    assert a is not None and (a.message_count, a.preview, a.last_message_at) == (
        3, "edited", T0 + 9 * hour)
    assert old is not None and (old.message_count, old.first_message_at) == (4, T0 - 9 * hour)
    assert top.conversation_id == a.conversation_id


def test_message_deletion_moves_and_truncate(database) -> None:
    _tied_archive(database)
    new, old = _id(database, "new"), _id(database, "old")
    with UnitOfWork(database) as uow:  # the latest message of "new", one of "old"'s ties
        uow.connection.execute(
            "DELETE FROM messages WHERE (conversation_id = %s AND position = 0) "
            "OR (conversation_id = %s AND position = 2)", [new, old])
    assert_exact(database)
    with UnitOfWork(database) as uow:  # move a message to another conversation, re-time one
        uow.connection.execute(
            "UPDATE messages SET conversation_id = %s, position = 10 "
            "WHERE conversation_id = %s AND position = 1", [old, new])
        uow.connection.execute(
            "UPDATE messages SET created_at = %s WHERE conversation_id = %s AND position = 0",
            [T0 - timedelta(days=3), old])
        uow.connection.execute("UPDATE messages SET content = 'renamed' WHERE position = 0")
    assert_exact(database)
    with UnitOfWork(database) as uow:
        summary = conversations.summary(uow.connection, new)
    assert summary is not None and (summary.message_count, summary.last_message_at) == (0, None)
    with UnitOfWork(database) as uow:
        uow.connection.execute("TRUNCATE messages CASCADE")
    assert_exact(database)
    with UnitOfWork(database) as uow:
        counts = _rows(uow.connection, "SELECT DISTINCT message_count, first_message_at, "
                                       "last_message_at FROM conversations")
    assert counts == [(0, None, None)]


def test_conversation_deletion(database) -> None:
    _tied_archive(database)
    with UnitOfWork(database) as uow:
        assert conversations.delete(uow.connection, _id(database, "a"))
        assert conversations.delete_by_source_id(uow.connection, "b%") == 1
    assert_exact(database)
    with UnitOfWork(database) as uow:
        assert conversations.count(uow.connection) == 4


def test_a_rolled_back_import_leaves_the_counts(database) -> None:
    _tied_archive(database)
    a_id = _id(database, "a")
    later = [T0, T0 + timedelta(hours=1), T0 + timedelta(days=1)]
    with pytest.raises(RuntimeError), UnitOfWork(database) as uow:
        ingest(uow.connection, [_parsed("a", later), _parsed("fresh", [T0 + timedelta(days=2)])])
        seen = conversations.summary(uow.connection, a_id)
        assert seen is not None and seen.message_count == 3  # the triggers ran
        raise RuntimeError("the import fails after writing")

    def interrupt(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), UnitOfWork(database) as uow:
        ingest(uow.connection, [_parsed("a", later)], on_progress=interrupt)
    assert_exact(database)
    with UnitOfWork(database) as uow:
        a = conversations.summary(uow.connection, a_id)
        assert conversations.count(uow.connection) == 6
    assert a is not None and a.message_count == 2


def test_adding_messages_leaves_updated_at_but_a_title_change_sets_it(database) -> None:
    _import(database, [_parsed("a", [T0])])
    with UnitOfWork(database) as uow:
        before = uow.connection.execute(
            "SELECT updated_at FROM conversations").fetchone()
    _import(database, [_parsed("a", [T0, T0 + timedelta(hours=1)])])
    with UnitOfWork(database) as uow:
        after = uow.connection.execute("SELECT updated_at FROM conversations").fetchone()
        uow.connection.execute("UPDATE conversations SET title = 'renamed'")
    with UnitOfWork(database) as uow:
        renamed = uow.connection.execute("SELECT updated_at FROM conversations").fetchone()
    assert before == after
    assert renamed is not None and after is not None and renamed[0] > after[0]


def _new_message(conversation_id: uuid.UUID, position: int, when: datetime) -> NewMessage:
    return NewMessage(id=uuid.uuid4(), conversation_id=conversation_id, role="user",
                      content=f"m{position}", position=position, source_message_id=None,
                      metadata_json="{}", created_at=when)


def _writer(database, rows: list[NewMessage], errors: list[BaseException],  # type: ignore[no-untyped-def]
            start: threading.Barrier) -> None:
    try:
        with database.connect() as connection:
            start.wait(timeout=30)
            messages.copy_new(connection, rows)
            connection.commit()
    except BaseException as error:  # noqa: BLE001 - reported by the test
        errors.append(error)


def test_concurrent_writers_into_the_same_and_different_conversations(database) -> None:
    """Writers that bypass the import lock (raw COPYs), several at once into overlapping
    conversations in opposite orders: none deadlocks, and every count is exact."""
    _import(database, [_parsed(name, [T0]) for name in "pqrs"])
    ids = [_id(database, name) for name in "pqrs"]
    plans: list[list[NewMessage]] = []
    for writer in range(4):
        targets = ids if writer % 2 == 0 else list(reversed(ids))
        plans.append([
            _new_message(cid, 100 * (writer + 1) + round_, T0 + timedelta(minutes=writer * 10 + round_))
            for round_ in range(3) for cid in targets[: 2 + writer % 3]
        ])
    errors: list[BaseException] = []
    start = threading.Barrier(len(plans))
    threads = [threading.Thread(target=_writer, args=(database, rows, errors, start))
               for rows in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert_exact(database)
    with UnitOfWork(database) as uow:
        total = uow.connection.execute("SELECT sum(message_count) FROM conversations").fetchone()
    assert total is not None and total[0] == 4 + sum(len(rows) for rows in plans)


def test_a_delete_waits_for_a_concurrent_insert_and_recounts_what_it_committed(database) -> None:
    """A recount that waited for another writer's lock sees that writer's messages."""
    _import(database, [_parsed("a", [T0, T0 + timedelta(hours=1)])])
    cid = _id(database, "a")
    with database.connect() as inserter:
        messages.copy_new(inserter, [_new_message(cid, 5, T0 + timedelta(days=1))])
        # the insert trigger holds the conversation's row lock until commit
        deleted = threading.Event()

        def delete() -> None:
            with database.connect() as deleter:
                deleter.execute("DELETE FROM messages WHERE conversation_id = %s AND position = 0",
                                [cid])
                deleter.commit()
            deleted.set()

        thread = threading.Thread(target=delete)
        thread.start()
        assert not deleted.wait(timeout=1.0)  # waiting on the conversation's lock
        inserter.commit()
    thread.join(timeout=30)
    assert deleted.is_set()
    assert_exact(database)
    with UnitOfWork(database) as uow:
        summary = conversations.summary(uow.connection, cid)
    assert summary is not None and summary.message_count == 2
    assert summary.last_message_at == T0 + timedelta(days=1)


def test_two_imports_at_once_into_the_same_and_different_conversations(database) -> None:
    hour = timedelta(hours=1)
    _import(database, [_parsed("shared", [T0])])
    errors: list[BaseException] = []

    def run(batch: list[ParsedConversation]) -> None:
        try:
            _import(database, batch)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    threads = [
        threading.Thread(target=run, args=([_parsed("shared", [T0, T0 + hour]),
                                            _parsed("one", [T0 + 2 * hour])],)),
        threading.Thread(target=run, args=([_parsed("shared", [T0, T0 + hour, T0 + 5 * hour]),
                                            _parsed("two", [T0 - hour])],)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert_exact(database)
    with UnitOfWork(database) as uow:
        shared = conversations.summary(uow.connection, _id(database, "shared"))
    assert shared is not None and shared.message_count == 3


def test_migration_backfills_existing_rows_and_downgrades(database) -> None:
    """Rows written before 0010 get their counts from the backfill; the downgrade
    restores the aggregating view with the same results."""
    try:
        database.downgrade("0009")
        _tied_archive(database)
        with database.engine.connect() as conn:
            before = [tuple(r) for r in conn.execute(text(DIRECT_ORDER)).all()]
            touched = conn.execute(text("SELECT id, updated_at FROM conversations ORDER BY id")).all()
        database.migrate("0010")
        assert_exact(database)
        with database.engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(text(DIRECT_ORDER)).all()] == before
            assert conn.execute(text("SELECT id, updated_at FROM conversations ORDER BY id")).all() == touched
            assert conn.execute(text(
                "SELECT sum(message_count) FROM conversations")).scalar_one() == 10
        database.downgrade("0009")
        with database.engine.begin() as conn:
            columns = conn.execute(text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'conversations'")).scalars().all()
            assert "message_count" not in columns and "last_message_at" not in columns
            view = conn.execute(text(
                f"SELECT {COLUMNS} FROM conversation_summaries ORDER BY "
                "coalesce(last_message_at, created_at) DESC, conversation_id")).all()
            assert [tuple(r) for r in view] == before
            conn.execute(text("INSERT INTO messages (conversation_id, role, content, position) "
                              "SELECT id, 'user', 'late', 50 FROM conversations LIMIT 1"))
            conn.execute(text("UPDATE conversations SET is_saved = true"))
            # the original touch trigger again: every updated row's updated_at moved
            assert conn.execute(text(
                "SELECT count(*) FROM conversations WHERE updated_at <> now()")).scalar_one() == 0
    finally:
        database.migrate("head")
    assert_exact(database)
