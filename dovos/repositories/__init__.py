"""Repositories (one per table group) and the unit of work that binds them to a transaction."""

from dovos.repositories.conversations import ConversationRepository, ConversationSummary, Page
from dovos.repositories.embeddings import Coverage, EmbeddingRepository
from dovos.repositories.jobs import EMBED_MESSAGE, JobRepository, embed_dedupe_key
from dovos.repositories.messages import MessageRepository
from dovos.repositories.settings import SettingsRepository
from dovos.repositories.unit_of_work import UnitOfWork

__all__ = [
    "EMBED_MESSAGE",
    "ConversationRepository",
    "ConversationSummary",
    "Coverage",
    "EmbeddingRepository",
    "JobRepository",
    "MessageRepository",
    "Page",
    "SettingsRepository",
    "UnitOfWork",
    "embed_dedupe_key",
]
