"""The `conversations` table: every statement that writes it, its summaries and the
archive-wide figures the API shows (counts, time span, starts per 15-minute slot or local day).

Deleting a conversation deletes its messages and their embeddings (foreign keys cascade).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import class_row, scalar_row

# The sources the schema's CHECK constraint allows.
SOURCES = ("chatgpt", "claude", "openwebui", "unknown")

# Timeline counts are pre-aggregated into 15-minute slots: every real UTC offset is a
# multiple of 15 minutes, so Python can re-bucket them by day/week/month in any time zone.
SLOT_SECONDS = 900


@dataclass(frozen=True, slots=True)
class NewConversation:
    """A conversation to insert (the id is made by the caller, so messages can name it)."""

    id: uuid.UUID
    title: str
    source: str
    source_id: str
    created_at: datetime
    metadata_json: str


@dataclass(frozen=True, slots=True)
class ConversationChange:
    """New title and metadata for a stored conversation."""

    id: uuid.UUID
    title: str
    metadata_json: str


@dataclass(frozen=True)
class StoredConversation:
    """What an import compares a parsed conversation with."""

    id: uuid.UUID
    source: str
    source_id: str
    title: str
    metadata: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class ConversationSummary:
    """One row of the `conversation_summaries` view (the counts and times are the ones
    stored on `conversations`, kept exact by migration 0010's triggers)."""

    conversation_id: uuid.UUID
    title: str
    source: str
    created_at: datetime
    is_saved: bool
    message_count: int
    first_message_at: datetime | None
    last_message_at: datetime | None
    preview: str | None

    @property
    def latest_activity(self) -> datetime:
        return self.last_message_at or self.created_at


@dataclass(frozen=True)
class Page:
    """A page of conversation summaries and the total they were cut from."""

    items: list[ConversationSummary]
    page: int
    limit: int
    total: int

    @property
    def has_next(self) -> bool:
        return self.page * self.limit < self.total

    @property
    def has_prev(self) -> bool:
        return self.page > 1


@dataclass(frozen=True)
class ArchiveTotals:
    """Counts and time span of the whole archive."""

    conversations: int
    messages: int
    embeddings: int
    earliest: datetime | None
    latest: datetime | None
    first_start: datetime | None  # the conversations' own span (the timeline's)
    last_start: datetime | None


@dataclass(frozen=True)
class StartSlot:
    """Conversations of one source started in one 15-minute slot."""

    slot: datetime
    source: str
    n: int


@dataclass(frozen=True)
class LocalStartDay:
    """Conversations started on one local day within one run of constant UTC offset, per
    source, and the first and last of their 15-minute slots (UTC instants)."""

    day: date
    run: int  # 1-based index into the runs `local_start_days` was given
    chatgpt: int
    claude: int
    openwebui: int
    unknown: int
    first_slot: datetime
    last_slot: datetime


# -- writes ------------------------------------------------------------------------------

COPY_CONVERSATIONS_SQL = (
    "COPY conversations (id, title, source, source_id, created_at, metadata) FROM STDIN"
)

UPDATE_FIELDS_SQL = (
    "UPDATE conversations SET title = %(title)s, metadata = %(metadata)s::jsonb "
    "WHERE id = %(id)s"
)

DELETE_SQL = "DELETE FROM conversations WHERE id = %(id)s"

DELETE_BY_SOURCE_ID_SQL = """
DELETE FROM conversations
WHERE source_id LIKE %(pattern)s AND (%(source)s::text IS NULL OR source = %(source)s)
"""

SET_SAVED_SQL = "UPDATE conversations SET is_saved = %(saved)s WHERE id = %(id)s"


def copy_new(connection: psycopg.Connection[Any], rows: Sequence[NewConversation]) -> None:
    """Insert new conversations by COPY (the import's speed)."""
    if not rows:
        return
    with connection.cursor() as cursor, cursor.copy(COPY_CONVERSATIONS_SQL) as copy:
        for c in rows:
            copy.write_row((c.id, c.title, c.source, c.source_id, c.created_at, c.metadata_json))


def update_fields(connection: psycopg.Connection[Any], changes: Sequence[ConversationChange]) -> None:
    """Store new titles and metadata."""
    if not changes:
        return
    with connection.cursor() as cursor:
        cursor.executemany(UPDATE_FIELDS_SQL, [
            {"id": c.id, "title": c.title, "metadata": c.metadata_json} for c in changes
        ])


def delete(connection: psycopg.Connection[Any], conversation_id: uuid.UUID) -> bool:
    """Delete a conversation; its messages and embeddings go with it (cascade)."""
    with connection.cursor() as cursor:
        return bool(cursor.execute(DELETE_SQL, {"id": conversation_id}).rowcount)


def delete_by_source_id(
    connection: psycopg.Connection[Any], pattern: str, source: str | None = None
) -> int:
    """Delete the conversations whose source id matches `pattern` (LIKE), optionally of
    one source: what a benchmark wrote. Returns how many."""
    with connection.cursor() as cursor:
        cursor.execute(DELETE_BY_SOURCE_ID_SQL, {"pattern": pattern, "source": source})
        return cursor.rowcount


def set_saved(connection: psycopg.Connection[Any], conversation_id: uuid.UUID, saved: bool) -> bool:
    """Mark a conversation saved (or not); False for an unknown id."""
    with connection.cursor() as cursor:
        return bool(cursor.execute(SET_SAVED_SQL, {"id": conversation_id, "saved": saved}).rowcount)


# -- reads -------------------------------------------------------------------------------

FIND_BY_SOURCE_SQL = """
SELECT c.id, c.source, c.source_id, c.title, c.metadata, c.created_at
FROM conversations c
JOIN unnest(%(sources)s::text[], %(source_ids)s::text[]) AS k(source, source_id)
  ON c.source = k.source AND c.source_id = k.source_id
"""

COUNT_SQL = "SELECT count(*) FROM conversations"

_SUMMARY_COLUMNS = (
    "conversation_id, title, source, created_at, is_saved, message_count, "
    "first_message_at, last_message_at, preview"
)

SUMMARY_SQL = (
    f"SELECT {_SUMMARY_COLUMNS} FROM conversation_summaries WHERE conversation_id = %(id)s"
)

# Newest activity first (last message, else creation), ties by id. The page's ids come
# from the sort key's index (`conversations_activity_idx`, migration 0010) alone, so the
# view's preview lookup runs for the page's rows only, not for every row OFFSET skips.
PAGE_SQL = f"""
SELECT {_SUMMARY_COLUMNS}
FROM (SELECT id FROM conversations
      ORDER BY coalesce(last_message_at, created_at) DESC, id
      LIMIT %(limit)s OFFSET %(offset)s) AS page
JOIN conversation_summaries ON conversation_id = page.id
ORDER BY coalesce(last_message_at, created_at) DESC, conversation_id
"""

# Aggregates over indexed columns, never a scan of message text: sized for an API
# request's budget of milliseconds. The message count is the one the BM25 statistics
# triggers keep exact (migration 0002): counting a million rows took 0.2-0.3 s.
TOTALS_SQL = """
SELECT (SELECT count(*) FROM conversations) AS conversations,
       (SELECT doc_count FROM search_corpus_stats) AS messages,
       (SELECT count(*) FROM message_embeddings WHERE model = %(model)s) AS embeddings,
       least((SELECT min(created_at) FROM messages),
             (SELECT min(created_at) FROM conversations)) AS earliest,
       greatest((SELECT max(created_at) FROM messages),
                (SELECT max(created_at) FROM conversations)) AS latest,
       (SELECT min(created_at) FROM conversations) AS first_start,
       (SELECT max(created_at) FROM conversations) AS last_start
"""

START_SLOTS_SQL = """
SELECT to_timestamp(floor(extract(epoch FROM created_at) / %(slot)s) * %(slot)s) AS slot,
       source, count(*) AS n
FROM conversations GROUP BY 1, 2 ORDER BY 1, 2
"""

# Starts per local day: each conversation's 15-minute slot (as START_SLOTS_SQL) gets the
# UTC offset of the run holding it (`starts`: each run's first slot, ascending; a slot
# before the first run belongs to the first), so one row per local day (and run) comes
# back instead of one per slot. The offset is added to the slot's UTC wall-clock time,
# so the session's time zone plays no part. OFFSET 0 keeps each row's run and day computed
# once (not once per use) and lets the planner expect few groups (a hash aggregate).
LOCAL_START_DAYS_SQL = f"""
SELECT day, run,
       {", ".join(f"count(*) FILTER (WHERE source = '{s}') AS {s}" for s in SOURCES)},
       min(slot) AS first_slot, max(slot) AS last_slot
FROM (SELECT source, slot, run,
             ((slot AT TIME ZONE 'UTC') + (%(offsets)s::interval[])[run])::date AS day
      FROM (SELECT source, slot, greatest(width_bucket(slot, %(starts)s::timestamptz[]), 1) AS run
            FROM (SELECT source,
                         date_bin(make_interval(secs => %(slot)s), created_at,
                                  timestamptz 'epoch') AS slot
                  FROM conversations) AS slots
            OFFSET 0) AS runs
      OFFSET 0) AS days
GROUP BY day, run ORDER BY day, run
"""


@dataclass(frozen=True)
class ScopedCounts:
    """Conversations and messages of the conversations a metadata scope selects."""

    conversations: int
    messages: int


# Conversations whose metadata contains a JSON object (e.g. {"dataset": tag}).
COUNTS_WITH_METADATA_SQL = """
SELECT count(*) AS conversations, coalesce(sum(message_count), 0) AS messages
FROM conversations WHERE metadata @> %(scope)s::jsonb
"""

MATCHING_TITLE_SQL = """
SELECT id FROM conversations WHERE title ILIKE %(pattern)s ORDER BY created_at DESC LIMIT %(limit)s
"""

SOURCES_PRESENT_SQL = "SELECT DISTINCT source FROM conversations ORDER BY source"


def counts_with_metadata(connection: psycopg.Connection[Any], scope: dict[str, Any]) -> ScopedCounts:
    """How many conversations (and their messages) have metadata containing `scope`."""
    with connection.cursor(row_factory=class_row(ScopedCounts)) as cursor:
        row = cursor.execute(COUNTS_WITH_METADATA_SQL, {"scope": json.dumps(scope)}).fetchone()
    assert row is not None  # an aggregate always returns one row
    return row


def matching_title(connection: psycopg.Connection[Any], text: str, limit: int) -> list[uuid.UUID]:
    """Ids of the newest conversations whose title contains `text` (case-insensitive)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    with connection.cursor(row_factory=scalar_row) as cursor:
        return cursor.execute(
            MATCHING_TITLE_SQL, {"pattern": f"%{escaped}%", "limit": limit}
        ).fetchall()


def sources_present(connection: psycopg.Connection[Any]) -> list[str]:
    """The sources the archive holds conversations of."""
    with connection.cursor(row_factory=scalar_row) as cursor:
        return cursor.execute(SOURCES_PRESENT_SQL).fetchall()


EXISTING_SOURCE_IDS_SQL = "SELECT source_id FROM conversations WHERE source_id = ANY(%(ids)s)"


def existing_source_ids(connection: psycopg.Connection[Any], ids: Sequence[str]) -> set[str]:
    """Which of `ids` are source ids of stored conversations (of any source)."""
    with connection.cursor(row_factory=scalar_row) as cursor:
        return set(cursor.execute(EXISTING_SOURCE_IDS_SQL, {"ids": list(ids)}))


@dataclass(frozen=True)
class KeyCount:
    """A conversation's key and how many messages it holds."""

    source: str
    source_id: str
    messages: int


# Among these keys, the conversations an export import wrote (no legacy store's chunk ids
# in their metadata), with their message counts: a legacy import recognises them.
EXPORT_IMPORTED_COUNTS_SQL = """
SELECT c.source, c.source_id, c.message_count AS messages
FROM conversations c
JOIN unnest(%(sources)s::text[], %(source_ids)s::text[]) AS k(source, source_id)
  ON c.source = k.source AND c.source_id = k.source_id
WHERE jsonb_typeof(c.metadata -> 'legacy' -> 'chroma_ids') IS DISTINCT FROM 'array'
"""


def export_imported_counts(
    connection: psycopg.Connection[Any], keys: Sequence[tuple[str, str]]
) -> list[KeyCount]:
    """Message counts of the conversations among `keys` that no legacy import wrote."""
    if not keys:
        return []
    with connection.cursor(row_factory=class_row(KeyCount)) as cursor:
        return cursor.execute(EXPORT_IMPORTED_COUNTS_SQL, {
            "sources": [source for source, _ in keys],
            "source_ids": [source_id for _, source_id in keys],
        }).fetchall()


def find_by_source(
    connection: psycopg.Connection[Any], keys: Sequence[tuple[str, str]]
) -> list[StoredConversation]:
    """The stored conversations among these (source, source_id) keys."""
    if not keys:
        return []
    with connection.cursor(row_factory=class_row(StoredConversation)) as cursor:
        return cursor.execute(FIND_BY_SOURCE_SQL, {
            "sources": [source for source, _ in keys],
            "source_ids": [source_id for _, source_id in keys],
        }).fetchall()


def count(connection: psycopg.Connection[Any]) -> int:
    """How many conversations the archive holds."""
    with connection.cursor(row_factory=scalar_row) as cursor:
        return int(cursor.execute(COUNT_SQL).fetchone() or 0)


def summary(
    connection: psycopg.Connection[Any], conversation_id: uuid.UUID
) -> ConversationSummary | None:
    """One conversation's summary, or None for an unknown id."""
    with connection.cursor(row_factory=class_row(ConversationSummary)) as cursor:
        return cursor.execute(SUMMARY_SQL, {"id": conversation_id}).fetchone()


def list_page(connection: psycopg.Connection[Any], page: int = 1, limit: int = 50) -> Page:
    """Summaries ordered by newest activity first (last message, else creation)."""
    if page < 1 or limit < 1:
        raise ValueError(f"page and limit must be >= 1 (got page={page}, limit={limit})")
    with connection.cursor(row_factory=class_row(ConversationSummary)) as cursor:
        items = cursor.execute(PAGE_SQL, {"limit": limit, "offset": (page - 1) * limit}).fetchall()
    return Page(items=items, page=page, limit=limit, total=count(connection))


def archive_totals(connection: psycopg.Connection[Any], model: str) -> ArchiveTotals:
    """Conversation/message/embedding counts, the first and last activity and the first
    and last conversation start."""
    with connection.cursor(row_factory=class_row(ArchiveTotals)) as cursor:
        row = cursor.execute(TOTALS_SQL, {"model": model}).fetchone()
    assert row is not None  # an aggregate always returns one row
    return row


def start_slots(connection: psycopg.Connection[Any]) -> list[StartSlot]:
    """Conversations started per (15-minute slot, source): one row per slot, about one
    per conversation. The API's stats use `local_start_days`; this is the per-slot
    reference it is tested against."""
    with connection.cursor(row_factory=class_row(StartSlot)) as cursor:
        return cursor.execute(START_SLOTS_SQL, {"slot": SLOT_SECONDS}).fetchall()


def local_start_days(
    connection: psycopg.Connection[Any], starts: Sequence[datetime], offsets: Sequence[timedelta]
) -> list[LocalStartDay]:
    """Conversations started per local day (and source), the day of each 15-minute slot
    taken with the UTC offset of the run (`starts[i]`, `offsets[i]`) holding it."""
    if len(starts) != len(offsets) or not starts:
        raise ValueError(f"need one offset per run start (got {len(starts)} starts, "
                         f"{len(offsets)} offsets)")
    with connection.cursor(row_factory=class_row(LocalStartDay)) as cursor:
        return cursor.execute(LOCAL_START_DAYS_SQL, {
            "slot": SLOT_SECONDS, "starts": list(starts), "offsets": list(offsets),
        }).fetchall()
