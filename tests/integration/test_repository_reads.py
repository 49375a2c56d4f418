"""The workbench's reads through dovos.repositories: context around a hit, title search,
filter choices, dataset counts and the seeded known-item sample."""

from __future__ import annotations

import uuid

import pytest

from dovos.evaluation.datasets import stored_counts
from dovos.evaluation.explore import archive_choices, conversation_context, conversations_matching
from dovos.evaluation.judging import lookup_docs, sample_user_turns
from dovos.evaluation.known_items import fetch_candidates
from dovos.evaluation.queryset_archive import archive_ids
from dovos.ingest import ParsedConversation, ParsedMessage, ingest
from dovos.repositories import conversations, messages


def _store(database, title: str, source_id: str, bodies: list[str], tag: str) -> None:  # type: ignore[no-untyped-def]
    conversation = ParsedConversation(
        source="claude", source_id=source_id, title=title, metadata={"dataset": tag},
        messages=[ParsedMessage("user" if i % 2 == 0 else "assistant", body,
                                source_message_id=f"{source_id}-{i}")
                  for i, body in enumerate(bodies)],
    )
    with database.connect() as connection:
        ingest(connection, [conversation])


def test_context_search_choices_and_counts(database) -> None:  # type: ignore[no-untyped-def]
    _store(database, "Trip to 100% Lisbon_", "a", [f"turn {i}" for i in range(8)], "t1")
    _store(database, "Groceries", "b", ["milk", "eggs"], "t2")
    with database.connect() as connection:
        assert messages.context(connection, uuid.uuid4(), 1, 1) == []
        [found] = conversations.find_by_source(connection, [("claude", "a")])
        by_text = {m.content: m.id for m in messages.for_conversations(connection, [found.id])}
        sample = messages.seeded_sample(connection, "s", 100, {"dataset": "t1"})
    assert sorted(row.doc for row in sample) == [f"a-{i}" for i in range(8)]

    hit = by_text["turn 4"]
    frame = conversation_context(hit, before=2, after=1, database=database)
    assert list(frame["content"]) == ["turn 2", "turn 3", "turn 4", "turn 5"]
    assert list(frame["is_hit"]) == [False, False, True, False]
    assert frame.attrs["title"] == "Trip to 100% Lisbon_" and frame.attrs["source"] == "claude"
    with pytest.raises(LookupError, match="not in this archive"):
        conversation_context(uuid.uuid4(), database=database)

    assert len(conversations_matching("100%", database=database)) == 1  # % matched literally
    assert conversations_matching("1000%", database=database) == []
    assert conversations_matching("n_", database=database) != []
    assert conversations_matching("x_", database=database) == []  # _ matched literally
    assert archive_choices(database) == {"sources": ["claude"], "roles": ["assistant", "user"]}
    assert stored_counts(database, "t1") == (1, 8)
    assert stored_counts(database, "none") == (0, 0)
    first = fetch_candidates(database, seed=1, limit=5, scope={"dataset": "t1"})
    assert first == fetch_candidates(database, seed=1, limit=5, scope={"dataset": "t1"})
    assert {doc for doc, _ in first} <= {f"a-{i}" for i in range(8)} and len(first) == 5


def test_judging_reads_draw_user_turns_and_find_documents(database) -> None:  # type: ignore[no-untyped-def]
    _store(database, "Plans", "p", ["what should we cook  tonight", "pasta", "too short",
                                    "sure", "and what about the weekend plans then"], "t")
    turns = sample_user_turns(database, count=10, seed=3)
    # User turns of 3 to 30 words only, whitespace collapsed.
    assert sorted(turns) == [("p-0", "what should we cook tonight"),
                             ("p-4", "and what about the weekend plans then")]
    assert turns == sample_user_turns(database, count=10, seed=3)
    found = lookup_docs(database, ["p-1", "nope"])
    assert list(found) == ["p-1"]
    assert (found["p-1"].title, found["p-1"].role, found["p-1"].content) == (
        "Plans", "assistant", "pasta")
    assert archive_ids(database, ["p-1", "nope", found["p-1"].message_id]) == {
        "p-1", found["p-1"].message_id}
    assert archive_ids(database, ["p", "q"], level="conversation") == {"p"}
