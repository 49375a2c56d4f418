"""Compatibility adapter: repositories and search results -> the legacy contract models.

The routes in `app.py` only parse HTTP and call one method here; everything the legacy
frontend expects (previews, transcripts, timestamps, score scales, search-type names)
is decided in this module and `formatting.py`, so it can be called and tested without
HTTP (the latency benchmark uses it as its in-process reference).
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol

from dovos.api import formatting as fmt
from dovos.api import models as m
from dovos.api.timeline_days import offset_runs
from dovos.api.timeline_days import timeline as days_timeline
from dovos.db import Database
from dovos.repositories import conversations, jobs, messages
from dovos.repositories.conversations import ConversationSummary, Page, StartSlot
from dovos.repositories.unit_of_work import UnitOfWork
from dovos.search.types import InvalidQueryError, SearchHit, SearchResponse

MAX_QUERY_CHARS = 10_000
# Contract search types -> service modes ("auto" asks for hybrid: the service itself
# falls back to lexical, and says so in `effective_mode`, when no embeddings exist).
SEARCH_MODES = {"auto": "hybrid", "fts": "lexical", "semantic": "vector", "hybrid": "hybrid"}
RAG_MODES = {"semantic": "vector", "hybrid": "hybrid", "keyword": "lexical"}
# What ran, in each endpoint's vocabulary.
SEARCH_TYPE_NAMES = {"lexical": "fts", "vector": "semantic", "hybrid": "hybrid"}
RAG_TYPE_NAMES = {"lexical": "keyword", "vector": "semantic", "hybrid": "hybrid"}


class ApiError(Exception):
    """An error the API answers with `{"error": message}` and `status`."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ApiError):
    status = 400


class NotFound(ApiError):
    status = 404


class Unavailable(ApiError):
    status = 503


class Searcher(Protocol):
    """The part of dovos.search.service.SearchService the API uses."""

    def search(self, query: str, mode: Any = "hybrid", k: int = 10, filters: Any = None,
               params: Any = None) -> SearchResponse: ...


