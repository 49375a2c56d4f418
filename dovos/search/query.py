"""Turn what a user typed into safe full-text search input.

Natural-language questions are the common case, so plain words are OR-ed (requiring
every word loses most questions) and ranking decides; "quoted phrases" must match as
phrases and `-word` / `-"a phrase"` exclude. Words are reduced to letters and digits
before anything reaches PostgreSQL, and the tsquery text is assembled here from those
words only, so no operator (`& | ! ( ) : * <->`), quote or backslash a user types can
change its structure. PostgreSQL still does stemming and stopwords (`to_tsquery
('english', ...)`), so the index and the query agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dovos.search.types import InvalidQueryError

MAX_QUERY_CHARS = 10_000  # longer input is cut, not refused: pasted text is a real query
MAX_TERMS = 48  # distinct words kept for the lexical leg (a tsquery stays small)
MAX_PHRASES = 8
EMBED_CHARS = 2_000  # the model reads ~256 word pieces; more text only costs time

WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
QUOTED = re.compile(r'(-?)"([^"]*)"')
EXCLUDED_WORD = re.compile(r"(?:^|(?<=\s))-([^\W_][^\s]*)", re.UNICODE)
POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)
Operator = str  # "or" | "and"


@dataclass(frozen=True)
class ParsedQuery:
    """A query split into its parts; every string holds only letters, digits and spaces."""

    text: str  # the query as searched (trimmed, cut to MAX_QUERY_CHARS)
    terms: tuple[str, ...]  # plain words, lowercased, possessives stripped, deduplicated
    phrases: tuple[str, ...] = ()  # required phrases (their words, space-separated)
    excluded: tuple[str, ...] = ()  # excluded words or phrases
    notes: tuple[str, ...] = field(default=())

    @property
    def embedding_text(self) -> str:
        """What the vector leg embeds: the question as written, whitespace collapsed."""
        return " ".join(self.text.split())[:EMBED_CHARS]

    def all_words(self) -> str:
        """Every positive word (terms and phrase words): the BM25 scoring terms."""
        return " ".join(self.terms + self.phrases)

    def tsquery(self, operator: Operator = "or") -> str:
        """tsquery text for to_tsquery('english', ...): OR (or AND) of the terms, AND each
        phrase, AND NOT each exclusion. Empty when there is nothing positive to match."""
        positive = []
        joiner = " | " if operator == "or" else " & "
        if self.terms:
            positive.append("(" + joiner.join(_quote(t) for t in self.terms) + ")")
        positive.extend("(" + " <-> ".join(_quote(w) for w in p.split()) + ")" for p in self.phrases)
        if not positive:
            return ""
        negative = [
            "!(" + " <-> ".join(_quote(w) for w in item.split()) + ")" for item in self.excluded
        ]
        return " & ".join(positive + negative)


def parse_query(raw: object) -> ParsedQuery:
    """Split `raw` into terms, phrases and exclusions; InvalidQueryError when empty."""
    if not isinstance(raw, str):
        raise InvalidQueryError(f"query must be text, got {type(raw).__name__}")
    text = raw.replace("\x00", " ").strip()
    if not text:
        raise InvalidQueryError("query is empty: type some words to search for")
    notes = []
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS]
        notes.append(f"query cut to its first {MAX_QUERY_CHARS} characters")
    phrases, excluded = [], []
    rest = QUOTED.sub(lambda m: _take_quoted(m, phrases, excluded), text)
    rest = EXCLUDED_WORD.sub(lambda m: _take_excluded(m, excluded), rest)
    terms = _unique(_words(rest))
    if len(terms) > MAX_TERMS:
        notes.append(f"only the first {MAX_TERMS} distinct words are matched lexically")
        terms = terms[:MAX_TERMS]
    if not terms and not phrases and not excluded and not WORD.search(text):
        raise InvalidQueryError(f"query {raw[:80]!r} holds no letters or digits to search for")
    if not terms and not phrases and excluded:
        raise InvalidQueryError("query only excludes words: add a word or phrase to search for")
    return ParsedQuery(
        text=text,
        terms=tuple(terms),
        phrases=tuple(_unique(phrases))[:MAX_PHRASES],
        excluded=tuple(_unique(excluded))[:MAX_PHRASES],
        notes=tuple(notes),
    )


def _words(text: str) -> list[str]:
    """Lowercased words; "Caroline's" -> "caroline", "don't" -> "don't" -> "dont"."""
    words = []
    for match in WORD.finditer(text):
        word = POSSESSIVE.sub("", match.group(0).lower())
        word = re.sub(r"['’]", "", word)
        if word:
            words.append(word)
    return words


def _take_quoted(match: re.Match[str], phrases: list[str], excluded: list[str]) -> str:
    words = " ".join(_words(match.group(2)))
    if words:
        (excluded if match.group(1) else phrases).append(words)
    return " "


def _take_excluded(match: re.Match[str], excluded: list[str]) -> str:
    words = " ".join(_words(match.group(1)))
    if words:
        excluded.append(words)
    return " "


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _quote(word: str) -> str:
    """A tsquery operand; words hold only letters and digits, quoting is belt and braces."""
    return "'" + word.replace("\\", "").replace("'", "") + "'"
