"""Open WebUI chat export -> ParsedConversation.

A file is a list of chats, one chat, or the inner `chat` object alone. Messages live in
`chat.history.messages` keyed by id, linked by `parentId`; `history.currentId` names the
leaf shown last, and only that branch is imported (see tree.py); older exports without
a history keep a flat `chat.messages` list. Reasoning and tool-call output arrive inside
the content as `<details type="reasoning|tool_calls|...">` HTML: it is turned into plain
text in place and marked in metadata (`includes`, or `kind` + `visible: false` when a
message holds nothing else). Timestamps may be seconds or milliseconds.
"""

from __future__ import annotations

import html
import re
from typing import Any

from dovos.importers.errors import ExportError, ParseLog, Where
from dovos.importers.fields import (
    compact,
    conversation_items,
    derived_id,
    join_text,
    optional_str,
    role_of,
    text_value,
    type_name,
)
from dovos.importers.parsed import ParsedConversation, ParsedMessage
from dovos.importers.times import TimestampError, read_time, to_datetime
from dovos.importers.tree import select_branch

SOURCE = "openwebui"

_DETAILS = re.compile(r"<details\b([^>]*)>(.*?)</details>", re.DOTALL)
_SUMMARY = re.compile(r"<summary>.*?</summary>", re.DOTALL)
_ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')
_DETAIL_KINDS = {"reasoning": "reasoning", "tool_calls": "tool_call",
                 "code_interpreter": "tool_call"}


def parse(data: Any, where: Where, log: ParseLog) -> list[ParsedConversation]:
    """Every chat of an Open WebUI export (a list, one chat, or one inner chat object)."""
    return [
        parse_conversation(item, where.at(conversation=index), log)
        for index, item in enumerate(conversation_items(data, where))
    ]


def parse_conversation(item: dict[str, Any], where: Where, log: ParseLog) -> ParsedConversation:
    chat = item["chat"] if isinstance(item.get("chat"), dict) else item
    source_id = optional_str(item, "id") or optional_str(chat, "id")
    where = where.at(conversation_id=source_id)
    raw_messages = _branch(chat, where, log)
    created_raw = item.get("created_at", chat.get("timestamp"))
    if source_id is None:
        first = raw_messages[0][0] if raw_messages else None
        source_id = derived_id(SOURCE, log, where, "id", created_raw, first)
        where = where.at(conversation_id=source_id)
    messages = []
    for index, (message_id, raw) in enumerate(raw_messages):
        parsed = parse_message(raw, message_id, where.at(message=index, message_id=message_id), log)
        if parsed is not None:
            messages.append(parsed)
    return ParsedConversation(
        source=SOURCE,
        source_id=source_id,
        title=text_value(item.get("title") or chat.get("title")),
        messages=messages,
        created_at=read_time(created_raw, log, where, "created_at"),
        metadata=_conversation_metadata(item, chat, log, where),
    )


def _branch(chat: dict[str, Any], where: Where, log: ParseLog) -> list[tuple[str | None, Any]]:
    """(id, message) pairs of the displayed branch, root first."""
    history = chat.get("history")
    if isinstance(history, dict) and isinstance(history.get("messages"), dict):
        nodes = {str(key): value for key, value in history["messages"].items()}
        for key, node in nodes.items():
            if not isinstance(node, dict):
                raise ExportError(where, f"is {type_name(node)}, expected a message object",
                                  f"chat.history.messages.{key}")
        parents = {key: node.get("parentId") if isinstance(node.get("parentId"), str) else None
                   for key, node in nodes.items()}
        times = {key: _time_or_none(node.get("timestamp")) for key, node in nodes.items()}
        current = history.get("currentId") if isinstance(history.get("currentId"), str) else None
        branch = select_branch(parents, current, times, pointer_field="chat.history.currentId")
        for field_name, problem in branch.notes:
            log.warning(where, problem, field_name)
        return [(key, nodes[key]) for key in branch.node_ids]
    if isinstance(chat.get("messages"), list):
        return [(optional_str(raw, "id") if isinstance(raw, dict) else None, raw)
                for raw in chat["messages"]]
    raise ExportError(where, "is missing (expected chat.history.messages or chat.messages)",
                      "chat.history.messages")