class LegacyAdapter:
    """Answers each legacy endpoint from the store, as a contract model.

    `database` and `search_service` are callables so that the app can start before the
    database (and the embedding model) are needed: each is resolved on first use.
    """

    def __init__(
        self,
        database: Callable[[], Database],
        search_service: Callable[[Database], Searcher],
        embedding_model: str,
        tz: tzinfo | None = None,
    ) -> None:
        self._database = database
        self._make_search_service = search_service
        self._search_service: Searcher | None = None
        self._lock = threading.Lock()
        self.embedding_model = embedding_model
        self.tz = tz

    # -- conversations -------------------------------------------------------------------
    def conversations(self, page: int, limit: int) -> m.ConversationListResponse:
        """One page of conversations, newest activity first."""
        with UnitOfWork(self._database()) as uow:
            found = conversations.list_page(uow.connection, page=page, limit=limit)
        return self._conversation_page(found)

    def _conversation_page(self, found: Page) -> m.ConversationListResponse:
        return m.ConversationListResponse(
            documents=[fmt.preview(s.preview or "", fmt.CONVERSATION_PREVIEW_CHARS)
                       for s in found.items],
            ids=[str(s.conversation_id) for s in found.items],
            metadatas=[
                m.ConversationListMetadata(**self._summary_fields(s), is_saved=s.is_saved)
                for s in found.items
            ],
            pagination=m.Pagination(
                page=found.page, limit=found.limit, total=found.total,
                has_next=found.has_next, has_prev=found.has_prev,
            ),
        )

    def conversation(self, conversation_id: uuid.UUID | str) -> m.ConversationDetailResponse:
        """The full transcript of one conversation (400 malformed id, 404 unknown)."""
        cid = parse_conversation_id(conversation_id)
        with UnitOfWork(self._database()) as uow:
            summary = conversations.summary(uow.connection, cid)
            if summary is None:
                raise NotFound(f"Unknown conversation id: {cid}")
            transcript = messages.turns(uow.connection, cid)
        turns = (
            fmt.transcript_turn(msg.role, summary.source, msg.created_at, msg.content, self.tz)
            for msg in transcript
        )
        return m.ConversationDetailResponse(
            documents=[fmt.join_turns(turns)],
            ids=[str(cid)],
            metadatas=[m.ConversationMetadata(**self._summary_fields(summary))],
            is_saved=summary.is_saved,
        )

    def _summary_fields(self, summary: ConversationSummary) -> dict[str, Any]:
        earliest = summary.first_message_at or summary.created_at
        latest = summary.last_message_at or summary.created_at
        return {
            "id": str(summary.conversation_id),
            "conversation_id": str(summary.conversation_id),
            "title": summary.title,
            "source": summary.source,
            "message_count": summary.message_count,
            "earliest_ts": fmt.to_iso(earliest, self.tz),
            "latest_ts": fmt.to_iso(latest, self.tz),
            "is_chunk": False,
        }

    # -- search --------------------------------------------------------------------------
    def search(self, q: str, n: int, search_type: str, keyword: bool) -> m.SearchResponse:
        """GET /api/search: `n` messages best first; `truncated` when more matched."""
        query = clean_query(q)
        mode = "lexical" if keyword else SEARCH_MODES[search_type]
        response = self._search(query, mode, n + 1)
        hits = response.hits[:n]
        return m.SearchResponse(
            query=q,
            results=[
                m.SearchResult(
                    title=hit.conversation_title,
                    date=fmt.to_iso(hit.created_at, self.tz),
                    content=fmt.preview(hit.content, fmt.SEARCH_PREVIEW_CHARS),
                    metadata=self._hit_metadata(hit),
                )
                for hit in hits
            ],
            search_metadata=m.SearchMetadata(
                total_results=len(hits),
                truncated=len(response.hits) > n,
                search_type=SEARCH_TYPE_NAMES[response.effective_mode],
            ),
        )

    def rag_query(self, request: m.RagQueryRequest) -> m.RagQueryResponse:
        """POST /api/rag/query: the best messages with distance/relevance in [0, 1]."""
        query = clean_query(request.query)
        response = self._search(query, RAG_MODES[request.search_type], request.n_results)
        results = []
        for hit in response.hits:
            relevance = hit_relevance(hit, response)
            results.append(
                m.RagResult(
                    id=str(hit.conversation_id),
                    title=hit.conversation_title,
                    content=hit.content,
                    preview=fmt.preview(hit.content, fmt.RAG_PREVIEW_CHARS),
                    source=hit.source,
                    distance=round(1.0 - relevance, 6),
                    relevance=relevance,
                    metadata=self._hit_metadata(hit),
                )
            )
        return m.RagQueryResponse(
            query=request.query,
            search_type=RAG_TYPE_NAMES[response.effective_mode],
            results=results,
        )

    def _hit_metadata(self, hit: SearchHit) -> m.MessageMetadata:
        when = fmt.to_iso(hit.created_at, self.tz)
        return m.MessageMetadata(
            id=str(hit.conversation_id),
            title=hit.conversation_title,
            source=hit.source,
            earliest_ts=when,
            latest_ts=when,
            message_count=1,
            conversation_id=str(hit.conversation_id),
            message_id=str(hit.message_id),
            role=hit.role,
        )

    def _search(self, query: str, mode: str, k: int) -> SearchResponse:
        """Run the search service with its stored parameters; bad queries become 400."""
        try:
            return self._searcher().search(query, mode=mode, k=k)
        except InvalidQueryError as error:
            raise BadRequest(str(error)) from error

    def _searcher(self) -> Searcher:
        with self._lock:
            if self._search_service is None:
                self._search_service = self._make_search_service(self._database())
            return self._search_service

    # -- stats and health ----------------------------------------------------------------
    def stats(self) -> m.StatsResponse:
        """Archive counts, embedding coverage and the conversation timeline.

        Coverage here is the share of messages with a vector by the model, as the legacy
        store counted it. Whether each vector matches the message's current text
        (`embedding_coverage()`, which the notebooks' worker cell reports) needs a join
        over every message that took 26 s at a million messages; edits waiting for
        re-embedding show in `/api/rag/health`'s queue instead.
        """
        with UnitOfWork(self._database()) as uow:
            totals = conversations.archive_totals(uow.connection, self.embedding_model)
            days: list[conversations.LocalStartDay] = []
            offsets: list[timedelta] = []
            if totals.first_start and totals.last_start:  # else no conversations
                starts, offsets = offset_runs(self.tz, totals.first_start, totals.last_start)
                days = conversations.local_start_days(uow.connection, starts, offsets)
        percent = 100.0 * totals.embeddings / totals.messages if totals.messages else 0.0
        return m.StatsResponse(
            document_count=totals.conversations,
            embedding_model=self.embedding_model,
            total_conversations=totals.conversations,
            total_messages=totals.messages,
            total_embeddings=totals.embeddings,
            embedding_coverage_percent=round(min(percent, 100.0), 2),
            earliest_ts=fmt.to_iso(totals.earliest, self.tz) if totals.earliest else None,
            latest_ts=fmt.to_iso(totals.latest, self.tz) if totals.latest else None,
            timeline=days_timeline(days, offsets, self.tz),
        )

    def health(self) -> m.HealthResponse:
        """Database reachability, queue counts and the latest worker heartbeat.

        Any failure to reach or read the database means "unhealthy" (the route answers
        503), so this catches every exception on purpose and reports its first line.
        """
        from dovos.repositories.heartbeats import worker_heartbeats

        try:
            database = self._database()
            with UnitOfWork(database) as uow:
                count = conversations.count(uow.connection)
                queue = jobs.live_counts(uow.connection)
            beats = worker_heartbeats(database)
        except Exception as error:  # noqa: BLE001 - unreachable, for whatever reason
            return m.HealthResponse(
                status="unhealthy",
                document_count=None,
                embedding_model=self.embedding_model,
                queue=m.QueueCounts(pending=None, running=None, failed=None),
                worker=m.WorkerStatus(last_heartbeat=None, alive=None),
                error=f"database unreachable: {_first_line(error)}",
            )
        return m.HealthResponse(
            status="healthy",
            document_count=count,
            embedding_model=self.embedding_model,
            queue=m.QueueCounts(**queue),
            worker=m.WorkerStatus(
                last_heartbeat=latest_heartbeat([beat.last_beat for beat in beats], self.tz),
                alive=sum(1 for beat in beats if beat.alive),
            ),
        )


