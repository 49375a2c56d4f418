"""Claude (Anthropic) export `conversations.json` -> ParsedConversation.

Each conversation holds `chat_messages`. Newer exports split a message into `content`
blocks (text, thinking, tool_use, tool_result) and also keep a flat `text` that repeats
some or all of them; older ones have only `text`, with artifacts inline as
`<antArtifact>` markup. The blocks are the source of truth; `text` adds only what the
blocks do not already hold, so nothing is indexed twice. Attachments contribute their
extracted text, files a placeholder with their name. Messages are put in time order
(some exports list them out of order); equal times keep the listed order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dovos.importers.errors import ParseLog, Where
from dovos.importers.fields import (
    compact,
    conversation_items,
    derived_id,
    join_text,
    optional_str,
    require,
    role_of,
    text_value,
)
from dovos.importers.parsed import ParsedConversation, ParsedMessage
from dovos.importers.times import read_time

SOURCE = "claude"

# block type -> kind stored in metadata; these are not shown as chat text.
_HIDDEN_BLOCKS = {"thinking": "reasoning", "redacted_thinking": "reasoning",
                  "tool_use": "tool_call", "tool_result": "tool_result"}

_ARTIFACT = re.compile(r"<antArtifact\b([^>]*)>(.*?)(?:</antArtifact>|\Z)", re.DOTALL)
_ANT_THINKING = re.compile(r"<antThinking>(.*?)(?:</antThinking>|\Z)", re.DOTALL)
_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')
_WORD = re.compile(r"\w+")


@dataclass
class _Parts:
    """Pieces of one message's text, with what kinds they were."""

    texts: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)  # block texts, to compare `text` against

    def add(self, kind: str, text: str, raw: str | None = None) -> None:
        if text.strip():
            self.texts.append(text)
            self.kinds.append(kind)
            self.raw.append(raw if raw is not None else text)


def parse(data: Any, where: Where, log: ParseLog) -> list[ParsedConversation]:
    """Every conversation of a Claude export (a list, or one conversation object)."""
    return [
        parse_conversation(item, where.at(conversation=index), log)
        for index, item in enumerate(conversation_items(data, where))
    ]


def parse_conversation(item: dict[str, Any], where: Where, log: ParseLog) -> ParsedConversation:
    source_id = optional_str(item, "uuid", "id")
    where = where.at(conversation_id=source_id)
    raw_messages = require(item, "chat_messages", list, where)
    created = read_time(item.get("created_at"), log, where, "created_at")
    if source_id is None:
        first = raw_messages[0].get("uuid") if raw_messages and isinstance(raw_messages[0], dict) \
            else None
        source_id = derived_id(SOURCE, log, where, "uuid", item.get("created_at"), first)
        where = where.at(conversation_id=source_id)
    timed = []
    for index, raw in enumerate(raw_messages):
        at = where.at(message=index, message_id=raw.get("uuid") if isinstance(raw, dict) else None)
        if not isinstance(raw, dict):
            log.warning(at, "is not an object; message skipped")
            continue
        message = parse_message(raw, at, log)
        if message is not None:
            timed.append(message)
    return ParsedConversation(
        source=SOURCE,
        source_id=source_id,
        title=text_value(item.get("name")),
        messages=_in_time_order(timed),
        created_at=created,
        metadata=_conversation_metadata(item, log, where),
    )


def parse_message(raw: dict[str, Any], where: Where, log: ParseLog) -> ParsedMessage | None:
    """One chat message as searchable text, or None when it holds none."""
    role, role_meta = role_of(raw.get("sender"), log, where, "sender")
    parts = _Parts()
    blocks = raw.get("content")
    if isinstance(blocks, list):
        for block in blocks:
            _add_block(parts, block)
    flat = raw.get("text") if isinstance(raw.get("text"), str) else ""
    extra = _not_in_blocks(flat, parts.raw)
    if extra:
        parts.add("text", extra)
    attachments = _attachments(raw, parts)
    files = _files(raw, parts)
    inline_reasoning = any("<antThinking>" in text for text in parts.texts)
    artifacts = _expand_artifacts(parts)
    if not parts.texts:
        return None
    hidden = sorted({_HIDDEN_BLOCKS[k] for k in parts.kinds if k in _HIDDEN_BLOCKS}
                    | ({"reasoning"} if inline_reasoning else set()))
    only_hidden = all(kind in _HIDDEN_BLOCKS for kind in parts.kinds)
    if only_hidden and set(parts.kinds) == {"tool_result"}:
        role = "tool"  # sent as the human turn, but it is the tool speaking
    metadata = compact({
        "kind": hidden[0] if only_hidden and len(hidden) == 1 else None,
        "visible": False if only_hidden else None,
        "includes": hidden if hidden and not only_hidden else None,
        "attachments": attachments,
        "files": files,
        "artifacts": artifacts,
        **role_meta,
    })
    return ParsedMessage(
        role=role,
        content=join_text(parts.texts).strip(),
        created_at=read_time(raw.get("created_at"), log, where, "created_at"),
        source_message_id=optional_str(raw, "uuid", "id"),
        metadata=metadata,
    )


