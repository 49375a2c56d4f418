"""Reading fields of export JSON: required objects, optional strings, stand-in ids.

Exports are untyped JSON of several vintages; these helpers turn "the field is missing
or has the wrong type" into an ExportError naming the field, and give the parsers one
way to read optional values.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from dovos.importers.errors import ExportError, ParseLog, Where

ROLE_ALIASES = {
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "model": "assistant",
    "bot": "assistant",
    "system": "system",
    "developer": "system",
    "tool": "tool",
    "function": "tool",
}


def conversation_items(data: Any, where: Where) -> list[dict[str, Any]]:
    """The conversations of a file: a list of objects, or one object standing alone."""
    items = data if isinstance(data, list) else [data]
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ExportError(
                where.at(conversation=index),
                f"is {type_name(item)}, expected a conversation object",
            )
    return items


def require(obj: dict[str, Any], key: str, kind: type, where: Where, label: str | None = None) -> Any:
    """`obj[key]`, which must exist and be of `kind`; otherwise an ExportError naming it."""
    label = label or key
    if key not in obj or obj[key] is None:
        raise ExportError(where, "is missing", label)
    value = obj[key]
    if not isinstance(value, kind):
        raise ExportError(where, f"is {type_name(value)}, expected {_kind_name(kind)}", label)
    return value


def optional_str(obj: dict[str, Any], *keys: str) -> str | None:
    """The first of `keys` holding a non-empty string (numbers are accepted as text)."""
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    return None


def role_of(
    raw: Any, log: ParseLog, where: Where, field_name: str
) -> tuple[str, dict[str, Any]]:
    """The stored role for an export's role/sender value, and metadata keeping the original.

    A missing role fails the file (the turn cannot be placed); an unknown one is kept as
    `system` with a warning, so a new kind of speaker does not stop an import.
    """
    if not isinstance(raw, str) or not raw:
        raise ExportError(where, "is missing" if raw is None else f"is {type_name(raw)}",
                          field_name)
    role = ROLE_ALIASES.get(raw.lower())
    if role is None:
        log.warn_once(f"role:{raw}", where, f"unknown role {raw!r}; stored as 'system'",
                      field_name)
        return "system", {"original_role": raw}
    return role, {}


def derived_id(source: str, log: ParseLog, where: Where, field_name: str, *parts: Any) -> str:
    """A stable stand-in id from values that do not change as a conversation grows."""
    digest = hashlib.sha1(
        json.dumps([source, *parts], default=str, sort_keys=True).encode()
    ).hexdigest()[:24]
    identifier = f"derived-{digest}"
    log.warning(where, f"is missing; using {identifier!r}, derived from the conversation's "
                    "creation time and first message", field_name)
    return identifier


def compact(values: dict[str, Any]) -> dict[str, Any]:
    """`values` without None, empty strings, lists and objects (False is kept)."""
    return {key: value for key, value in values.items() if _present(value)}


def _present(value: Any) -> bool:
    if value is None:
        return False
    return not (isinstance(value, str | list | dict) and not value)


def text_value(value: Any) -> str:
    """A field as text: strings as they are, other JSON values serialised."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def join_text(pieces: list[str]) -> str:
    """Non-blank pieces joined by blank lines."""
    return "\n\n".join(piece for piece in pieces if piece and piece.strip())


def type_name(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _kind_name(kind: type) -> str:
    return {dict: "an object", list: "a list", str: "a string"}.get(kind, kind.__name__)
