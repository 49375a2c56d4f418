"""Where a problem sits in an export file, the error that stops a file, and its warnings.

Every message a user sees about bad input names the file, the conversation (index and
id), the message (index and id) and the field, so the export can be fixed by hand.
`Where` carries that location down the parsers; `ExportError` fails the whole file (so
nothing of it is written); `ParseLog` collects warnings for things that were repaired
or skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class Where(NamedTuple):
    """A location inside an export file, refined as the parsers descend.

    A NamedTuple rather than a dataclass: one is made per message, and `_replace` is
    several times cheaper than `dataclasses.replace` on a 50,000-message file.
    """

    file: str
    conversation: int | None = None
    conversation_id: str | None = None
    message: int | None = None
    message_id: str | None = None

    def at(self, **changes: object) -> Where:
        """This location, narrowed (e.g. `where.at(message=3, message_id="abc")`)."""
        return self._replace(**changes)  # type: ignore[arg-type]

    def describe(self, field_name: str | None = None) -> str:
        """`file: conversation 2 ('id'), message 5 ('mid'), field 'content'`."""
        parts = [self.file]
        if self.conversation is not None:
            parts.append(_numbered("conversation", self.conversation, self.conversation_id))
        if self.message is not None:
            parts.append(_numbered("message", self.message, self.message_id))
        if field_name:
            parts.append(f"field {field_name!r}")
        return parts[0] + (": " + ", ".join(parts[1:]) if len(parts) > 1 else "")


def _numbered(kind: str, index: int, identifier: str | None) -> str:
    return f"{kind} {index}" + (f" ({identifier!r})" if identifier else "")


class ExportError(ValueError):
    """An export file cannot be imported; the message names where and why.

    Raised while reading or parsing, before anything touches the database, so a file
    that raises it writes nothing.
    """

    def __init__(self, where: Where, problem: str, field_name: str | None = None) -> None:
        self.where = where
        self.field_name = field_name
        self.problem = problem
        super().__init__(f"{where.describe(field_name)}: {problem}")


@dataclass
class ParseLog:
    """Warnings about one file: repaired text, skipped conversations, guessed values."""

    warnings: list[str] = field(default_factory=list)
    _once: set[str] = field(default_factory=set)

    def warning(self, where: Where, problem: str, field_name: str | None = None) -> None:
        self.warnings.append(f"{where.describe(field_name)}: {problem}")

    def warn_once(
        self, key: str, where: Where, problem: str, field_name: str | None = None
    ) -> None:
        """Warn the first time `key` comes up in this file only (e.g. one unknown type)."""
        if key not in self._once:
            self._once.add(key)
            self.warning(where, problem + " (reported once per file)", field_name)
