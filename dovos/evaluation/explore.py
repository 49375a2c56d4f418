"""Explore your own archive: one query, every mode side by side, as a DataFrame.

    frame = explore("sourdough starter smells of acetone")     # lexical, vector, hybrid
    frame[frame["mode"] == "hybrid"]                           # rank, score, leg ranks, ...
    conversation_context(frame.iloc[0]["message_id"])          # the turns around a hit

The explore notebook shows the same frames as three HTML columns
(dovos.evaluation.explore_view); everything it shows is a plain call here, so a test or
a script sees exactly what the user sees.
"""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any

import pandas as pd

from dovos.search.types import MODES, SearchFilters, SearchHit, SearchResponse

COLUMNS = [
    "mode",
    "rank",
    "score",
    "lexical_rank",
    "vector_rank",
    "lexical_score",
    "vector_score",
    "snippet",
    "title",
    "date",
    "role",
    "source",
    "doc_id",
    "message_id",
    "conversation_id",
    "effective_mode",
]
CONTEXT_COLUMNS = ["position", "role", "date", "content", "is_hit", "message_id"]


@lru_cache(maxsize=1)
def default_service() -> Any:
    """The search service on the process-wide database (opened on first use)."""
    from dovos.db import get_database
    from dovos.search.service import SearchService

    return SearchService(get_database())


def make_filters(
    *,
    sources: str | list[str] | tuple[str, ...] | None = None,
    roles: str | list[str] | tuple[str, ...] | None = None,
    date_from: date | datetime | str | None = None,
    date_to: date | datetime | str | None = None,
    conversations: str | uuid.UUID | list[str | uuid.UUID] | None = None,
) -> SearchFilters | None:
    """SearchFilters from notebook-friendly values (a string or a list; dates as dates).

    A date without a time covers the whole day: `date_to=2024-05-01` keeps that day.
    """
    values: dict[str, Any] = {
        "sources": _tuple(sources),
        "roles": _tuple(roles),
        "date_from": _moment(date_from, end=False),
        "date_to": _moment(date_to, end=True),
        "conversation_ids": _uuids(conversations),
    }
    values = {name: value for name, value in values.items() if value}
    return SearchFilters(**values) if values else None


def explore(
    query: str,
    *,
    modes: tuple[str, ...] | list[str] = MODES,
    k: int = 10,
    fusion: str | None = None,
    lexical_weight: float | None = None,
    vector_weight: float | None = None,
    rrf_k: int | None = None,
    candidates: int | None = None,
    filters: SearchFilters | None = None,
    service: Any = None,
) -> pd.DataFrame:
    """The top `k` of each mode for `query`, one row per hit (long format, `mode` column).

    Parameters left as None keep the stored search defaults. The frame's `attrs` hold
    each mode's notes (e.g. a fallback to lexical) and the time the search took.
    """
    service = service or default_service()
    overrides = {
        name: value
        for name, value in {
            "fusion": fusion,
            "lexical_weight": lexical_weight,
            "vector_weight": vector_weight,
            "rrf_k": rrf_k,
            "candidates": candidates,
        }.items()
        if value is not None
    }
    rows: list[dict[str, Any]] = []
    notes: dict[str, list[str]] = {}
    elapsed: dict[str, float] = {}
    for mode in modes:
        response = service.search(query, mode=mode, k=k, filters=filters, params=overrides or None)
        rows.extend(hit_row(hit, response) for hit in response.hits)
        notes[mode] = list(response.notes)
        elapsed[mode] = round(float(response.elapsed_ms), 1)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame.attrs.update(query=query, notes=notes, elapsed_ms=elapsed, modes=list(modes))
    return frame


