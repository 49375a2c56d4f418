"""Conversations and their summaries (message counts, first/last time, preview)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from dovos.db.models import Conversation


@dataclass(frozen=True)
class ConversationSummary:
    """One row of the `conversation_summaries` view."""

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


_SUMMARY_COLUMNS = (
    "conversation_id, title, source, created_at, is_saved, message_count, "
    "first_message_at, last_message_at, preview"
)


class ConversationRepository:
    """Reads and writes `conversations` inside one unit of work's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, conversation: Conversation) -> Conversation:
        self.session.add(conversation)
        self.session.flush()
        return conversation

    def get(self, conversation_id: uuid.UUID) -> Conversation | None:
        return self.session.get(Conversation, conversation_id)

    def get_by_source(self, source: str, source_id: str) -> Conversation | None:
        return self.session.scalars(
            select(Conversation).where(
                Conversation.source == source, Conversation.source_id == source_id
            )
        ).one_or_none()

    def delete(self, conversation_id: uuid.UUID) -> bool:
        """Delete a conversation; its messages and embeddings go with it (cascade)."""
        result = self.session.execute(delete(Conversation).where(Conversation.id == conversation_id))
        return bool(result.rowcount)

    def set_saved(self, conversation_id: uuid.UUID, saved: bool) -> bool:
        result = self.session.execute(
            update(Conversation).where(Conversation.id == conversation_id).values(is_saved=saved)
        )
        return bool(result.rowcount)

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(Conversation)) or 0)

    def summary(self, conversation_id: uuid.UUID) -> ConversationSummary | None:
        row = self.session.execute(
            text(f"SELECT {_SUMMARY_COLUMNS} FROM conversation_summaries WHERE conversation_id = :id"),
            {"id": conversation_id},
        ).mappings().one_or_none()
        return ConversationSummary(**row) if row else None

    def list_page(self, page: int = 1, limit: int = 50) -> Page:
        """Summaries ordered by newest activity first (last message, else creation)."""
        if page < 1 or limit < 1:
            raise ValueError(f"page and limit must be >= 1 (got page={page}, limit={limit})")
        rows = self.session.execute(
            text(
                f"SELECT {_SUMMARY_COLUMNS} FROM conversation_summaries "
                "ORDER BY coalesce(last_message_at, created_at) DESC, conversation_id "
                "LIMIT :limit OFFSET :offset"
            ),
            {"limit": limit, "offset": (page - 1) * limit},
        ).mappings()
        items = [ConversationSummary(**row) for row in rows]
        return Page(items=items, page=page, limit=limit, total=self.count())
