"""Unit of work: one transaction, every repository on it, commit or roll back as a whole."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from dovos.repositories.conversations import ConversationRepository
from dovos.repositories.embeddings import EmbeddingRepository
from dovos.repositories.jobs import JobRepository
from dovos.repositories.messages import MessageRepository
from dovos.repositories.settings import SettingsRepository


class UnitOfWork:
    """`with db.unit_of_work() as uow:` commits on success, rolls back on any exception.

    Nothing written inside the block is visible to others until it commits, and an
    exception anywhere (including KeyboardInterrupt) leaves the database unchanged.
    """

    session: Session

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.conversations = ConversationRepository(self.session)
        self.messages = MessageRepository(self.session)
        self.embeddings = EmbeddingRepository(self.session)
        self.jobs = JobRepository(self.session)
        self.settings = SettingsRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self.session.commit()
            else:
                self.session.rollback()
        finally:
            self.session.close()
