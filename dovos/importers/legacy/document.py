"""Split one legacy Dovos document (markdown text) back into its message blocks.

Legacy Dovos rendered each conversation as one markdown document (upstream
mbrichman/dovos, models/conversation_model.py). ChatGPT and Claude blocks are

    **You said** *(on 2024-05-01 12:37:11)*:\\n\\n<content>       (or "unknown time")
    **ChatGPT said** / **Claude said** *(on ...)*:\\n\\n<content>
    *System* *(on ...)*:\\n\\n<content>                            (role.capitalize())

joined with "\\n\\n"; Word (.docx) documents are lines joined with "\\n": optional
preamble lines, then blocks `**<Role>**:\\n\\n<para>\\n<para>\\n`. A header counts only at
the start of the text or right after the joiner, so a message quoting a header in
mid-line is not split. Pure functions, no I/O: what the database receives is decided here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dovos.importers.fields import ROLE_ALIASES

UNKNOWN_TIME = "unknown time"

_JSON_HEADER = re.compile(
    r"(?:^|(?<=\n\n))(?:\*\*(?P<who>You|ChatGPT|Claude) said\*\*|\*(?P<other>[A-Za-z_][\w ]*)\*)"
    r" \*\(on (?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}|unknown time)\)\*:\n\n"
)
_DOCX_HEADER = re.compile(
    r"(?:^|(?<=\n))\*\*(?P<who>You|ChatGPT|User|Assistant|System)\*\*:\n\n"
)
_DOCX_ROLES = {"You": "user", "User": "user", "ChatGPT": "assistant",
               "Assistant": "assistant", "System": "system"}


@dataclass(frozen=True)
class Block:
    """One message as the legacy document holds it.

    `header_time` is the header's text (`YYYY-MM-DD HH:MM:SS`, "unknown time", or None
    for docx, whose blocks carry no time); `original_role` is set when the label named a
    speaker Dovos has no role for (stored as `system`).
    """

    role: str
    label: str
    header_time: str | None
    content: str
    original_role: str | None = None


@dataclass(frozen=True)
class ParsedDocument:
    """The blocks of one document, the text before the first block, and what went wrong."""

    blocks: list[Block]
    preamble: str = ""
    problem: str | None = None  # set when no block header was found


def parse_document(text: str, source: str) -> ParsedDocument:
    """Blocks of a `source` ("chatgpt", "claude", "docx", ...) document, in order."""
    if source == "docx":
        return _parse_docx(text)
    return _parse_json_rendering(text)


def _parse_json_rendering(text: str) -> ParsedDocument:
    heads = list(_JSON_HEADER.finditer(text))
    if not heads:
        return ParsedDocument([], text, "no '**You said** *(on ...)*:' style header found")
    blocks = []
    for index, match in enumerate(heads):
        # The next header starts after the "\n\n" joiner, which is not content.
        end = heads[index + 1].start() - 2 if index + 1 < len(heads) else len(text)
        role, label, original = _json_role(match.group("who"), match.group("other"))
        blocks.append(Block(role, label, match.group("ts"), text[match.end():end], original))
    preamble = text[: heads[0].start()].removesuffix("\n\n")
    return ParsedDocument(blocks, preamble)


def _json_role(who: str | None, other: str | None) -> tuple[str, str, str | None]:
    """(role, legacy label, original role when Dovos has no such role)."""
    if who is not None:
        return ("user" if who == "You" else "assistant"), f"{who} said", None
    assert other is not None
    role = ROLE_ALIASES.get(other.lower())
    if role is None:
        return "system", other, other.lower()
    return role, other, None


def _parse_docx(text: str) -> ParsedDocument:
    heads = list(_DOCX_HEADER.finditer(text))
    if not heads:
        return ParsedDocument([], text, "no '**User**:' style speaker line found")
    blocks = []
    for index, match in enumerate(heads):
        end = heads[index + 1].start() if index + 1 < len(heads) else len(text)
        who = match.group("who")
        # A block is "<para>\n<para>\n" and blocks are joined with "\n".
        blocks.append(Block(_DOCX_ROLES[who], who, None, text[match.end():end].rstrip("\n")))
    preamble = text[: heads[0].start()].rstrip("\n")
    return ParsedDocument(blocks, preamble)
