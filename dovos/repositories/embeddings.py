"""Message embeddings and how much of the archive they cover."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from dovos.db.models import MessageEmbedding


@dataclass(frozen=True)
class Coverage:
    """Embedding coverage for one model: `stale` rows were embedded from an older version
    of the message or of the turn before it (its context)."""

    model: str
    total: int
    embedded: int
    stale: int

    @property
    def current(self) -> int:
        return self.embedded - self.stale

    @property
    def missing(self) -> int:
        return self.total - self.embedded

    @property
    def percent(self) -> float:
        """Share of messages whose embedding matches their current text and context."""
        return 100.0 * self.current / self.total if self.total else 100.0


class EmbeddingRepository:
    """Reads `message_embeddings` (the worker writes them in bulk)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, message_id: uuid.UUID, model: str) -> MessageEmbedding | None:
        return self.session.get(MessageEmbedding, (message_id, model))

    def count(self, model: str | None = None) -> int:
        query = select(func.count()).select_from(MessageEmbedding)
        if model is not None:
            query = query.where(MessageEmbedding.model == model)
        return int(self.session.scalar(query) or 0)

    def coverage(self, model: str) -> Coverage:
        row = self.session.execute(
            text("SELECT model, total, embedded, stale FROM embedding_coverage(:model)"),
            {"model": model},
        ).one()
        return Coverage(model=row.model, total=row.total, embedded=row.embedded, stale=row.stale)
