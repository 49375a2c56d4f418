"""Which export format a file holds, decided by its content (never by its name).

Each format has a field no other uses at the top of a conversation: ChatGPT's
`mapping` tree, Claude's `chat_messages`, Open WebUI's `chat`/`history` objects. The
first conversation decides (`detect_first`, which is all a streamed file has read when
it must choose its parser); the parser then checks every conversation against it.
"""

from __future__ import annotations

from typing import Any

from dovos.importers.errors import ExportError, Where

FORMATS = ("chatgpt", "claude", "openwebui")


def detect_format(data: Any, where: Where) -> str | None:
    """The format of loaded export JSON; None when it holds no conversations at all."""
    if isinstance(data, list):
        return detect_first(data[0], True, where) if data else None
    return detect_first(data, False, where)


def detect_first(sample: Any, in_list: bool, where: Where) -> str:
    """The format of a file from its first top-level value (`in_list`: the file is an
    array and `sample` its first item, else `sample` is the whole file)."""
    if not isinstance(sample, dict):
        raise ExportError(
            where, f"unknown format: expected a conversation object or a list of them, "
                   f"found {'a list of ' if in_list else ''}{type(sample).__name__} values"
        )
    found = format_of(sample)
    if found is None:
        keys = ", ".join(sorted(map(str, sample))[:12]) or "none"
        raise ExportError(
            where.at(conversation=0) if in_list else where,
            f"unknown format: no ChatGPT 'mapping', Claude 'chat_messages' or Open WebUI "
            f"'chat'/'history' field (keys: {keys})",
        )
    return found


def format_of(conversation: dict[str, Any]) -> str | None:
    """The format one conversation object is written in, or None."""
    if isinstance(conversation.get("mapping"), dict):
        return "chatgpt"
    if isinstance(conversation.get("chat_messages"), list):
        return "claude"
    chat = conversation.get("chat")
    if isinstance(chat, dict) and ("history" in chat or "messages" in chat):
        return "openwebui"
    history = conversation.get("history")
    if isinstance(history, dict) and "messages" in history:
        return "openwebui"
    return None
