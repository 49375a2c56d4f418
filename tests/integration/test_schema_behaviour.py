"""Triggers, cascades, views and the unit of work, on the real server."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from dovos.ingest import ParsedConversation, ParsedMessage, ingest
from dovos.repositories import conversations, jobs, messages, settings
from dovos.repositories.conversations import NewConversation
from dovos.repositories.messages import NewMessage
from dovos.repositories.unit_of_work import UnitOfWork


@dataclass
class _Stored:
    id: uuid.UUID
    message_ids: list[uuid.UUID]


def _conversation(uow: UnitOfWork, bodies: list[str], source_id: str = "c1") -> _Stored:
    """A conversation written through the import path, without its embed jobs."""
    parsed = ParsedConversation(
        source="chatgpt", source_id=source_id, title="T",
        messages=[ParsedMessage("user" if i % 2 == 0 else "assistant", body)
                  for i, body in enumerate(bodies)],
    )
    ingest(uow.connection, [parsed])
    uow.connection.execute("DELETE FROM jobs")
    [found] = conversations.find_by_source(uow.connection, [("chatgpt", source_id)])
    stored = messages.for_conversations(uow.connection, [found.id])
    return _Stored(found.id, [message.id for message in stored])


def _embed(uow: UnitOfWork, message_id: uuid.UUID, model: str, context_version: int = 0) -> None:
    uow.connection.execute(
        "INSERT INTO message_embeddings (message_id, model, embedding, message_version, "
        "context_version) VALUES (%s, %s, %s::vector, 1, %s)",
        (message_id, model, "[" + ",".join(["1"] * 384) + "]", context_version),
    )


def _new_message(conversation_id: uuid.UUID, role: str, position: int) -> NewMessage:
    return NewMessage(uuid.uuid4(), conversation_id, role, "dup", position, None, "{}",
                      datetime.now(UTC))


def test_version_bumps_only_when_content_changes(database) -> None:
    with UnitOfWork(database) as uow:
        message_id = _conversation(uow, ["hello"]).message_ids[0]
    with UnitOfWork(database) as uow:
        assert messages.update_content(uow.connection, message_id, "hello") == 1
        assert messages.update_content(uow.connection, message_id, "hello again") == 2
        assert messages.update_content(uow.connection, message_id, "hello again") == 2
        assert messages.update_content(uow.connection, message_id, "third") == 3
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE messages SET metadata = '{\"x\": 1}' WHERE id = :id"), {"id": message_id})
        conn.execute(text("UPDATE messages SET version = 99 WHERE id = :id"), {"id": message_id})
        version = conn.execute(text("SELECT version FROM messages WHERE id = :id"), {"id": message_id})
        assert version.scalar_one() == 3  # metadata edits and direct writes do not move it


def test_updated_at_is_touched_on_update(database) -> None:
    with UnitOfWork(database) as uow:
        conversation = _conversation(uow, ["a"])
    with database.engine.begin() as conn:
        before = conn.execute(
            text("SELECT updated_at FROM conversations WHERE id = :id"), {"id": conversation.id}
        ).scalar_one()
        conn.execute(text("SELECT pg_sleep(0.01)"))
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE conversations SET title = 'new' WHERE id = :id"), {"id": conversation.id})
        after = conn.execute(
            text("SELECT updated_at FROM conversations WHERE id = :id"), {"id": conversation.id}
        ).scalar_one()
    assert after > before


def test_search_vector_is_generated_and_survives_huge_content(database) -> None:
    huge = ("word" + "x" * 6 + " ") * 1_100_000  # ~12 MB, over tsvector's 1 MB limit
    with UnitOfWork(database) as uow:
        conversation = _conversation(uow, ["Caroline went to the support groups", huge])
    with database.engine.connect() as conn:
        hits = conn.execute(
            text("SELECT position FROM messages WHERE search_vector @@ to_tsquery('english', 'group')")
        ).scalars().all()
        size = conn.execute(
            text("SELECT length(content) FROM messages WHERE conversation_id = :id AND position = 1"),
            {"id": conversation.id},
        ).scalar_one()
    assert hits == [0]
    assert size == len(huge)  # stored in full; only the indexed prefix is capped


def test_deleting_a_conversation_cascades_to_messages_and_embeddings(database) -> None:
    with UnitOfWork(database) as uow:
        conversation = _conversation(uow, ["one", "two"])
        _embed(uow, conversation.message_ids[0], "m")
    with UnitOfWork(database) as uow:
        assert conversations.delete(uow.connection, conversation.id)
    with UnitOfWork(database) as uow:
        assert messages.count(uow.connection) == 0
        assert uow.embeddings.count() == 0


def test_conversation_summaries_view(database) -> None:
    with UnitOfWork(database) as uow:
        first = _conversation(uow, ["first question", "answer", "follow-up"], "a")
        empty = _conversation(uow, [], "empty")
    with UnitOfWork(database) as uow:
        summary = conversations.summary(uow.connection, first.id)
        page = conversations.list_page(uow.connection, page=1, limit=1)
        second_page = conversations.list_page(uow.connection, page=2, limit=1)
    assert summary is not None
    assert summary.message_count == 3
    assert summary.preview == "first question"
    assert summary.first_message_at <= summary.last_message_at
    assert page.total == 2 and page.has_next and not page.has_prev
    assert second_page.has_prev and not second_page.has_next
    assert {page.items[0].conversation_id, second_page.items[0].conversation_id} == {
        first.id,
        empty.id,
    }


def test_embedding_coverage_counts_embedded_and_stale(database) -> None:
    with UnitOfWork(database) as uow:
        conversation = _conversation(uow, ["a", "b", "c", "d"])
        for position, message_id in enumerate(conversation.message_ids[:3]):
            _embed(uow, message_id, "m", context_version=1 if position else 0)
    with UnitOfWork(database) as uow:
        assert uow.embeddings.coverage("m").stale == 0
        messages.update_content(uow.connection, conversation.message_ids[0], "changed")
    with UnitOfWork(database) as uow:
        coverage = uow.embeddings.coverage("m")
        other = uow.embeddings.coverage("other-model")
        view = uow.connection.execute(
            "SELECT model, total, embedded, stale FROM embedding_coverage").fetchall()
    # Stale: the edited message, and the next one, embedded with the old text as context.
    assert (coverage.total, coverage.embedded, coverage.stale) == (4, 3, 2)
    assert coverage.current == 1 and coverage.missing == 1 and coverage.percent == 25.0
    assert (other.total, other.embedded) == (4, 0)
    assert [tuple(row) for row in view] == [("m", 4, 3, 2)]


def test_an_edit_enqueues_jobs_for_the_message_and_the_next_turn(database) -> None:
    with UnitOfWork(database) as uow:
        conversation = _conversation(uow, ["a", "b", "c"])
        ids = conversation.message_ids
    with UnitOfWork(database) as uow:
        assert messages.update_content(uow.connection, ids[1], "b") == 1  # unchanged: no job
        assert jobs.live_counts(uow.connection)["pending"] == 0
        assert messages.update_content(uow.connection, ids[1], "b, edited") == 2
        assert messages.update_content(uow.connection, uuid.uuid4(), "x") is None
    with database.engine.connect() as conn:
        payloads = conn.execute(text("SELECT payload FROM jobs")).scalars().all()
    assert sorted((p["message_id"], p["version"]) for p in payloads) == sorted(
        [(str(ids[1]), 2), (str(ids[2]), 1)]
    )


def test_unit_of_work_rolls_back_everything_on_error(database) -> None:
    with pytest.raises(RuntimeError, match="boom"), UnitOfWork(database) as uow:
        _conversation(uow, ["kept?"])
        settings.set(uow.connection, "search.params", {"rrf_k": 60})
        jobs.enqueue(uow.connection, "embed_message", {"x": 1})
        raise RuntimeError("boom")
    with UnitOfWork(database) as uow:
        assert conversations.count(uow.connection) == 0
        assert settings.get(uow.connection, "search.params") is None
        assert sum(jobs.counts(uow.connection).values()) == 0


def test_unit_of_work_rolls_back_on_database_error(database) -> None:
    with pytest.raises(Exception, match="messages_position_key"), UnitOfWork(database) as uow:
        conversation = _conversation(uow, ["x"])
        messages.copy_new(uow.connection, [_new_message(conversation.id, "user", 0)])
    with UnitOfWork(database) as uow:
        assert conversations.count(uow.connection) == 0


def test_check_constraints_reject_unknown_source_and_role(database) -> None:
    with pytest.raises(Exception, match="conversations_source_check"), UnitOfWork(database) as uow:
        conversations.copy_new(uow.connection, [
            NewConversation(uuid.uuid4(), "", "bard", "x", datetime.now(UTC), "{}")])
    with pytest.raises(Exception, match="messages_role_check"), UnitOfWork(database) as uow:
        conversation = _conversation(uow, [])
        messages.copy_new(uow.connection, [_new_message(conversation.id, "bot", 0)])


def test_settings_round_trip(database) -> None:
    with UnitOfWork(database) as uow:
        settings.set(uow.connection, "worker.heartbeat.a", {"pid": 1})
        settings.set(uow.connection, "worker.heartbeat.b", {"pid": 2})
        settings.set(uow.connection, "worker.heartbeat.b", {"pid": 3})
        settings.set(uow.connection, "search.params", {"k": 60})
    with UnitOfWork(database) as uow:
        assert settings.with_prefix(uow.connection, "worker.heartbeat.") == {
            "worker.heartbeat.a": {"pid": 1},
            "worker.heartbeat.b": {"pid": 3},
        }
        assert settings.delete(uow.connection, "search.params")
        assert settings.get(uow.connection, "search.params", "default") == "default"


def test_jobs_enqueue_dedupes_pending_and_counts_live_jobs(database) -> None:
    message_id = str(uuid.uuid4())
    with UnitOfWork(database) as uow:
        first = jobs.enqueue(uow.connection, "embed_message", {"v": 1}, dedupe_key=f"embed:{message_id}")
        second = jobs.enqueue(uow.connection, "embed_message", {"v": 2}, dedupe_key=f"embed:{message_id}")
        assert first == second
        assert jobs.get(uow.connection, first).payload == {"v": 2}
        uow.connection.execute(
            "UPDATE jobs SET status = 'failed', attempts = 5, last_error = 'x' WHERE id = %s",
            (first,),
        )
    with UnitOfWork(database) as uow:
        assert jobs.live_counts(uow.connection) == {"pending": 0, "running": 0, "failed": 1}
        assert jobs.counts(uow.connection) == {
            "pending": 0, "running": 0, "completed": 0, "failed": 1
        }
        third = jobs.enqueue(uow.connection, "embed_message", {"v": 3}, dedupe_key=f"embed:{message_id}")
        assert third != first  # a failed job does not block a new pending one
        assert jobs.live_counts(uow.connection) == {"pending": 1, "running": 0, "failed": 1}
