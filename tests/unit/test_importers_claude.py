"""Claude importer on the real export fixtures: blocks, text dedup, attachments, artifacts."""

from __future__ import annotations

from pathlib import Path

from dovos.importers import parse_file
from dovos.importers.claude import parse
from dovos.importers.errors import ParseLog, Where


def test_minimal_export(exports_dir: Path) -> None:
    parsed = parse_file(exports_dir / "claude" / "minimal.json")
    assert parsed.format == "claude"
    [conversation] = parsed.conversations
    assert conversation.source_id == "synthetic-conv-claude-001"
    assert conversation.title == "REST API Design Best Practices"
    assert [m.role for m in conversation.messages] == ["user", "assistant"] * 2
    assert [m.source_message_id for m in conversation.messages] == [
        f"synthetic-msg-00{i}" for i in range(1, 5)]
    # `text` repeats the single text block: indexed once.
    first = conversation.messages[0].content
    assert first == "What are the key principles for designing a good REST API?"


def test_content_blocks_export(exports_dir: Path) -> None:
    parsed = parse_file(exports_dir / "claude" / "content_blocks.json")
    assert len(parsed.conversations) == 5
    assert all([m.role for m in c.messages] == ["user", "assistant"] for c in parsed.conversations)
    answer = parsed.conversations[0].messages[1].content
    assert answer.startswith("Let me provide a concise explanation")  # leading space trimmed
    assert answer.count("Values-based leadership is an approach") == 1


def test_tool_use_blocks(exports_dir: Path) -> None:
    parsed = parse_file(exports_dir / "claude" / "tool_use_blocks.json")
    assert [len(c.messages) for c in parsed.conversations] == [6, 4, 5, 8]
    first = parsed.conversations[0]
    assert [m.role for m in first.messages] == [
        "user", "assistant", "tool", "assistant", "tool", "assistant"]
    call = first.messages[1]
    assert call.metadata == {"includes": ["tool_call"]}
    assert "[tool call: write_file]" in call.content
    assert "def fibonacci(n):" in call.content  # tool input kept as searchable code
    result = first.messages[2]
    assert result.metadata == {"kind": "tool_result", "visible": False}
    assert result.content == "File written successfully to fibonacci.py (285 bytes)"
    # `text` is a prefix of the longer text block: not indexed twice.
    last = first.messages[5].content
    assert last.count("Perfect! The script works correctly") == 1
    assert last.endswith("[0, 1, 1, 2, 3, 5, 8, 13, 21, 34]")
    only_tool = parsed.conversations[3].messages[1]
    assert only_tool.metadata == {"kind": "tool_call", "visible": False}
    assert only_tool.content == "[tool call: calculator]\n\nexpression: 42 * 137"


def test_thinking_blocks(exports_dir: Path) -> None:
    parsed = parse_file(exports_dir / "claude" / "thinking_blocks.json")
    [conversation] = parsed.conversations
    # The token_budget-only message carries no text and is left out.
    assert [m.source_message_id for m in conversation.messages] == [
        "msg-thinking-block", "msg-thinking-only"]
    mixed, thinking = conversation.messages
    assert mixed.content == "Let me analyze this step by step...\n\nHere is my answer."
    assert mixed.metadata == {"includes": ["reasoning"]}
    assert thinking.content == "Processing..."
    assert thinking.metadata == {"kind": "reasoning", "visible": False}


def test_attachments_and_files(exports_dir: Path) -> None:
    parsed = parse_file(exports_dir / "claude" / "attachments.json")
    [conversation] = parsed.conversations
    by_id = {m.source_message_id: m for m in conversation.messages}
    assert "msg-empty-filename" not in by_id  # no text and a nameless file: nothing to index
    assert by_id["msg-with-attachments"].content == (
        "Please review this document\n\n[attachment: report.pdf]\n\n"
        "This is the extracted text from the PDF document.")
    assert by_id["msg-with-files-only"].content == (
        "Here are my files\n\n[file: data.csv]\n\n[file: image.png]")
    assert by_id["msg-with-both"].metadata == {"attachments": ["notes.txt"],
                                               "files": ["backup.zip"]}
    assert "Full extracted text from the uploaded PDF." in by_id["msg-attachment-only"].content


def test_inline_artifacts_and_time_order(exports_dir: Path) -> None:
    parsed = parse_file(exports_dir / "claude" / "artifacts_inline_2024.json")
    [conversation] = parsed.conversations
    assert len(conversation.messages) == 20
    # The export lists one later human turn first; time order puts it back in place.
    assert [m.role for m in conversation.messages] == ["user", "assistant"] * 10
    assert conversation.messages[0].content.startswith("Built me an artifact with no react")
    times = [m.created_at for m in conversation.messages]
    assert times == sorted(times)  # type: ignore[type-var]
    answer = conversation.messages[1]
    assert "<antArtifact" not in answer.content and "<antThinking>" not in answer.content
    assert "[artifact: LLM Pricing Calculator]\n<!DOCTYPE html>" in answer.content
    assert answer.metadata["artifacts"] == [{"identifier": "llm-pricing-calculator",
                                             "type": "text/html",
                                             "title": "LLM Pricing Calculator"}]
    assert answer.metadata["includes"] == ["reasoning"]
    screenshots = conversation.messages[6]
    assert screenshots.content.count("[file: CleanShot") == 5


def test_text_repeating_thinking_is_not_indexed_twice() -> None:
    message = {"uuid": "m", "sender": "assistant",
               "text": "I should check the units first.\n\nThe answer is 42 metres.",
               "content": [{"type": "thinking", "thinking": "I should check the units first."},
                           {"type": "text", "text": "The answer is 42 metres."}]}
    [conversation] = parse([{"uuid": "c", "chat_messages": [message]}], Where("f"), ParseLog())
    content = conversation.messages[0].content
    assert content.count("check the units") == 1 and content.count("42 metres") == 1


def test_text_holding_more_than_blocks_adds_only_the_rest() -> None:
    message = {"uuid": "m", "sender": "human", "text": "Hello there. Extra words only in text.",
               "content": [{"type": "text", "text": "Hello there."}]}
    [conversation] = parse([{"uuid": "c", "chat_messages": [message]}], Where("f"), ParseLog())
    assert conversation.messages[0].content == "Hello there.\n\nExtra words only in text."
