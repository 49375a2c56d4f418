"""ChatGPT importer on the real export fixtures: counts, role order, branches, content types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dovos.importers import parse_file
from dovos.importers.chatgpt import parse
from dovos.importers.errors import ParseLog, Where


def _roles(conversation) -> list[str]:  # type: ignore[no-untyped-def]
    return [message.role for message in conversation.messages]


def test_minimal_export_skips_empty_hidden_system_nodes(exports_dir: Path) -> None:
    parsed = parse_file(exports_dir / "chatgpt" / "minimal.json")
    assert parsed.format == "chatgpt"
    [conversation] = parsed.conversations
    assert conversation.source_id == "synthetic-conv-chatgpt-001"
    assert conversation.title == "Python Database Query Optimization"
    assert _roles(conversation) == ["user", "assistant"]
    assert [m.source_message_id for m in conversation.messages] == ["user-msg-1", "assistant-msg-1"]
    assert conversation.messages[0].content.startswith("How can I optimize slow database")
    assert conversation.metadata["model"] == "gpt-4"
    assert conversation.created_at is not None and conversation.created_at.year == 2023
    assert parsed.warnings == []


def test_regenerated_branches_follow_current_node(exports_dir: Path) -> None:
    parsed = parse_file(exports_dir / "chatgpt" / "regenerated_branches.json")
    [conversation] = parsed.conversations
    contents = [m.content for m in conversation.messages]
    assert _roles(conversation) == ["user", "assistant"] * 3
    # The branch current_node selects: "hi again" replaced "so cool bro" and its story.
    assert contents[:5] == ["hi there", "Hello! How can I assist you today?", "hi again",
                            "Hey! Welcome back. What's on your mind?", "tell me a joke"]
    assert not any("so cool bro" in text or "story" in text for text in contents)
    # Two answers to "tell me a joke" exist; the selected one is the last message, once.
    assert conversation.messages[-1].source_message_id == "f63b8e17-aa5c-4ca6-a1bf-d4d285e269b8"
    assert sum("scientists trust atoms" in text for text in contents) == 1
    assert conversation.metadata["branches"] == 3


def test_browsing_export_keeps_tool_turns_marked_invisible(exports_dir: Path) -> None:
    parsed = parse_file(exports_dir / "chatgpt" / "browsing_tools_2023.json")
    assert [len(c.messages) for c in parsed.conversations] == [15, 4]
    first = parsed.conversations[0]
    assert _roles(first)[:6] == ["user", "assistant", "tool", "assistant", "tool", "tool"]
    call, display, _, quote = first.messages[1], first.messages[2], first.messages[3], first.messages[4]
    assert call.metadata == {"content_type": "code", "kind": "tool_call", "visible": False,
                             "recipient": "browser", "model": "gpt-4"}
    assert call.content.startswith('search("Volkswagen Transporter fuel consumption')
    assert display.metadata["kind"] == "browsing" and display.metadata["visible"] is False
    assert "Fuelly" in display.content
    # A quote keeps its page title and URL beside the quoted text, all searchable.
    assert quote.metadata["kind"] == "quote"
    assert "ultimatespecs.com" in quote.content and "2021 Volkswagen Transporter" in quote.content
    visible = [m for m in first.messages if m.metadata.get("visible", True)]
    assert _roles_of(visible) == ["user", "assistant"] * 3
    assert max(len(m.content) for m in first.messages) > 5_000  # long tool output kept whole


def _roles_of(messages) -> list[str]:  # type: ignore[no-untyped-def]
    return [message.role for message in messages]


def test_every_content_type_maps_to_text_and_kind(exports_dir: Path) -> None:
    parsed = parse_file(exports_dir / "chatgpt" / "content_types.json")
    [conversation] = parsed.conversations
    by_id = {m.source_message_id: m for m in conversation.messages}
    assert len(conversation.messages) == 15  # no children lists: rebuilt from parent links
    expected = {
        "msg-text": ("Hello world", None, True),
        "msg-multimodal": ("Check this image\n\n[image]", None, True),
        "msg-thoughts": ("Let me think about this...", "reasoning", False),
        "msg-reasoning-recap": ("To summarize my reasoning...", "reasoning", False),
        "msg-code": ("print('hello')", "code", True),
        "msg-exec-output": ("hello", "execution_output", False),
        "msg-tether-quote": ("According to the article...", "quote", False),
        "msg-tether-browsing": ("Browsing results...", "browsing", False),
        "msg-user-editable": ("Custom instructions text", "context", False),
        "msg-app-pairing": ("App pairing data", "context", False),
        "msg-sys-error": ("An error occurred", "error", True),
        "msg-image-asset": ("[image]", "image", True),
        "msg-image": ("[image]", "image", True),
        "msg-unknown": ("some data", "unknown", True),
        "msg-recipient": ("import os", "tool_call", False),
    }
    for message_id, (content, kind, visible) in expected.items():
        message = by_id[message_id]
        assert message.content == content, message_id
        assert message.metadata.get("kind") == kind, message_id
        assert message.metadata.get("visible", True) is visible, message_id
    assert by_id["msg-user-editable"].metadata["hidden"] is True
    assert by_id["msg-unknown"].metadata["content_type"] == "brand_new_type"
    assert any("unknown content type 'brand_new_type'" in w and "message 13" in w
               for w in parsed.warnings)
    assert any("'current_node': missing" in w for w in parsed.warnings)


def test_reasoning_thoughts_without_ids_get_a_stable_derived_id(exports_dir: Path) -> None:
    first = parse_file(exports_dir / "chatgpt" / "reasoning_thoughts.json")
    second = parse_file(exports_dir / "chatgpt" / "reasoning_thoughts.json")
    [conversation] = first.conversations
    assert conversation.source_id.startswith("derived-")
    assert conversation.source_id == second.conversations[0].source_id
    assert _roles(conversation) == ["user", "assistant", "assistant"]
    thoughts = conversation.messages[1]
    assert thoughts.metadata["kind"] == "reasoning" and thoughts.metadata["visible"] is False
    assert thoughts.content.startswith("Identifying prime numbers under 100\n\nI need to find")
    assert "1,060" in conversation.messages[2].content
    assert any("field 'id': is missing" in w for w in first.warnings)


def _node(node_id: str, parent: str | None, role: str, text: str, time: float | None) -> dict:
    return {"id": node_id, "parent": parent, "message": {
        "id": node_id, "author": {"role": role}, "create_time": time,
        "content": {"content_type": "text", "parts": [text]}}}


def test_dangling_current_node_takes_most_recent_leaf() -> None:
    mapping = {
        "a": _node("a", None, "user", "question", 1.0),
        "b1": _node("b1", "a", "assistant", "old answer", 2.0),
        "b2": _node("b2", "a", "assistant", "new answer", 3),  # int time
        "b3": _node("b3", "a", "assistant", "undated answer", None),
    }
    log = ParseLog()
    [conversation] = parse({"id": "c1", "title": "t", "mapping": mapping,
                            "current_node": "gone"}, Where("f.json"), log)
    assert [m.content for m in conversation.messages] == ["question", "new answer"]
    assert log.warnings == [
        ("f.json: conversation 0 ('c1'), field 'current_node': names 'gone', which is not in "
        "the export; took the most recent leaf 'b2'")
    ]


def test_single_conversation_object_and_multimodal_audio() -> None:
    message = {"id": "m", "author": {"role": "user"}, "create_time": None, "content": {
        "content_type": "multimodal_text",
        "parts": [{"content_type": "audio_transcription", "text": "spoken words"},
                  {"content_type": "audio_asset_pointer", "asset_pointer": "x"},
                  {"content_type": "image_asset_pointer", "metadata": {"dalle": {"prompt": "a cat"}}}],
    }}
    data = {"conversation_id": "solo", "mapping": {"m": {"id": "m", "parent": None,
                                                        "message": message}}}
    [conversation] = parse(data, Where("f.json"), ParseLog())
    assert conversation.messages[0].content == "spoken words\n\n[audio]\n\n[image: a cat]"


def test_canvas_document_is_indexed_as_text_not_json() -> None:
    document = {"name": "plan", "type": "document", "content": "Step one: buy flour"}
    message = {"id": "m", "author": {"role": "assistant"}, "recipient": "canmore.create_textdoc",
               "content": {"content_type": "code", "text": json.dumps(document)}}
    data = [{"id": "canvas", "mapping": {"m": {"parent": None, "message": message}}}]
    [conversation] = parse(data, Where("f.json"), ParseLog())
    [parsed] = conversation.messages
    assert parsed.content == "plan\n\nStep one: buy flour"
    assert parsed.metadata["kind"] == "canvas"


@pytest.mark.parametrize("time", [1_700_000_000, 1_700_000_000.5, 1_700_000_000_000, None, "2023-11-14T22:13:20Z"])
def test_times_in_any_form(time: object) -> None:
    data = [{"id": "t", "create_time": time,
             "mapping": {"a": _node("a", None, "user", "hi", time)}}]  # type: ignore[arg-type]
    [conversation] = parse(data, Where("f.json"), ParseLog())
    created = conversation.messages[0].created_at
    assert (created is None) if time is None else created.date().isoformat() == "2023-11-14"


def test_analysis_channel_is_reasoning() -> None:
    message = {"id": "m", "author": {"role": "assistant"}, "channel": "analysis",
               "content": {"content_type": "text", "parts": ["weighing the options"]}}
    data = [{"id": "c", "mapping": {"m": {"parent": None, "message": message}}}]
    [conversation] = parse(data, Where("f.json"), ParseLog())
    assert conversation.messages[0].metadata == {
        "content_type": "text", "kind": "reasoning", "visible": False}
