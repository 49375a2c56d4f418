"""Text and time as the legacy frontend shows them: previews, transcripts, timestamps.

The legacy system stripped markdown from previews, cut them at a word boundary with
"...", labelled transcript turns by role and source, and wrote ISO 8601 timestamps with
an offset. These pure functions reproduce that, so the adapter only maps fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache

from markdown_it import MarkdownIt

CONVERSATION_PREVIEW_CHARS = 200
SEARCH_PREVIEW_CHARS = 300
RAG_PREVIEW_CHARS = 500
ELLIPSIS = "..."
TURN_SEPARATOR = "\n\n---\n\n"

_ASSISTANT_LABELS = {
    "chatgpt": "ChatGPT said",
    "claude": "Claude said",
    "openwebui": "OpenWebUI said",
}
_ROLE_LABELS = {"user": "You said", "system": "System", "tool": "Tool"}
_WHITESPACE = re.compile(r"\s+")
_HTML_TAG = re.compile(r"<[^>]*>")
# Tokens whose `content` is text the reader sees (inline children and code blocks).
_TEXT_TOKENS = frozenset({"text", "code_inline", "code_block", "fence"})
_BREAK_TOKENS = frozenset({"softbreak", "hardbreak"})


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def strip_markdown(text: str) -> str:
    """The visible text of a markdown string, whitespace collapsed to single spaces.

    Parsed with markdown-it (CommonMark + tables) rather than regexes, so emphasis,
    links, images (their alt text), code spans and fences, lists, quotes and tables
    all reduce to their words; raw HTML tags are dropped.
    """
    if not text:
        return ""
    parts: list[str] = []
    for token in _parser().parse(text):
        if token.type == "inline":
            parts.extend(_inline_text(token.children or []))
        elif token.type in _TEXT_TOKENS:
            parts.append(token.content)
        elif token.type == "html_block":
            parts.append(_HTML_TAG.sub(" ", token.content))
        parts.append(" ")
    return _WHITESPACE.sub(" ", "".join(parts)).strip()


def _inline_text(children: Iterable) -> Iterable[str]:  # type: ignore[type-arg]
    for child in children:
        if child.type in _TEXT_TOKENS:
            yield child.content
        elif child.type in _BREAK_TOKENS:
            yield " "
        elif child.type == "image":
            yield from _inline_text(child.children or [])
        elif child.type == "html_inline":
            yield " "


def cut_at_word(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its longest word-boundary prefix
    of at most `limit` characters followed by "..." (a hard cut when one word is longer).
    """
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    boundary = head.rfind(" ")
    cut = head[:boundary] if boundary > 0 else text[:limit]
    return cut.rstrip(" ,;:-") + ELLIPSIS


def preview(text: str, limit: int) -> str:
    """Markdown stripped, then cut at a word boundary to `limit` characters plus "...".

    Only the first `limit * 4 + 1000` characters are parsed: markup rarely takes more
    than that before `limit` visible characters, and a 10 MB paste must not cost a
    10 MB parse on every search that shows it.
    """
    return cut_at_word(strip_markdown(text[: limit * 4 + 1000]), limit)


def to_iso(moment: datetime, tz: tzinfo | None = None) -> str:
    """ISO 8601 with offset, in `tz` (None: the server's local time zone, like legacy)."""
    return moment.astimezone(tz).isoformat()


def speaker_label(role: str, source: str) -> str:
    """`You said`, `<Source> said` / `Assistant said`, `System` (and `Tool` for tools)."""
    if role == "assistant":
        return _ASSISTANT_LABELS.get(source, "Assistant said")
    return _ROLE_LABELS.get(role, role.capitalize())


def transcript_turn(role: str, source: str, created_at: datetime, content: str,
                    tz: tzinfo | None = None) -> str:
    """`**<label>** *(on YYYY-MM-DD HH:MM:SS)*:\\n\\n<content>`, time in `tz`."""
    stamp = created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    return f"**{speaker_label(role, source)}** *(on {stamp})*:\n\n{content}"


def join_turns(turns: Iterable[str]) -> str:
    return TURN_SEPARATOR.join(turns)


# -- timeline -----------------------------------------------------------------------------
def bucket_unit(earliest: datetime, latest: datetime) -> str:
    """Contract rule: day if the span is <= 30 days, week if <= 180, else month."""
    span = latest - earliest
    if span <= timedelta(days=30):
        return "day"
    if span <= timedelta(days=180):
        return "week"
    return "month"


def bucket_start(day: date, unit: str) -> date:
    """First day of the day/week (Monday)/month holding `day`."""
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def next_bucket(start: date, unit: str) -> date:
    if unit == "day":
        return start + timedelta(days=1)
    if unit == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def bucket_range(first: date, last: date, unit: str) -> list[date]:
    """Every bucket start from `first`'s bucket to `last`'s, gaps included."""
    current, end = bucket_start(first, unit), bucket_start(last, unit)
    starts = []
    while current <= end:
        starts.append(current)
        current = next_bucket(current, unit)
    return starts
