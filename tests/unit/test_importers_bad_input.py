"""Bad input, generated in tmp_path: each gets an error or warning naming file and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dovos.importers import ExportError, parse_file
from dovos.importers.files import FULL_TEXT_CHARS


def _write(tmp_path: Path, data: Any, name: str = "export.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _chatgpt(conversation_id: str, *texts: str, title: str = "t") -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    parent = None
    for index, text in enumerate(texts):
        node = f"{conversation_id}-n{index}"
        mapping[node] = {"id": node, "parent": parent, "message": {
            "id": node, "author": {"role": "user" if index % 2 == 0 else "assistant"},
            "create_time": 1_700_000_000 + index,
            "content": {"content_type": "text", "parts": [text]}}}
        parent = node
    return {"id": conversation_id, "title": title, "mapping": mapping, "current_node": parent}


def _claude(conversation_id: str, *messages: dict[str, Any]) -> dict[str, Any]:
    return {"uuid": conversation_id, "name": "n", "chat_messages": list(messages)}


def test_truncated_fixture_is_rejected(exports_dir: Path) -> None:
    path = exports_dir / "invalid" / "truncated_chatgpt.json"
    with pytest.raises(ExportError) as caught:
        parse_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: is not valid JSON")
    assert "line 1, column 31660" in message and "truncated?" in message


@pytest.mark.parametrize("content", [b"", b"   \n\t "])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.json"
    path.write_bytes(content)
    with pytest.raises(ExportError, match=r"empty\.json: is empty$"):
        parse_file(path)


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"id": "x",\n   "mapping": {]\n]')
    with pytest.raises(ExportError, match=r"broken\.json: is not valid JSON: .*\(line 3, column"):
        parse_file(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"nope\.json: cannot be read: No such file"):
        parse_file(tmp_path / "nope.json")


@pytest.mark.parametrize("data", [{"foo": 1}, [{"messages": "x", "title": "t"}], [1, 2], "text"])
def test_unknown_format(tmp_path: Path, data: Any) -> None:
    with pytest.raises(ExportError, match="unknown format"):
        parse_file(_write(tmp_path, data))


def test_unknown_format_lists_the_keys_it_saw(tmp_path: Path) -> None:
    with pytest.raises(ExportError) as caught:
        parse_file(_write(tmp_path, [{"turns": [], "name": "x"}]))
    assert "conversation 0" in str(caught.value) and "keys: name, turns" in str(caught.value)


def test_forced_format_that_does_not_match(tmp_path: Path) -> None:
    path = _write(tmp_path, [_claude("c1", {"uuid": "m", "sender": "human", "text": "hi"})])
    with pytest.raises(ExportError, match=r"conversation 0, field 'mapping': is missing"):
        parse_file(path, format="chatgpt")
    with pytest.raises(ValueError, match="format 'gemini' is not one of"):
        parse_file(path, format="gemini")


def test_empty_list_is_a_warning_not_an_error(tmp_path: Path) -> None:
    parsed = parse_file(_write(tmp_path, []))
    assert parsed.conversations == [] and parsed.format is None
    assert parsed.warnings == [f"{tmp_path / 'export.json'}: holds no conversations"]


def test_conversation_without_messages_is_skipped_with_a_warning(tmp_path: Path) -> None:
    data = [_chatgpt("full", "hello", "hi"), {"id": "empty", "mapping": {}},
            _chatgpt("blank", "   ")]
    parsed = parse_file(_write(tmp_path, data))
    assert [c.source_id for c in parsed.conversations] == ["full"]
    assert [w.split(": ", 1)[1] for w in parsed.warnings] == [
        "conversation 1 ('empty'): holds no messages with text; conversation skipped",
        "conversation 2 ('blank'): holds no messages with text; conversation skipped",
    ]


def test_missing_required_field_names_conversation_and_field(tmp_path: Path) -> None:
    data = [_chatgpt("ok", "hello"), {"id": "broken", "title": "no mapping"}]
    with pytest.raises(ExportError) as caught:
        parse_file(_write(tmp_path, data))
    assert str(caught.value) == (
        f"{tmp_path / 'export.json'}: conversation 1 ('broken'), field 'mapping': is missing")


def test_missing_role_names_the_message(tmp_path: Path) -> None:
    data = [_claude("c1", {"uuid": "m1", "sender": "human", "text": "hi"},
                    {"uuid": "m2", "text": "who said this?"})]
    with pytest.raises(ExportError) as caught:
        parse_file(_write(tmp_path, data))
    assert str(caught.value).endswith(
        "conversation 0 ('c1'), message 1 ('m2'), field 'sender': is missing")


def test_wrong_type_names_the_field(tmp_path: Path) -> None:
    data = [{"uuid": "c1", "chat_messages": {"not": "a list"}}]
    with pytest.raises(ExportError, match=r"field 'chat_messages': is an object, expected a list"):
        parse_file(_write(tmp_path, data), format="claude")


def test_unknown_role_is_kept_as_system_with_a_warning(tmp_path: Path) -> None:
    data = [_claude("c1", {"uuid": "m1", "sender": "narrator", "text": "once upon a time"})]
    parsed = parse_file(_write(tmp_path, data))
    [message] = parsed.conversations[0].messages
    assert message.role == "system" and message.metadata["original_role"] == "narrator"
    assert "field 'sender': unknown role 'narrator'" in parsed.warnings[0]


def test_nul_bytes_are_removed_with_a_warning_naming_the_field(tmp_path: Path) -> None:
    data = [_chatgpt("c1", "bad\x00text", "fine", title="ti\x00tle")]
    data[0]["mapping"]["c1-n1"]["message"]["metadata"] = {"model_slug": "gpt\x00-4"}
    parsed = parse_file(_write(tmp_path, data))
    [conversation] = parsed.conversations
    assert conversation.title == "title"
    assert conversation.messages[0].content == "badtext"
    assert conversation.messages[1].metadata["model"] == "gpt-4"
    prefix = f"{tmp_path / 'export.json'}: conversation 0 ('c1')"
    assert parsed.warnings == [
        f"{prefix}, field 'title': removed 1 NUL character(s) (PostgreSQL text cannot hold them)",
        (f"{prefix}, message 0 ('c1-n0'), field 'content': removed 1 NUL character(s) "
        "(PostgreSQL text cannot hold them)"),
        (f"{prefix}, message 1 ('c1-n1'), field 'metadata.model': removed 1 NUL character(s) "
        "(PostgreSQL text cannot hold them)"),
    ]


def test_lone_surrogates_are_replaced(tmp_path: Path) -> None:
    path = tmp_path / "surrogates.json"
    # Written by hand: json.dumps would not produce a lone surrogate escape.
    path.write_text('[{"uuid": "c1", "name": "bad \\ud800 title", "chat_messages": ['
                    '{"uuid": "m1", "sender": "human", "text": "pair \\ud83d\\ude00 lone \\udc00"}]}]')
    parsed = parse_file(path)
    [conversation] = parsed.conversations
    assert conversation.title == "bad \ufffd title"
    assert conversation.messages[0].content == "pair \U0001f600 lone \ufffd"
    assert len(parsed.warnings) == 2
    assert "field 'title': replaced invalid UTF-16 surrogate" in parsed.warnings[0]
    assert "message 0 ('m1'), field 'content': replaced invalid UTF-16" in parsed.warnings[1]
    conversation.messages[0].content.encode("utf-8")  # storable now


def test_invalid_utf8_bytes_are_replaced_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(json.dumps([_claude("c1", {"uuid": "m", "sender": "human",
                                                "text": "caf@"})]).encode().replace(b"@", b"\xe9"))
    parsed = parse_file(path)
    assert parsed.conversations[0].messages[0].content == "caf\ufffd"
    assert "is not valid UTF-8 (first bad byte at offset" in parsed.warnings[0]


def test_ten_megabyte_message_is_kept_whole_with_a_warning(tmp_path: Path) -> None:
    huge = ("word " * 2_100_000)[:10_000_000]
    parsed = parse_file(_write(tmp_path, [_chatgpt("big", huge, "short answer")]))
    [conversation] = parsed.conversations
    assert len(conversation.messages[0].content) == len(huge.strip())
    [warning] = parsed.warnings
    assert "message 0 ('big-n0'), field 'content': is 9,999,999 characters" in warning
    assert f"{FULL_TEXT_CHARS:,}" in warning


def test_bad_timestamp_becomes_null_with_a_warning(tmp_path: Path) -> None:
    data = [_claude("c1", {"uuid": "m1", "sender": "human", "text": "hi",
                           "created_at": "last tuesday"})]
    parsed = parse_file(_write(tmp_path, data))
    assert parsed.conversations[0].messages[0].created_at is None
    assert "field 'created_at': 'last tuesday' is neither a number nor an ISO 8601 time" in \
        parsed.warnings[0]