# -- pure helpers ---------------------------------------------------------------------------
def parse_conversation_id(value: uuid.UUID | str) -> uuid.UUID:
    """A UUID, or BadRequest naming the malformed id."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise BadRequest(malformed_id_message(value)) from None


def malformed_id_message(value: object) -> str:
    return f"Malformed conversation id {str(value)[:100]!r}: expected a UUID"


def clean_query(query: str | None) -> str:
    """The query stripped (NUL characters, which PostgreSQL text cannot hold, count as
    spaces, as in the search service), or BadRequest saying why it cannot be searched."""
    text = (query or "").replace("\x00", " ").strip()
    if not text:
        raise BadRequest("No query provided")
    if len(text) > MAX_QUERY_CHARS:
        raise BadRequest(f"Query too long: {len(text)} characters (max {MAX_QUERY_CHARS})")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("Query is not valid Unicode text") from None
    return text


def hit_relevance(hit: SearchHit, response: SearchResponse) -> float:
    """Relevance in [0, 1], monotonic in the hit's score within each mode.

    - vector: cosine similarity s in [-1, 1] -> (1 + s) / 2, so distance = (1 - s) / 2
      (strictly monotonic and never clamped, unlike 1 - s);
    - hybrid: the fused score divided by the best possible fused score (RRF: first in
      both legs, sum of w / (rrf_k + 1); weighted min-max: the sum of the weights), so
      1.0 means "best in both legs";
    - lexical: BM25 / ts_rank score s >= 0 -> s / (1 + s), a squashing of an unbounded score.
    """
    params = response.params
    if response.effective_mode == "vector":
        similarity = hit.vector_score if hit.vector_score is not None else hit.score
        value = (1.0 + similarity) / 2.0
    elif response.effective_mode == "hybrid":
        weights = params.lexical_weight + params.vector_weight
        best = weights / (params.rrf_k + 1) if params.fusion == "rrf" else weights
        value = hit.score / best if best > 0 else 0.0
    else:
        score = max(hit.score, 0.0)
        value = score / (1.0 + score)
    return round(min(max(value, 0.0), 1.0), 6)


def timeline(slots: Sequence[StartSlot], tz: tzinfo | None) -> list[m.TimelineBucket]:
    """Conversations per bucket and source, every bucket from first to last (gaps = 0).

    One `astimezone` per slot: `stats` groups by local day in SQL instead
    (`timeline_days`); this per-slot form is the reference that is tested against."""
    if not slots:
        return []
    local = [(s.slot.astimezone(tz), s.source, s.n) for s in slots]
    first = min(moment for moment, _, _ in local)
    last = max(moment for moment, _, _ in local)
    unit = fmt.bucket_unit(first, last)
    counts: dict[Any, Counter[str]] = defaultdict(Counter)
    for moment, source, count in local:
        counts[fmt.bucket_start(moment.date(), unit)][source] += count
    return [
        m.TimelineBucket(date=start.isoformat(), **counts.get(start, {}))
        for start in fmt.bucket_range(first.date(), last.date(), unit)
    ]


def latest_heartbeat(beats: Sequence[Any], tz: tzinfo | None) -> str | None:
    """The most recent of the workers' `last_beat` values, ISO 8601 in `tz`."""
    moments = []
    for value in beats:
        try:
            if isinstance(value, int | float):
                moment = datetime.fromtimestamp(value, UTC)
            else:
                moment = datetime.fromisoformat(str(value))
        except (ValueError, OverflowError, OSError):
            continue
        if moment.tzinfo is not None:
            moments.append(moment)
    return fmt.to_iso(max(moments), tz) if moments else None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")
