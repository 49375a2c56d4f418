"""ChatGPT `conversations.json` (OpenAI data export) -> ParsedConversation.

A conversation is a `mapping` tree of nodes; every regeneration or edit is a sibling
branch, and `current_node` names the leaf the user last saw. Only that branch is
imported (see tree.py). Each message's `content_type` is mapped to searchable text;
kinds the chat window does not show as a bubble (reasoning, tool calls and their output,
hidden system context) are kept and marked in metadata (`kind`, `visible: false`,
`hidden: true`) instead of being dropped, so search can include or exclude them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from dovos.importers.errors import ExportError, ParseLog, Where
from dovos.importers.fields import (
    compact,
    conversation_items,
    derived_id,
    join_text,
    optional_str,
    require,
    role_of,
    text_value,
    type_name,
)
from dovos.importers.parsed import ParsedConversation, ParsedMessage
from dovos.importers.times import TimestampError, read_time, to_datetime
from dovos.importers.tree import select_branch

SOURCE = "chatgpt"

# content_type -> (kind stored in metadata, shown as a chat bubble)
KINDS: dict[str, tuple[str, bool]] = {
    "text": ("text", True),
    "multimodal_text": ("text", True),
    "code": ("code", True),
    "execution_output": ("execution_output", False),
    "tether_quote": ("quote", False),
    "tether_browsing_display": ("browsing", False),
    "sonic_webpage": ("quote", False),
    "thoughts": ("reasoning", False),
    "reasoning_recap": ("reasoning", False),
    "user_editable_context": ("context", False),
    "model_editable_context": ("context", False),
    "app_pairing_content": ("context", False),
    "system_error": ("error", True),
    "image_asset_pointer": ("image", True),
    "image": ("image", True),
    "computer_output": ("tool_result", False),
}
_HIDDEN_CONTEXT = {"user_editable_context", "model_editable_context"}

# Placeholders for parts that carry no text, so a turn that was only an image still
# exists (and says what it held) in the archive.
_PART_PLACEHOLDERS = {
    "image_asset_pointer": "[image]",
    "audio_asset_pointer": "[audio]",
    "real_time_user_audio_video_asset_pointer": "[audio]",
    "video_container_asset_pointer": "[video]",
    "file_asset_pointer": "[file]",
}


def parse(data: Any, where: Where, log: ParseLog) -> list[ParsedConversation]:
    """Every conversation of a ChatGPT export (a list, or one conversation object)."""
    return [
        parse_conversation(item, where.at(conversation=index), log)
        for index, item in enumerate(conversation_items(data, where))
    ]


def parse_conversation(item: dict[str, Any], where: Where, log: ParseLog) -> ParsedConversation:
    """One conversation: the `current_node` branch of its `mapping`, root first."""
    source_id = optional_str(item, "conversation_id", "id")
    where = where.at(conversation_id=source_id)
    nodes = _nodes(require(item, "mapping", dict, where), where)
    times = {node_id: _node_time(node) for node_id, node in nodes.items()}
    parents = {node_id: _parent(node) for node_id, node in nodes.items()}
    current = item.get("current_node") if isinstance(item.get("current_node"), str) else None
    branch = select_branch(parents, current, times, pointer_field="current_node")
    for field_name, problem in branch.notes:
        log.warning(where, problem, field_name)
    if source_id is None:
        root = branch.node_ids[0] if branch.node_ids else None
        source_id = derived_id(SOURCE, log, where, "id", item.get("create_time"), root)
        where = where.at(conversation_id=source_id)
    messages = []
    for index, node_id in enumerate(branch.node_ids):
        message = nodes[node_id].get("message")
        if message is None:
            continue
        at = where.at(message=index, message_id=node_id)
        if not isinstance(message, dict):
            raise ExportError(at, f"is {type_name(message)}, expected an object", "message")
        parsed = parse_message(message, node_id, at, log)
        if parsed is not None:
            messages.append(parsed)
    return ParsedConversation(
        source=SOURCE,
        source_id=source_id,
        title=text_value(item.get("title")),
        messages=messages,
        created_at=read_time(item.get("create_time"), log, where, "create_time"),
        metadata=_conversation_metadata(item, branch.leaf_count, log, where),
    )


def parse_message(
    message: dict[str, Any], node_id: str, where: Where, log: ParseLog
) -> ParsedMessage | None:
    """One node's message as searchable text, or None when it holds no text at all."""
    author = message.get("author") if isinstance(message.get("author"), dict) else {}
    role, role_meta = role_of(author.get("role"), log, where, "author.role")
    content = message.get("content")
    if not isinstance(content, dict):
        log.warning(where, "is missing; message skipped" if content is None
                 else f"is {type_name(content)}; message skipped", "content")
        return None
    content_type = content.get("content_type")
    content_type = content_type if isinstance(content_type, str) else "unknown"
    recipient = message.get("recipient") if isinstance(message.get("recipient"), str) else None
    text, kind, visible = _render(content_type, content, recipient, log, where)
    if message.get("channel") == "analysis" and kind == "text":
        kind, visible = "reasoning", False  # newer reasoning models think in this channel
    attachments = _attachments(message)
    text = join_text([text, *(f"[attachment: {name}]" for name in attachments)])
    if not text.strip():
        return None
    return ParsedMessage(
        role=role,
        content=text.strip(),
        created_at=read_time(message.get("create_time"), log, where, "create_time"),
        source_message_id=optional_str(message, "id") or node_id,
        metadata=_message_metadata(
            message, author, content_type, kind, visible and role != "tool", recipient,
            attachments, role_meta,
        ),
    )


