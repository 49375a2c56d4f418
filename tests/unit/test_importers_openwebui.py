"""Open WebUI importer on the real export fixtures: currentId walk, details, timestamps."""

from __future__ import annotations

from pathlib import Path

from dovos.importers import parse_file
from dovos.importers.errors import ParseLog, Where
from dovos.importers.openwebui import parse


def test_sample_chats_follow_current_id(exports_dir: Path) -> None:
    parsed = parse_file(exports_dir / "openwebui" / "sample_chats.json")
    assert parsed.format == "openwebui"
    assert [c.source_id for c in parsed.conversations] == [
        "chat-A01", "chat-B02", "chat-C03", "chat-D04", "chat-E05"]
    assert all([m.role for m in c.messages] == ["user", "assistant"]
               for c in parsed.conversations)
    first = parsed.conversations[0]
    # are sibling answers; currentId selects A-003.
    assert [m.source_message_id for m in first.messages] == ["A-001", "A-003"]
    assert first.messages[1].content.startswith("Here are the milestones I found")
    assert first.metadata["tags"] == ["documents", "milestones"]
    assert first.metadata["models"] == ["gpt-4"]
    assert parsed.conversations[3].title == "\U0001f3d6️ HR PTO Balance Redirect (dev room)"
    assert parsed.warnings == []


def test_reasoning_and_tool_call_details(exports_dir: Path) -> None:
    parsed = parse_file(exports_dir / "openwebui" / "tool_calls.json")
    reasoning, tool, simple = parsed.conversations
    answer = reasoning.messages[1]
    assert answer.content == "Let me break this down...\n\n255"  # unescaped, unquoted
    assert answer.metadata == {"includes": ["reasoning"], "model": "deepseek-r1"}
    weather = tool.messages[1]
    assert weather.content == ('[tool call: get_weather]\n\n"Paris: 18C, rain"\n\n'
                               "The weather in Paris is 18C with rain.")
    assert weather.metadata["includes"] == ["tool_call"]
    assert weather.metadata["tool_calls"] == ["get_weather"]
    assert [m.content for m in simple.messages] == ["Hello", "Hi there!"]
    assert simple.messages[0].created_at.isoformat() == "2023-11-14T22:46:40+00:00"  # type: ignore[union-attr]


def test_image_attachment_without_current_id(exports_dir: Path) -> None:
    parsed = parse_file(exports_dir / "openwebui" / "image_attachment.json")
    [conversation] = parsed.conversations
    assert [m.role for m in conversation.messages] == ["user", "assistant"]
    question = conversation.messages[0]
    assert question.content == "What's in this image?\n\n[image: diagram.png]"
    assert "base64" not in question.content
    assert any("'chat.history.currentId': missing" in w for w in parsed.warnings)


def _chat(messages: dict, current: str | None) -> dict:
    return {"id": "c", "title": "t", "chat": {"history": {"messages": messages,
                                                          "currentId": current}}}


def test_dangling_current_id_and_millisecond_timestamps() -> None:
    messages = {
        "u": {"id": "u", "parentId": None, "role": "user", "content": "q",
              "timestamp": 1_700_000_000_000},
        "a1": {"id": "a1", "parentId": "u", "role": "assistant", "content": "first",
               "timestamp": 1_700_000_001_000},
        "a2": {"id": "a2", "parentId": "u", "role": "assistant", "content": "second",
               "timestamp": 1_700_000_002},  # seconds in the same chat
    }
    log = ParseLog()
    [conversation] = parse([_chat(messages, "missing-id")], Where("w.json"), log)
    assert [m.content for m in conversation.messages] == ["q", "second"]
    assert conversation.messages[0].created_at.isoformat() == "2023-11-14T22:13:20+00:00"  # type: ignore[union-attr]
    assert "names 'missing-id', which is not in the export" in log.warnings[0]


def test_inner_chat_object_and_flat_message_list() -> None:
    inner = {"id": "inner", "title": "flat", "messages": [
        {"id": "1", "role": "user", "content": "hello"},
        {"id": "2", "role": "assistant", "content": [{"type": "text", "text": "hi"}]},
    ]}
    [conversation] = parse(inner, Where("w.json"), ParseLog())
    assert conversation.source_id == "inner"
    assert [m.content for m in conversation.messages] == ["hello", "hi"]


def test_reasoning_only_message_is_marked_invisible() -> None:
    content = '<details type="reasoning" done="true"><summary>Thought</summary>&gt; hmm</details>'
    messages = {"a": {"id": "a", "parentId": None, "role": "assistant", "content": content}}
    [conversation] = parse([_chat(messages, "a")], Where("w.json"), ParseLog())
    [message] = conversation.messages
    assert message.content == "hmm"
    assert message.metadata == {"kind": "reasoning", "visible": False}
