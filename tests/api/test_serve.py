"""`dovos serve` for real: a uvicorn subprocess on a loopback port, on the session's
database, answering over TCP; with DOVOS_API_TOKEN set it demands the token."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dovos.benchmarks.api import running_server


@pytest.mark.slow
def test_dovos_serve_answers_on_loopback(archive: Any) -> None:
    with running_server(env={"DOVOS_API_TOKEN": ""}) as base:
        assert base.startswith("http://127.0.0.1:")
        health = httpx.get(f"{base}/api/rag/health", timeout=10).json()
        assert health["status"] == "healthy" and health["document_count"] == 6
        page = httpx.get(f"{base}/api/conversations", params={"limit": 2}, timeout=10).json()
        assert page["pagination"]["total"] == 6 and len(page["ids"]) == 2


@pytest.mark.slow
def test_dovos_serve_with_a_token(archive: Any) -> None:
    with running_server(env={"DOVOS_API_TOKEN": "tok"}) as base:
        assert httpx.get(f"{base}/api/stats", timeout=10).status_code == 401
        ok = httpx.get(f"{base}/api/stats", headers={"Authorization": "Bearer tok"}, timeout=10)
        assert ok.status_code == 200 and ok.json()["total_conversations"] == 6