def hit_row(hit: SearchHit, response: SearchResponse) -> dict[str, Any]:
    """One hit as a row: what a person needs to judge it, plus the ids to follow it."""
    return {
        "mode": response.mode,
        "rank": hit.rank,
        "score": round(hit.score, 4),
        "lexical_rank": hit.lexical_rank,
        "vector_rank": hit.vector_rank,
        "lexical_score": hit.lexical_score,
        "vector_score": hit.vector_score,
        "snippet": highlight(hit.snippet, response.query),
        "title": hit.conversation_title,
        "date": hit.created_at,
        "role": hit.role,
        "source": hit.source,
        "doc_id": hit.source_message_id or str(hit.message_id),
        "message_id": hit.message_id,
        "conversation_id": hit.conversation_id,
        "effective_mode": response.effective_mode,
    }


def highlight(text: str, query: str) -> str:
    """`text` HTML-escaped, with the query's words (3+ letters, any suffix) in <mark>."""
    words = sorted({w for w in re.findall(r"\w{3,}", query.lower())}, key=len, reverse=True)
    escaped = html.escape(text)
    if not words:
        return escaped
    stems = [re.escape(w[: max(4, len(w) - 2)]) for w in words]
    pattern = re.compile(r"\b(" + "|".join(stems) + r")\w*", re.IGNORECASE)
    return pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", escaped)


def conversation_context(
    message_id: str | uuid.UUID, before: int = 3, after: int = 3, *, database: Any = None
) -> pd.DataFrame:
    """The `before` turns before message `message_id`, the message, and `after` turns after.

    `attrs` hold the conversation's title, source and id. An unknown id is a LookupError.
    """
    if database is None:
        from dovos.db import get_database

        database = get_database()
    from dovos.repositories import messages
    from dovos.repositories.unit_of_work import UnitOfWork

    wanted = _uuid(message_id)
    with UnitOfWork(database) as uow:
        turns = messages.context(uow.connection, wanted, before, after)
    if not turns:
        raise LookupError(f"message {wanted} is not in this archive")
    rows = [
        {
            "position": turn.position,
            "role": turn.role,
            "date": turn.created_at,
            "content": turn.content,
            "is_hit": turn.is_hit,
            "message_id": turn.id,
        }
        for turn in turns
    ]
    attrs = {
        "title": turns[0].title,
        "source": turns[0].source,
        "conversation_id": turns[0].conversation_id,
    }
    frame = pd.DataFrame(rows, columns=CONTEXT_COLUMNS)
    frame.attrs.update(attrs)
    return frame


def conversations_matching(text: str, *, database: Any = None, limit: int = 50) -> list[uuid.UUID]:
    """Ids of conversations whose id is `text` or whose title contains it (the notebook's
    conversation filter accepts either)."""
    text = text.strip()
    if not text:
        return []
    try:
        return [uuid.UUID(text)]
    except ValueError:
        pass
    if database is None:
        from dovos.db import get_database

        database = get_database()
    from dovos.repositories import conversations

    with database.connect() as conn:
        return conversations.matching_title(conn, text, limit)


def archive_choices(database: Any = None) -> dict[str, list[str]]:
    """The sources and roles present in the archive (the notebook's filter choices)."""
    if database is None:
        from dovos.db import get_database

        database = get_database()
    from dovos.repositories import conversations, messages

    with database.connect() as conn:
        return {"sources": conversations.sources_present(conn),
                "roles": messages.roles_present(conn)}


# -- helpers --------------------------------------------------------------------------------
def _tuple(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value) or None


def _moment(value: date | datetime | str | None, *, end: bool) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = (
            datetime.fromisoformat(value)
            if "T" in value or ":" in value
            else date.fromisoformat(value)
        )
    if not isinstance(value, datetime):
        value = datetime.combine(value, time.max if end else time.min)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _uuid(value: str | uuid.UUID) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise LookupError(f"{value!r} is not a message id (a UUID)") from None


def _uuids(value: str | uuid.UUID | list[str | uuid.UUID] | None) -> tuple[uuid.UUID, ...] | None:
    if value is None or value == "" or value == []:
        return None
    items = [value] if isinstance(value, str | uuid.UUID) else list(value)
    return tuple(_uuid(item) for item in items)