def _render(
    content_type: str, content: dict[str, Any], recipient: str | None, log: ParseLog,
    where: Where,
) -> tuple[str, str, bool]:
    """(text, kind, visible) for one message content."""
    if recipient and recipient.startswith("canmore."):
        return _canvas_text(_plain(content)), "canvas", True
    renderer = _RENDERERS.get(content_type)
    if renderer is None:
        log.warn_once(f"content_type:{content_type}", where,
                      f"unknown content type {content_type!r}; indexed the text it holds",
                      "content.content_type")
        return _plain(content), "unknown", True
    kind, visible = KINDS[content_type]
    if recipient not in (None, "all"):
        kind, visible = "tool_call", False
    return renderer(content), kind, visible


def _plain(content: dict[str, Any]) -> str:
    """Text of any content: its parts, then `text`, `result`, `content` fields."""
    pieces = [_part_text(part) for part in content.get("parts") or []]
    pieces += [text_value(content.get(key)) for key in ("text", "result", "content")
               if isinstance(content.get(key), str)]
    return join_text(pieces)


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return text_value(part)
    part_type = part.get("content_type")
    if isinstance(part.get("text"), str) and part["text"].strip():
        return part["text"]  # audio_transcription and friends
    if part_type == "image_asset_pointer":
        prompt = ((part.get("metadata") or {}).get("dalle") or {}).get("prompt")
        return f"[image: {prompt}]" if isinstance(prompt, str) and prompt else "[image]"
    return _PART_PLACEHOLDERS.get(part_type, f"[{part_type or 'attachment'}]")


def _thoughts(content: dict[str, Any]) -> str:
    thoughts = content.get("thoughts")
    if not isinstance(thoughts, list):
        return _plain(content)
    pieces = []
    for thought in thoughts:
        if isinstance(thought, dict):
            pieces.append(join_text([text_value(thought.get("summary")),
                                     text_value(thought.get("content"))]))
        else:
            pieces.append(text_value(thought))
    return join_text(pieces)


def _quote(content: dict[str, Any]) -> str:
    return join_text([text_value(content.get("title")), text_value(content.get("url")),
                      _plain(content)])


def _browsing(content: dict[str, Any]) -> str:
    return join_text([_plain(content), text_value(content.get("summary"))])


