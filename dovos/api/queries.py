"""The few read queries the API needs that no repository offers (stats and health).

Each is one parameterized statement sized for a per-request budget of milliseconds:
aggregates over indexed columns, never a scan of message text.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.orm import Session

# Timeline counts are pre-aggregated into 15-minute slots: every real UTC offset is a
# multiple of 15 minutes, so Python can re-bucket them by day/week/month in any time zone.
SLOT_SECONDS = 900


@dataclass(frozen=True)
class ArchiveTotals:
    """Counts and time span of the whole archive."""

    conversations: int
    messages: int
    embeddings: int
    earliest: datetime | None
    latest: datetime | None


def archive_totals(session: Session, model: str) -> ArchiveTotals:
    """Conversation/message/embedding counts and the first and last activity."""
    row = session.execute(
        text(
            "SELECT (SELECT count(*) FROM conversations) AS conversations, "
            "       (SELECT count(*) FROM messages) AS messages, "
            "       (SELECT count(*) FROM message_embeddings WHERE model = :model) AS embeddings, "
            "       least((SELECT min(created_at) FROM messages), "
            "             (SELECT min(created_at) FROM conversations)) AS earliest, "
            "       greatest((SELECT max(created_at) FROM messages), "
            "                (SELECT max(created_at) FROM conversations)) AS latest"
        ),
        {"model": model},
    ).one()
    return ArchiveTotals(
        conversations=int(row.conversations),
        messages=int(row.messages),
        embeddings=int(row.embeddings),
        earliest=row.earliest,
        latest=row.latest,
    )


def conversation_start_slots(session: Session) -> list[tuple[datetime, str, int]]:
    """(slot start, source, conversations started in that 15-minute slot)."""
    rows = session.execute(
        text(
            "SELECT to_timestamp(floor(extract(epoch FROM created_at) / :slot) * :slot) AS slot, "
            "       source, count(*) AS n "
            "FROM conversations GROUP BY 1, 2 ORDER BY 1, 2"
        ),
        {"slot": SLOT_SECONDS},
    ).all()
    return [(row.slot, row.source, int(row.n)) for row in rows]



def conversation_turns(session: Session, conversation_id: uuid.UUID) -> list[Row[Any]]:
    """(role, content, created_at) of a conversation's messages in order: only what a
    transcript shows (the ORM rows would also carry each message's tsvector)."""
    return list(session.execute(
        text("SELECT role, content, created_at FROM messages "
             "WHERE conversation_id = :id ORDER BY position"),
        {"id": conversation_id},
    ).all())
