"""Triggers, cascades, views and the unit of work, on the real server."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from sqlalchemy import text

from dovos.db.models import Conversation, Message, MessageEmbedding


def _conversation(uow, messages: list[str], source_id: str = "c1") -> Conversation:  # type: ignore[no-untyped-def]
    conversation = Conversation(title="T", source="chatgpt", source_id=source_id)
    conversation.messages = [
        Message(role="user" if i % 2 == 0 else "assistant", content=body, position=i)
        for i, body in enumerate(messages)
    ]
    return uow.conversations.add(conversation)


def test_version_bumps_only_when_content_changes(database) -> None:
    with database.unit_of_work() as uow:
        message_id = _conversation(uow, ["hello"]).messages[0].id
    with database.unit_of_work() as uow:
        assert uow.messages.update_content(message_id, "hello") == 1
        assert uow.messages.update_content(message_id, "hello again") == 2
        assert uow.messages.update_content(message_id, "hello again") == 2
        assert uow.messages.update_content(message_id, "third") == 3
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE messages SET metadata = '{\"x\": 1}' WHERE id = :id"), {"id": message_id})
        conn.execute(text("UPDATE messages SET version = 99 WHERE id = :id"), {"id": message_id})
        version = conn.execute(text("SELECT version FROM messages WHERE id = :id"), {"id": message_id})
        assert version.scalar_one() == 3  # metadata edits and direct writes do not move it


def test_updated_at_is_touched_on_update(database) -> None:
    with database.unit_of_work() as uow:
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
    with database.unit_of_work() as uow:
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
    with database.unit_of_work() as uow:
        conversation = _conversation(uow, ["one", "two"])
        uow.session.add(
            MessageEmbedding(
                message_id=conversation.messages[0].id,
                model="m",
                embedding=np.ones(384, dtype=np.float32),
                message_version=1,
            )
        )
    with database.unit_of_work() as uow:
        assert uow.conversations.delete(conversation.id)
    with database.unit_of_work() as uow:
        assert uow.messages.count() == 0
        assert uow.embeddings.count() == 0


def test_conversation_summaries_view(database) -> None:
    with database.unit_of_work() as uow:
        first = _conversation(uow, ["first question", "answer", "follow-up"], "a")
        empty = _conversation(uow, [], "empty")
    with database.unit_of_work() as uow:
        summary = uow.conversations.summary(first.id)
        page = uow.conversations.list_page(page=1, limit=1)
        second_page = uow.conversations.list_page(page=2, limit=1)
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
    with database.unit_of_work() as uow:
        conversation = _conversation(uow, ["a", "b", "c", "d"])
        for position, message in enumerate(conversation.messages[:3]):
            uow.session.add(
                MessageEmbedding(
                    message_id=message.id, model="m", embedding=np.ones(384), message_version=1,
                    context_version=1 if position else 0,
                )
            )
    with database.unit_of_work() as uow:
        assert uow.embeddings.coverage("m").stale == 0
        uow.messages.update_content(conversation.messages[0].id, "changed")
    with database.unit_of_work() as uow:
        coverage = uow.embeddings.coverage("m")
        other = uow.embeddings.coverage("other-model")
        view = uow.session.execute(text("SELECT model, total, embedded, stale FROM embedding_coverage")).all()
    # Stale: the edited message, and the next one, embedded with the old text as context.
    assert (coverage.total, coverage.embedded, coverage.stale) == (4, 3, 2)
    assert coverage.current == 1 and coverage.missing == 1 and coverage.percent == 25.0
    assert (other.total, other.embedded) == (4, 0)
    assert [tuple(row) for row in view] == [("m", 4, 3, 2)]


def test_an_edit_enqueues_jobs_for_the_message_and_the_next_turn(database) -> None:
    with database.unit_of_work() as uow:
        conversation = _conversation(uow, ["a", "b", "c"])
        ids = [message.id for message in conversation.messages]
    with database.unit_of_work() as uow:
        assert uow.messages.update_content(ids[1], "b") == 1  # unchanged: no job
        assert uow.jobs.live_counts()["pending"] == 0
        assert uow.messages.update_content(ids[1], "b, edited") == 2
        assert uow.messages.update_content(uuid.uuid4(), "x") is None
    with database.engine.connect() as conn:
        payloads = conn.execute(text("SELECT payload FROM jobs")).scalars().all()
    assert sorted((p["message_id"], p["version"]) for p in payloads) == sorted(
        [(str(ids[1]), 2), (str(ids[2]), 1)]
    )


def test_unit_of_work_rolls_back_everything_on_error(database) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with database.unit_of_work() as uow:
            _conversation(uow, ["kept?"])
            uow.settings.set("search.params", {"rrf_k": 60})
            uow.jobs.enqueue("embed_message", {"x": 1})
            raise RuntimeError("boom")
    with database.unit_of_work() as uow:
        assert uow.conversations.count() == 0
        assert uow.settings.get("search.params") is None
        assert sum(uow.jobs.counts_by_status().values()) == 0


def test_unit_of_work_rolls_back_on_database_error(database) -> None:
    with pytest.raises(Exception, match="messages_position_key"):
        with database.unit_of_work() as uow:
            conversation = _conversation(uow, ["x"])
            uow.messages.add(Message(conversation_id=conversation.id, role="user", content="dup", position=0))
    with database.unit_of_work() as uow:
        assert uow.conversations.count() == 0


def test_check_constraints_reject_unknown_source_and_role(database) -> None:
    with pytest.raises(Exception, match="conversations_source_check"):
        with database.unit_of_work() as uow:
            uow.conversations.add(Conversation(title="", source="bard", source_id="x"))
    with pytest.raises(Exception, match="messages_role_check"):
        with database.unit_of_work() as uow:
            conversation = _conversation(uow, [])
            uow.messages.add(Message(conversation_id=conversation.id, role="bot", content="", position=0))


def test_settings_round_trip(database) -> None:
    with database.unit_of_work() as uow:
        uow.settings.set("worker.heartbeat.a", {"pid": 1})
        uow.settings.set("worker.heartbeat.b", {"pid": 2})
        uow.settings.set("worker.heartbeat.b", {"pid": 3})
        uow.settings.set("search.params", {"k": 60})
    with database.unit_of_work() as uow:
        assert uow.settings.with_prefix("worker.heartbeat.") == {
            "worker.heartbeat.a": {"pid": 1},
            "worker.heartbeat.b": {"pid": 3},
        }
        assert uow.settings.delete("search.params")
        assert uow.settings.get("search.params", "default") == "default"


def test_jobs_enqueue_dedupes_pending_and_counts_live_jobs(database) -> None:
    message_id = str(uuid.uuid4())
    with database.unit_of_work() as uow:
        first = uow.jobs.enqueue("embed_message", {"v": 1}, dedupe_key=f"embed:{message_id}")
        second = uow.jobs.enqueue("embed_message", {"v": 2}, dedupe_key=f"embed:{message_id}")
        assert first == second
        assert uow.jobs.get(first).payload == {"v": 2}
        uow.session.execute(
            text("UPDATE jobs SET status = 'failed', attempts = 5, last_error = 'x' WHERE id = :id"),
            {"id": first},
        )
    with database.unit_of_work() as uow:
        assert uow.jobs.live_counts() == {"pending": 0, "running": 0, "failed": 1}
        assert uow.jobs.counts_by_status() == {
            "pending": 0, "running": 0, "completed": 0, "failed": 1
        }
        third = uow.jobs.enqueue("embed_message", {"v": 3}, dedupe_key=f"embed:{message_id}")
        assert third != first  # a failed job does not block a new pending one
        assert uow.jobs.live_counts() == {"pending": 1, "running": 0, "failed": 1}