def _editable_context(content: dict[str, Any]) -> str:
    fields = ("user_profile", "user_instructions", "model_set_context")
    return join_text([text_value(content.get(key)) for key in fields] + [_plain(content)])


def _error(content: dict[str, Any]) -> str:
    return join_text([text_value(content.get("name")), _plain(content)])


def _image(content: dict[str, Any]) -> str:
    return _plain(content) or "[image]"


_RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "text": _plain,
    "multimodal_text": _plain,
    "code": _plain,
    "execution_output": _plain,
    "tether_quote": _quote,
    "tether_browsing_display": _browsing,
    "sonic_webpage": _quote,
    "thoughts": _thoughts,
    "reasoning_recap": _plain,
    "user_editable_context": _editable_context,
    "model_editable_context": _editable_context,
    "app_pairing_content": _plain,
    "system_error": _error,
    "image_asset_pointer": _image,
    "image": _image,
    "computer_output": lambda content: _plain(content) or "[screenshot]",
}


def _canvas_text(raw: str) -> str:
    """Canvas (canmore) calls carry JSON: keep the document's name and text, not the JSON."""
    try:
        document = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(document, dict):
        return raw
    pieces = [text_value(document.get(key)) for key in ("name", "title", "content")]
    for key, field_name in (("updates", "replacement"), ("comments", "comment")):
        for entry in document.get(key) or []:
            if isinstance(entry, dict):
                pieces.append(text_value(entry.get(field_name)))
    return join_text(pieces) or raw


def _attachments(message: dict[str, Any]) -> list[str]:
    metadata = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
    names = []
    for attachment in metadata.get("attachments") or []:
        if isinstance(attachment, dict) and isinstance(attachment.get("name"), str):
            names.append(attachment["name"])
    return names


def _message_metadata(
    message: dict[str, Any], author: dict[str, Any], content_type: str, kind: str,
    visible: bool, recipient: str | None, attachments: list[str], role_meta: dict[str, Any],
) -> dict[str, Any]:
    source_meta = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
    hidden = bool(source_meta.get("is_visually_hidden_from_conversation")) or (
        content_type in _HIDDEN_CONTEXT
    )
    return compact({
        "content_type": content_type,
        "kind": None if kind == "text" else kind,
        "visible": None if visible and not hidden else False,
        "hidden": True if hidden else None,
        "recipient": None if recipient == "all" else recipient,
        "author_name": author.get("name") if isinstance(author.get("name"), str) else None,
        "model": source_meta.get("model_slug") if isinstance(source_meta.get("model_slug"), str)
        else None,
        "attachments": attachments,
        **role_meta,
    })


def _conversation_metadata(
    item: dict[str, Any], leaf_count: int, log: ParseLog, where: Where
) -> dict[str, Any]:
    updated = read_time(item.get("update_time"), log, where, "update_time")
    return compact({
        "model": item.get("default_model_slug"),
        "gizmo_id": item.get("gizmo_id"),
        "is_archived": True if item.get("is_archived") is True else None,
        "is_starred": True if item.get("is_starred") is True else None,
        "updated_at": updated.isoformat() if updated else None,
        "branches": leaf_count if leaf_count > 1 else None,
    })


def _nodes(mapping: dict[str, Any], where: Where) -> dict[str, dict[str, Any]]:
    for node_id, node in mapping.items():
        if not isinstance(node, dict):
            raise ExportError(where, f"is {type_name(node)}, expected a node object",
                              f"mapping.{node_id}")
    return {str(node_id): node for node_id, node in mapping.items()}


def _parent(node: dict[str, Any]) -> str | None:
    parent = node.get("parent")
    return parent if isinstance(parent, str) else None


def _node_time(node: dict[str, Any]) -> datetime | None:
    message = node.get("message")
    if not isinstance(message, dict):
        return None
    try:
        return to_datetime(message.get("create_time"))
    except TimestampError:
        return None
