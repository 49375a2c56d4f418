"""Snippets built in Python: a window of the message around the first query word.

ts_headline re-parses the whole text of every hit and is slow on long messages; a
window around the first matching word is what a result list needs.
"""

from __future__ import annotations

import re

SNIPPET_CHARS = 200


def make_snippet(content: str, words: tuple[str, ...], width: int = SNIPPET_CHARS) -> str:
    """Up to `width` characters of `content`, centred near the first of `words` found."""
    text = " ".join(content.split()) if len(content) < 20 * width else _flat(content, width)
    if len(text) <= width:
        return text
    start = _first_hit(text, words)
    begin = max(0, min(start - width // 3, len(text) - width))
    piece = text[begin : begin + width]
    return ("…" if begin else "") + piece + ("…" if begin + width < len(text) else "")


def _flat(content: str, width: int) -> str:
    """Whitespace-collapsed text, read only as far as a snippet could reach."""
    return " ".join(content[: 50 * width].split())


def _first_hit(text: str, words: tuple[str, ...]) -> int:
    lowered = text.lower()
    positions = []
    for word in words:
        match = re.search(r"\b" + re.escape(word[: max(4, len(word) - 2)]), lowered)
        if match:
            positions.append(match.start())
    return min(positions, default=0)
