"""Messages of a conversation, in order."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dovos.db.models import Message
from dovos.repositories.jobs import EMBED_MESSAGE, JobRepository, embed_dedupe_key
from dovos.search.document_text import DEPENDENT_INPUTS_SQL


class MessageRepository:
    """Reads and writes `messages` inside one unit of work's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, message: Message) -> Message:
        self.session.add(message)
        self.session.flush()
        return message

    def get(self, message_id: uuid.UUID) -> Message | None:
        return self.session.get(Message, message_id)

    def list_for_conversation(self, conversation_id: uuid.UUID) -> list[Message]:
        """All messages of a conversation by position."""
        return list(
            self.session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id)
                .order_by(Message.position)
            )
        )

    def update_content(self, message_id: uuid.UUID, content: str) -> int | None:
        """Change a message's text; returns its version (bumped by the trigger if changed),
        or None for an unknown id.

        A change enqueues, in the same transaction (the outbox), the embed jobs it calls
        for: this message's and the next turn's, which is embedded with it as context.
        """
        before = self.session.scalar(select(Message.version).where(Message.id == message_id))
        if before is None:
            return None
        version = self.session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(content=content)
            .returning(Message.version)
        ).scalar_one()
        if version != before:
            jobs = JobRepository(self.session)
            dependents = self.session.connection().exec_driver_sql(
                DEPENDENT_INPUTS_SQL, {"ids": [message_id]}
            ).all()
            for dependent_id, dependent_version in dependents:
                jobs.enqueue(
                    EMBED_MESSAGE,
                    {"message_id": str(dependent_id), "version": dependent_version},
                    dedupe_key=embed_dedupe_key(dependent_id),
                )
        return version

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(Message)) or 0)
