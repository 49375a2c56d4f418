"""What every importer produces and `dovos.ingest` stores: plain dataclasses, checked
before anything is written.

They live here, below the importers, because the write path takes them: importers
import them from `dovos.importers.parsed` (which re-exports this module), ingest never
imports an importer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dovos.repositories.conversations import SOURCES
from dovos.repositories.messages import ROLES

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class ParsedMessage:
    """One turn, in conversation order, as the export holds it."""

    role: str
    content: str
    created_at: datetime | None = None
    source_message_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParsedConversation:
    """One conversation of an export file, identified by (source, source_id)."""

    source: str
    source_id: str
    title: str
    messages: list[ParsedMessage]
    created_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Why this conversation cannot be stored as it is (empty when it can)."""
        found = []
        if self.source not in SOURCES:
            found.append(f"source {self.source!r} is not one of {', '.join(SOURCES)}")
        if not self.source_id:
            found.append("source_id is empty")
        for index, message in enumerate(self.messages):
            if message.role not in ROLES:
                found.append(f"message {index}: role {message.role!r} is not one of {', '.join(ROLES)}")
            if "\x00" in message.content:
                found.append(f"message {index}: content holds a NUL byte")
        if "\x00" in self.title:
            found.append("title holds a NUL byte")
        return found


def needs_repair(text: str) -> bool:
    """True when `text` holds a NUL or a surrogate code point (PostgreSQL cannot store
    either: `text` has no NUL, and a lone surrogate cannot be encoded as UTF-8)."""
    if "\x00" in text:
        return True
    # isascii() is O(1) in CPython, and ASCII text cannot hold a surrogate.
    return not text.isascii() and _SURROGATE.search(text) is not None


def value_needs_repair(value: Any) -> bool:
    """True when any string or key inside a JSON-like value needs repair."""
    if isinstance(value, str):
        return needs_repair(value)
    if isinstance(value, dict):
        return any(needs_repair(str(key)) or value_needs_repair(item)
                   for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(value_needs_repair(item) for item in value)
    return False
