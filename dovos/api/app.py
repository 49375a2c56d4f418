"""The legacy JSON API as a FastAPI application (see ../shared/contract/CONTRACT.md).

Routes are thin: they declare parameters (so the OpenAPI spec documents them) and call
one `LegacyAdapter` method. Every error leaves as `{"error": ...}`: bad or missing
parameters 400, unknown ids 404, an unreachable database 503, anything unexpected 500.
Routes are sync functions: FastAPI runs them in its threadpool, each on a pooled
SQLAlchemy connection.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import tzinfo
from typing import Annotated, Any

import psycopg
import sqlalchemy.exc
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dovos.api import models as m
from dovos.api.adapter import (
    MAX_QUERY_CHARS,
    ApiError,
    LegacyAdapter,
    Searcher,
    malformed_id_message,
)
from dovos.api.security import add_security
from dovos.config import Settings, get_settings
from dovos.db import Database, get_database

log = logging.getLogger(__name__)

MAX_LIMIT = 100
MAX_RESULTS = 100
MAX_PAGE = 1_000_000_000  # keeps OFFSET inside bigint whatever the limit
HEALTH_PATH = "/api/rag/health"


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {400: "Bad or missing parameter", 404: "Unknown id", 503: "Database down"}
    return {s: {"model": m.ErrorResponse, "description": descriptions[s]} for s in statuses}


@asynccontextmanager
async def _preload_embedder(app: FastAPI) -> AsyncIterator[None]:
    """Load the search embedder in a background thread at start-up, so the first query
    does not wait seconds for it (a query that comes earlier waits for that same load)."""
    from dovos.embeddings import preload_in_background

    app.state.embedder_preload = preload_in_background()
    yield


def _default_search_service(database: Database, settings: Settings) -> Searcher:
    """SearchService on the search database: DOVOS_SEARCH_DATABASE_URL (a read-only
    replica) when set, else the app's own database."""
    from dovos.db.database import open_search_database
    from dovos.search.service import SearchService

    return SearchService(open_search_database(settings, primary=database))


def create_app(
    database: Database | None = None,
    search_service: Searcher | None = None,
    settings: Settings | None = None,
    *,
    tz: tzinfo | None = None,
) -> FastAPI:
    """The API on `database` (default: the process-wide one, opened on first request).

    `search_service` defaults to a SearchService with its stored parameters, reading
    DOVOS_SEARCH_DATABASE_URL when that is set (else `database`);
    `tz` is the time zone timestamps are written in (default: the server's local zone,
    as the legacy system did).
    """
    from dovos.embeddings import configured_storage_name

    settings = settings or get_settings()
    adapter = LegacyAdapter(
        database=(lambda: database) if database is not None else get_database,
        search_service=(
            (lambda _: search_service) if search_service is not None
            else (lambda primary: _default_search_service(primary, settings))
        ),
        embedding_model=configured_storage_name(settings),
        tz=tz,
    )
    app = FastAPI(
        title="Dovos legacy API",
        version="1",
        description="The archive's legacy JSON contract, served from the Dovos store.",
        lifespan=_preload_embedder if search_service is None else None,
    )
    app.state.adapter = adapter
    _add_routes(app, adapter)
    _add_error_handlers(app)
    add_security(app, settings.api_token, settings.cors_origins)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _add_routes(app: FastAPI, adapter: LegacyAdapter) -> None:
    @app.get("/api/conversations", response_model=m.ConversationListResponse,
             responses=_errors(400, 503))
    def list_conversations(
        page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Starts at 1.")] = 1,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    ) -> m.ConversationListResponse:
        """Conversations, newest activity first."""
        return adapter.conversations(page, limit)

    @app.get("/api/conversation/{conversation_id}", response_model=m.ConversationDetailResponse,
             responses=_errors(400, 404, 503))
    def get_conversation(conversation_id: uuid.UUID) -> m.ConversationDetailResponse:
        """One conversation's transcript."""
        return adapter.conversation(conversation_id)

    @app.get("/api/search", response_model=m.SearchResponse, responses=_errors(400, 503))
    def search(
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, pattern=r"\S")],
        n: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 5,
        search_type: m.SearchType = "auto",
        keyword: bool = False,
    ) -> m.SearchResponse:
        """One result per matching message, best first (`keyword=true` forces full text)."""
        return adapter.search(q, n, search_type, keyword)

    @app.post("/api/rag/query", response_model=m.RagQueryResponse, responses=_errors(400, 503))
    def rag_query(body: m.RagQueryRequest) -> m.RagQueryResponse:
        """The best messages for a question, with distance and relevance in [0, 1]."""
        return adapter.rag_query(body)

    @app.get("/api/stats", response_model=m.StatsResponse, responses=_errors(503))
    def stats() -> m.StatsResponse:
        """Archive counts, embedding coverage and the conversation timeline."""
        return adapter.stats()

    @app.get(HEALTH_PATH, response_model=m.HealthResponse,
             responses={503: {"model": m.HealthResponse, "description": "Database down"}})
    def health() -> Any:
        """Database reachability, queue counts, latest worker heartbeat (503 when down)."""
        report = adapter.health()
        if report.status != "healthy":
            return JSONResponse(report.model_dump(mode="json"), status_code=503)
        return report


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return JSONResponse({"error": error.message}, status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        message = describe_validation_error(error.errors(), request.headers.get("content-type"))
        return JSONResponse({"error": message}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code,
                            headers=getattr(error, "headers", None))

    @app.exception_handler(sqlalchemy.exc.OperationalError)
    @app.exception_handler(psycopg.OperationalError)
    async def database_down(_: Request, error: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", error)
        return JSONResponse({"error": "Database unavailable"}, status_code=503)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=error)
        return JSONResponse({"error": "Internal server error"}, status_code=500)


def describe_validation_error(errors: Any, content_type: str | None = None) -> str:
    """One message naming the first bad parameter (or body field) and what is wrong."""
    if not errors:
        return "Invalid request"
    first = errors[0]
    location = tuple(str(part) for part in first.get("loc", ()))
    kind, message = first.get("type", ""), first.get("msg", "invalid")
    if location[:2] == ("path", "conversation_id"):
        return malformed_id_message(first.get("input"))
    if location[:2] == ("query", "q"):
        return "Query too long" if kind == "string_too_long" else "No query provided"
    if location[:1] == ("body",):
        if kind == "json_invalid":
            return "Request body is not valid JSON"
        if len(location) == 1 and kind == "missing":
            return 'Missing JSON body: send {"query": "..."} as application/json'
        if len(location) == 1 and "json" not in (content_type or "").lower():
            return f"Request body must be a JSON object sent as application/json, not {content_type}"
        if len(location) == 1:
            return f"Request body must be a JSON object ({message})"
        return f"Invalid body field '{'.'.join(location[1:])}': {message}"
    if len(location) >= 2:
        return f"Invalid {location[0]} parameter '{location[1]}': {message}"
    return f"Invalid request: {message}"


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated spec, minus FastAPI's 422 responses: this API answers 400 instead."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
        components = schema.get("components", {}).get("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        app.openapi_schema = schema
    return app.openapi_schema
