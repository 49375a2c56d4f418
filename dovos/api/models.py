"""The frozen legacy JSON contract (../shared/contract/CONTRACT.md) as pydantic models.

The archive's web frontend reads exactly these shapes, so they are declared once here:
routes return them, the OpenAPI spec is generated from them, and the contract tests
validate every response against them. Field names and types must not change; adding a
field is allowed by the contract, removing or renaming one is not.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Source = Literal["chatgpt", "claude", "openwebui", "unknown"]
SearchType = Literal["auto", "fts", "semantic", "hybrid"]
RagSearchType = Literal["semantic", "hybrid", "keyword"]

COLLECTION_NAME = "chat_history"


class ContractModel(BaseModel):
    """Base of every response: immutable, and no key the contract does not know."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ErrorResponse(ContractModel):
    """Every 4xx/5xx body: one message naming what was wrong."""

    error: str


# -- conversations ------------------------------------------------------------------------
class ConversationMetadata(ContractModel):
    """Metadata of one conversation in the detail response (no `is_saved` there)."""

    id: str
    title: str
    source: Source
    message_count: int
    earliest_ts: str
    latest_ts: str
    is_chunk: bool = False
    conversation_id: str


class ConversationListMetadata(ConversationMetadata):
    """Metadata of one conversation in the list response."""

    is_saved: bool


class Pagination(ContractModel):
    page: int
    limit: int
    total: int = Field(description="Number of conversations (not pages).")
    has_next: bool
    has_prev: bool


class ConversationListResponse(ContractModel):
    """GET /api/conversations: previews, ids and metadata, newest activity first."""

    documents: list[str]
    ids: list[str]
    metadatas: list[ConversationListMetadata]
    pagination: Pagination


class ConversationDetailResponse(ContractModel):
    """GET /api/conversation/{id}: one transcript."""

    documents: list[str]
    ids: list[str]
    metadatas: list[ConversationMetadata]
    is_saved: bool


# -- search -------------------------------------------------------------------------------
class MessageMetadata(ContractModel):
    """Metadata of one matching message (search and RAG results)."""

    id: str = Field(description="The conversation id (what the frontend opens).")
    title: str
    source: Source
    earliest_ts: str
    latest_ts: str
    message_count: int = 1
    conversation_id: str
    message_id: str
    role: str


class SearchResult(ContractModel):
    title: str
    date: str
    content: str
    metadata: MessageMetadata


class SearchMetadata(ContractModel):
    total_results: int
    truncated: bool
    search_type: str = Field(description="What ran: fts, semantic or hybrid.")


class SearchResponse(ContractModel):
    """GET /api/search: one result per matching message, best first."""

    query: str
    results: list[SearchResult]
    search_metadata: SearchMetadata


class RagQueryRequest(BaseModel):
    """POST /api/rag/query body."""

    model_config = ConfigDict(extra="ignore")

    query: str = Field(min_length=1, max_length=10_000)
    n_results: int = Field(default=5, ge=1, le=100)
    search_type: RagSearchType = "semantic"


class RagResult(ContractModel):
    id: str = Field(description="The conversation id.")
    title: str
    content: str
    preview: str
    source: Source
    distance: float = Field(ge=0.0, le=1.0)
    relevance: float = Field(ge=0.0, le=1.0)
    metadata: MessageMetadata


class RagQueryResponse(ContractModel):
    """POST /api/rag/query: best messages with a distance in [0, 1]."""

    query: str
    search_type: str
    results: list[RagResult]


# -- stats and health ---------------------------------------------------------------------
class TimelineBucket(ContractModel):
    """Conversations started in one day/week/month, per source (zero when none)."""

    date: str = Field(description="First day of the bucket, YYYY-MM-DD.")
    chatgpt: int = 0
    claude: int = 0
    openwebui: int = 0
    unknown: int = 0


class StatsResponse(ContractModel):
    """GET /api/stats."""

    status: Literal["healthy"] = "healthy"
    collection_name: str = COLLECTION_NAME
    document_count: int
    embedding_model: str
    total_conversations: int
    total_messages: int
    total_embeddings: int
    embedding_coverage_percent: float
    earliest_ts: str | None
    latest_ts: str | None
    timeline: list[TimelineBucket]


class QueueCounts(ContractModel):
    """Live job counts (null when the database cannot be reached)."""

    pending: int | None
    running: int | None
    failed: int | None


class WorkerStatus(ContractModel):
    last_heartbeat: str | None = Field(description="Latest beat of any worker, or null.")
    alive: int | None = Field(default=None, description="Workers that beat recently.")


class HealthResponse(ContractModel):
    """GET /api/rag/health (HTTP 503 with status "unhealthy" when the database is down)."""

    status: Literal["healthy", "unhealthy"]
    collection_name: str = COLLECTION_NAME
    document_count: int | None
    embedding_model: str
    queue: QueueCounts
    worker: WorkerStatus
    error: str | None = None
