"""The LoCoMo loader: sessions as conversations, turns as messages, qrels, data faults."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dovos.evaluation.locomo import (
    LocomoFormatError,
    load_locomo,
    normalize_evidence,
    parse_session_date,
)

SAMPLE = {
    "sample_id": "conv-x",
    "conversation": {
        "speaker_a": "Ann",
        "speaker_b": "Bob",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ann", "dia_id": "D1:1", "text": "I joined a choir."},
            {"speaker": "Bob", "dia_id": "D1:2", "text": "Look!", "blip_caption": "a red bike"},
        ],
        "session_2_date_time": "10:00 am on 9 June, 2023",
        "session_2": [{"speaker": "Bob", "dia_id": "D2:1", "text": "Choir went well?"}],
    },
    "qa": [
        {"question": "What did Ann join?", "answer": "a choir", "evidence": ["D1:1"], "category": 4},
        {"question": "Two ids", "answer": "x", "evidence": ["D1:2; D2:1"], "category": 1},
        {"question": "Odd ids", "answer": "y", "evidence": ["D:1:1", "D2:01", "D"], "category": 2},
        {"question": "No evidence", "adversarial_answer": "z", "evidence": [], "category": 5},
        {"question": "Unknown turn", "answer": "w", "evidence": ["D9:9"], "category": 4},
    ],
}


@pytest.fixture
def sample_file(tmp_path: Path) -> Path:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([SAMPLE]), encoding="utf-8")
    return path


def test_sessions_become_conversations_and_turns_messages(sample_file: Path) -> None:
    data = load_locomo(sample_file)
    assert [c.source_id for c in data.conversations] == ["conv-x:session_1", "conv-x:session_2"]
    first = data.conversations[0]
    assert first.source == "unknown"
    assert first.title == "Ann & Bob — session 1"
    assert first.created_at == datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    assert first.metadata == {
        "dataset": "locomo", "sample_id": "conv-x", "session": 1,
        "session_date": "1:56 pm on 8 May, 2023",
    }
    ann, bob = first.messages
    assert (ann.role, bob.role) == ("user", "assistant")
    assert data.conversations[1].messages[0].role == "assistant"  # Bob stays assistant
    assert ann.content == "Ann: I joined a choir."
    assert bob.content == "Bob: Look! [image: a red bike]"
    assert bob.source_message_id == "conv-x:D1:2"
    assert bob.metadata == {"speaker": "Bob", "dia_id": "D1:2", "blip_caption": "a red bike"}
    assert not first.problems()


def test_plain_text_option(sample_file: Path) -> None:
    data = load_locomo(sample_file, speaker_prefix=False, captions=False)
    assert data.conversations[0].messages[1].content == "Look!"


def test_questions_qrels_and_known_faults(sample_file: Path) -> None:
    data = load_locomo(sample_file)
    assert [q.text for q in data.questions] == ["What did Ann join?", "Two ids", "Odd ids"]
    assert data.skipped_questions == 2  # no evidence; evidence naming no turn
    assert data.message_qrels["conv-x:q1"] == {"conv-x:D1:2": 1, "conv-x:D2:1": 1}
    assert data.message_qrels["conv-x:q2"] == {"conv-x:D1:1": 1, "conv-x:D2:1": 1}
    assert data.conversation_qrels["conv-x:q1"] == {"conv-x:session_1": 1, "conv-x:session_2": 1}
    assert data.conversation_qrels["conv-x:q0"] == {"conv-x:session_1": 1}
    assert "conv-x:D" in data.dropped_evidence and "conv-x:D9:9" in data.dropped_evidence
    question = data.questions[0]
    assert (question.query_id, question.category, question.sample_id, question.answer) == (
        "conv-x:q0", 4, "conv-x", "a choir",
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("D1:3", ["D1:3"]),
        ("D30:05", ["D30:5"]),
        ("D:11:26", ["D11:26"]),
        ("D8:6; D9:17", ["D8:6", "D9:17"]),
        ("D", []),
        ("", []),
    ],
)
def test_normalize_evidence(raw: str, expected: list[str]) -> None:
    assert normalize_evidence(raw) == expected


def test_session_dates() -> None:
    assert parse_session_date("7:55 pm on 9 June, 2023") == datetime(2023, 6, 9, 19, 55, tzinfo=UTC)
    assert parse_session_date("sometime") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "cannot read"), ('{"a": 1}', "list of samples"), ("[{}]", "sample_id")],
)
def test_bad_files_name_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LocomoFormatError, match=message):
        load_locomo(path)


def test_dev_file_counts(locomo_path: Path) -> None:
    data = load_locomo(locomo_path)
    assert len(data.sample_ids) == 6
    assert data.message_count == 3435
    assert len(data.questions) + data.skipped_questions == 1157
    assert data.skipped_questions == 2
    for conversation in data.conversations:
        assert not conversation.problems()