def parse_message(
    raw: Any, message_id: str | None, where: Where, log: ParseLog
) -> ParsedMessage | None:
    """One message as searchable text, or None when it holds none."""
    if not isinstance(raw, dict):
        raise ExportError(where, f"is {type_name(raw)}, expected a message object", "message")
    role, role_meta = role_of(raw.get("role"), log, where, "role")
    tool_names = _tool_names(raw.get("output"))
    text, detail_kinds = _expand_details(_content_text(raw.get("content")), tool_names)
    files = _files(raw)
    text = join_text([text, *(f"[{kind}: {name}]" for kind, name in files)])
    if not text.strip():
        return None
    hidden = sorted({_DETAIL_KINDS.get(kind, kind) for kind in detail_kinds})
    only_hidden = bool(hidden) and not _visible_text(raw.get("content"))
    return ParsedMessage(
        role=role,
        content=text.strip(),
        created_at=read_time(raw.get("timestamp"), log, where, "timestamp"),
        source_message_id=message_id or optional_str(raw, "id"),
        metadata=compact({
            "kind": hidden[0] if only_hidden and len(hidden) == 1 else None,
            "visible": False if only_hidden else None,
            "includes": hidden if hidden and not only_hidden else None,
            "model": raw.get("model") if isinstance(raw.get("model"), str) else None,
            "tool_calls": tool_names,
            "files": [name for _, name in files],
            **role_meta,
        }),
    )


def _content_text(content: Any) -> str:
    """Content as text; the OpenAI-style list form keeps its text parts."""
    if isinstance(content, list):
        pieces = []
        for part in content:
            if isinstance(part, dict):
                pieces.append(text_value(part.get("text")) if "text" in part
                              else f"[{part.get('type') or 'attachment'}]")
            else:
                pieces.append(text_value(part))
        return join_text(pieces)
    return text_value(content)


def _expand_details(text: str, tool_names: list[str]) -> tuple[str, list[str]]:
    """Replace `<details>` blocks by their readable text; return it and the block types.

    Tool calls name their tool in a `name` attribute (newer versions) or only in the
    message's structured `output` (`tool_names`, in call order).
    """
    kinds: list[str] = []
    names = iter(tool_names)

    def expand(match: re.Match[str]) -> str:
        attributes = dict(_ATTRIBUTE.findall(match.group(1)))
        kind = attributes.get("type", "details")
        kinds.append(kind)
        body = _unquote(html.unescape(_SUMMARY.sub("", match.group(2))).strip())
        if kind == "tool_calls":
            name = attributes.get("name") or next(names, None)
            call = " ".join(filter(None, [name,
                                          html.unescape(attributes.get("arguments", ""))]))
            result = html.unescape(attributes.get("result", "")) or body
            return "\n\n" + join_text([f"[tool call: {call or 'tool'}]", result]) + "\n\n"
        return "\n\n" + body + "\n\n"

    if "<details" not in text:
        return text, kinds
    return _DETAILS.sub(expand, text).strip(), kinds


def _visible_text(content: Any) -> str:
    """What the chat shows as the answer: the content without its `<details>` blocks."""
    return _DETAILS.sub("", _content_text(content)).strip()


def _unquote(text: str) -> str:
    """Drop the Markdown quote markers Open WebUI puts before reasoning lines."""
    lines = []
    for line in text.splitlines():
        if line.startswith(">"):
            line = line[1:].removeprefix(" ")
        lines.append(line)
    return "\n".join(lines)


def _files(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, name) of attached files; data URLs are not kept (they are the file itself)."""
    found = []
    for item in raw.get("files") or []:
        if isinstance(item, dict):
            kind = "image" if item.get("type") == "image" else "file"
            name = text_value(item.get("name")) or text_value(
                (item.get("file") or {}).get("filename") if isinstance(item.get("file"), dict)
                else None)
            found.append((kind, name or kind))
    return found


def _tool_names(output: Any) -> list[str]:
    if not isinstance(output, list):
        return []
    return [item["name"] for item in output
            if isinstance(item, dict) and item.get("type") == "function_call"
            and isinstance(item.get("name"), str)]


def _time_or_none(value: Any) -> Any:
    try:
        return to_datetime(value)
    except TimestampError:
        return None


def _conversation_metadata(
    item: dict[str, Any], chat: dict[str, Any], log: ParseLog, where: Where
) -> dict[str, Any]:
    meta = item.get("meta") if isinstance(item.get("meta"), dict) else {}
    tags = meta.get("tags") or chat.get("tags")
    updated = read_time(item.get("updated_at"), log, where, "updated_at")
    return compact({
        "models": chat.get("models") if isinstance(chat.get("models"), list) else None,
        "tags": tags if isinstance(tags, list) else None,
        "archived": True if item.get("archived") is True else None,
        "pinned": True if item.get("pinned") is True else None,
        "updated_at": updated.isoformat() if updated else None,
        "files": [name for _, name in _files(chat)],
    })