def _add_block(parts: _Parts, block: Any) -> None:
    if not isinstance(block, dict):
        parts.add("text", text_value(block))
        return
    kind = block.get("type")
    if kind == "thinking":
        parts.add(kind, text_value(block.get("thinking")))
    elif kind == "tool_use":
        name = text_value(block.get("name")) or "tool"
        body = _tool_input(block.get("input"))
        parts.add(kind, join_text([f"[tool call: {name}]", body]), body)
    elif kind == "tool_result":
        parts.add(kind, _result_text(block.get("content")))
    elif isinstance(block.get("text"), str):
        parts.add("text", block["text"])
    elif kind in ("image", "document"):
        parts.add("text", f"[{kind}]")
    # Blocks without text (token_budget, redacted_thinking, ...) carry nothing to search.


def _tool_input(value: Any) -> str:
    """Tool arguments as `key: value` lines, strings unquoted so code stays searchable."""
    if not isinstance(value, dict):
        return text_value(value)
    return "\n".join(f"{key}: {text_value(item)}" for key, item in value.items())


def _result_text(content: Any) -> str:
    if isinstance(content, list):
        return join_text([
            text_value(item.get("text")) if isinstance(item, dict) else text_value(item)
            for item in content
        ])
    return text_value(content)


def _not_in_blocks(flat: str, block_texts: list[str]) -> str:
    """The part of a message's flat `text` that its content blocks do not already hold.

    Exports write `text` as a copy of the blocks, a shortened copy of them, or the
    thinking and answer run together; when (nearly) every word of it is in the blocks,
    it adds nothing. Otherwise what is left after removing each block's text is added.
    """
    if not flat.strip() or _squash(flat) in _squash(" ".join(block_texts)):
        return ""
    words = _WORD.findall(flat.lower())
    known = set(_WORD.findall(" ".join(block_texts).lower()))
    missing = sum(word not in known for word in words)
    if missing <= len(words) // 20:  # allow 5% (punctuation-level edits, numbering)
        return ""
    rest = flat
    for block_text in block_texts:
        if block_text.strip():
            rest = rest.replace(block_text.strip(), "", 1)
    return rest.strip()


def _squash(text: str) -> str:
    return " ".join(text.split())


def _attachments(raw: dict[str, Any], parts: _Parts) -> list[str]:
    names = []
    for attachment in raw.get("attachments") or []:
        if not isinstance(attachment, dict):
            continue
        name = text_value(attachment.get("file_name")) or "attachment"
        names.append(name)
        parts.add("attachment", join_text([f"[attachment: {name}]",
                                           text_value(attachment.get("extracted_content"))]))
    return names


def _files(raw: dict[str, Any], parts: _Parts) -> list[str]:
    names = []
    for item in raw.get("files") or []:
        name = text_value(item.get("file_name")) if isinstance(item, dict) else ""
        if name:
            names.append(name)
            parts.add("file", f"[file: {name}]")
    return names


def _expand_artifacts(parts: _Parts) -> list[dict[str, str]]:
    """Rewrite inline artifact markup as plain text; return the artifacts it declared."""
    artifacts: list[dict[str, str]] = []

    def artifact(match: re.Match[str]) -> str:
        attributes = dict(_ATTRIBUTE.findall(match.group(1)))
        artifacts.append(compact({key: attributes.get(key)
                                  for key in ("identifier", "type", "title", "language")}))
        label = attributes.get("title") or attributes.get("identifier") or "artifact"
        return f"[artifact: {label}]\n{match.group(2).strip()}"

    for index, (kind, text) in enumerate(zip(parts.kinds, parts.texts, strict=True)):
        if kind == "text" and "<ant" in text:
            text = _ANT_THINKING.sub(lambda m: m.group(1).strip(), text)
            parts.texts[index] = _ARTIFACT.sub(artifact, text)
    return artifacts


def _in_time_order(messages: list[ParsedMessage]) -> list[ParsedMessage]:
    """Messages sorted by time when every one has a time; listed order breaks ties."""
    if any(message.created_at is None for message in messages):
        return messages
    return sorted(messages, key=lambda message: message.created_at or datetime.min)


def _conversation_metadata(item: dict[str, Any], log: ParseLog, where: Where) -> dict[str, Any]:
    updated = read_time(item.get("updated_at"), log, where, "updated_at")
    project = item.get("project") if isinstance(item.get("project"), dict) else {}
    return compact({
        "summary": item.get("summary") if isinstance(item.get("summary"), str) else None,
        "model": item.get("model") if isinstance(item.get("model"), str) else None,
        "project": project.get("name") if isinstance(project.get("name"), str) else None,
        "updated_at": updated.isoformat() if updated else None,
    })
