"""The database is down: health answers 503 "unhealthy" (still in the contract's shape)
and every other endpoint 503 with {"error"}, never a hang or a stack trace."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dovos.api import models as m
from dovos.api.app import create_app
from dovos.config import Settings
from dovos.db import Database

UNREACHABLE = "postgresql://dovos@127.0.0.1:1/dovos"  # nothing listens on port 1


@pytest.fixture(scope="module")
def down() -> Iterator[TestClient]:
    settings = Settings(database_url=UNREACHABLE, api_token=None, cors_origins=[])
    database = Database(UNREACHABLE, settings)
    with TestClient(create_app(database=database, settings=settings),
                    raise_server_exceptions=False) as client:
        yield client
    database.close()


def test_health_is_503_unhealthy(down: TestClient) -> None:
    response = down.get("/api/rag/health")
    assert response.status_code == 503
    body = m.HealthResponse.model_validate(response.json())
    assert body.status == "unhealthy"
    assert body.document_count is None
    assert body.queue == m.QueueCounts(pending=None, running=None, failed=None)
    assert body.worker == m.WorkerStatus(last_heartbeat=None, alive=None)
    assert body.error is not None and body.error.startswith("database unreachable: ")
    assert "OperationalError" in body.error


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/api/conversations", None),
    ("GET", "/api/conversation/00000000-0000-4000-8000-000000000000", None),
    ("GET", "/api/search?q=python&keyword=true", None),
    ("POST", "/api/rag/query", {"query": "python", "search_type": "keyword"}),
    ("GET", "/api/stats", None),
])
def test_other_endpoints_are_503_with_error(down: TestClient, method: str, path: str,
                                            body: Any) -> None:
    response = down.request(method, path, json=body)
    assert response.status_code == 503
    assert response.json() == {"error": "Database unavailable"}


def test_bad_input_is_still_400_when_the_database_is_down(down: TestClient) -> None:
    """Parameters are checked before the database is touched."""
    assert down.get("/api/search").status_code == 400
    assert down.get("/api/conversations?limit=0").status_code == 400
    assert down.get("/api/conversation/nope").status_code == 400
