"""Unit of work: one transaction on one pooled connection, committed or rolled back whole."""

from __future__ import annotations

from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import psycopg

if TYPE_CHECKING:
    from dovos.db import Database
    from dovos.repositories.embeddings import EmbeddingRepository


class UnitOfWork:
    """`with UnitOfWork(database) as uow:` commits on success, rolls back on any exception.

    `uow.connection` is a psycopg connection from the database's pool; pass it to the
    functions of the table-group modules (`settings.set(uow.connection, ...)`). Nothing
    written inside the block is visible to others until it commits, and an exception
    anywhere (including KeyboardInterrupt) leaves the database unchanged.
    """

    connection: psycopg.Connection[Any]

    def __init__(self, database: Database) -> None:
        self.database = database

    def __enter__(self) -> Self:
        self._pooled = self.database.pooled()
        self.connection = self._pooled.__enter__()
        # An explicit outer transaction: a `connection.transaction()` inside the unit
        # (ingest's) becomes a savepoint instead of committing on its own.
        self._transaction = self.connection.transaction()
        self._transaction.__enter__()
        return self

    @cached_property
    def embeddings(self) -> EmbeddingRepository:
        """Embedding reads (coverage) on an ORM session of their own, until
        `dovos.repositories.embeddings` reads through this unit's connection."""
        from dovos.repositories.embeddings import EmbeddingRepository

        self._session = self.database.session_factory()
        return EmbeddingRepository(self._session)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._transaction.__exit__(exc_type, exc, traceback)  # commit, or roll back
        finally:
            session = self.__dict__.pop("_session", None)
            if session is not None:
                session.close()
            self._pooled.__exit__(exc_type, exc, traceback)
