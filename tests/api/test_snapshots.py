"""Snapshot tests: full responses on the fixed archive (tests/api/data) compared with the
JSON files in tests/api/snapshots, ids replaced by stable names, timestamps in UTC.

A difference fails the test and shows it. When a change is intended, refresh the files
deliberately and review the diff before committing:

    DOVOS_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/api/test_snapshots.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

SNAPSHOT_DIR = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("DOVOS_UPDATE_SNAPSHOTS") == "1"
REFRESH = "DOVOS_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/api/test_snapshots.py"

# name -> (method, path with {source_id} placeholders, query parameters or JSON body)
REQUESTS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "conversations_page1": ("GET", "/api/conversations", {"limit": 4}),
    "conversations_page2": ("GET", "/api/conversations", {"page": 2, "limit": 4}),
    "conversation_chatgpt": ("GET", "/api/conversation/{chatgpt-python-comprehensions}", None),
    "conversation_claude": ("GET", "/api/conversation/{claude-sourdough}", None),
    "conversation_openwebui": ("GET", "/api/conversation/{owui-docker-network}", None),
    "conversation_unknown": ("GET", "/api/conversation/{unknown-concurrent-worker}", None),
    "conversation_empty": ("GET", "/api/conversation/{claude-empty}", None),
    "search_python_fts": ("GET", "/api/search", {"q": "python", "search_type": "fts"}),
    "search_keyword_truncated": ("GET", "/api/search",
                                 {"q": "compose network", "n": 1, "keyword": "true"}),
    "search_no_match": ("GET", "/api/search", {"q": "zeppelin", "search_type": "fts"}),
    "rag_keyword": ("POST", "/api/rag/query",
                    {"query": "when is the sourdough starter ready", "n_results": 3,
                     "search_type": "keyword"}),
    "stats": ("GET", "/api/stats", None),
    "health": ("GET", "/api/rag/health", None),
    "error_unknown_id": ("GET", "/api/conversation/00000000-0000-4000-8000-000000000000", None),
    "error_malformed_id": ("GET", "/api/conversation/not-a-uuid", None),
    "error_no_query": ("GET", "/api/search", None),
    "error_limit_too_large": ("GET", "/api/conversations", {"limit": 101}),
    "error_rag_without_query": ("POST", "/api/rag/query", {"n_results": 3}),
}


def _call(client: Any, archive: Any, method: str, path: str, data: dict[str, Any] | None) -> Any:
    for source_id in archive.conversation_ids:
        path = path.replace("{" + source_id + "}", archive.id_of(source_id))
    if method == "POST":
        return client.post(path, json=data)
    return client.get(path, params=data)


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_response_matches_snapshot(client: Any, archive: Any, name: str) -> None:
    method, path, data = REQUESTS[name]
    response = _call(client, archive, method, path, data)
    assert response.status_code < 500
    actual = {
        "request": {"method": method, "path": path, "data": data},
        "status": response.status_code,
        "body": archive.normalize(response.json()),
    }
    snapshot = SNAPSHOT_DIR / f"{name}.json"
    if UPDATE:
        SNAPSHOT_DIR.mkdir(exist_ok=True)
        snapshot.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert snapshot.is_file(), f"no snapshot {snapshot.name}; create it with: {REFRESH}"
    expected = json.loads(snapshot.read_text(encoding="utf-8"))
    assert actual == expected, f"response differs from {snapshot.name}; if intended: {REFRESH}"


def test_no_stale_snapshots() -> None:
    stale = {path.stem for path in SNAPSHOT_DIR.glob("*.json")} - set(REQUESTS)
    assert not stale, f"snapshots without a request (delete them): {sorted(stale)}"


def test_normalize_leaves_no_raw_uuid(client: Any, archive: Any) -> None:
    """Ids in snapshots are names, so the comparison does not depend on random UUIDs."""
    body = archive.normalize(client.get("/api/conversations").json())
    assert "<unknown-uuid>" not in json.dumps(body)
    assert body["ids"][0].startswith("<conversation:")
