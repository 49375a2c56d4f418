"""What every importer produces: plain dataclasses, checked before anything is written."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dovos.db.models import ROLES, SOURCES


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
