"""Bad input on every endpoint: missing, empty, non-numeric and out-of-range parameters,
unknown and malformed ids, non-JSON, wrong-shaped and huge bodies. Each one gets 400 or
404 with exactly `{"error": "<message naming what was wrong>"}`, never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"

# (path with query string, expected status, words the error message must contain)
BAD_GETS = [
    ("/api/conversations?page=", 400, "'page'"),
    ("/api/conversations?page=abc", 400, "'page'"),
    ("/api/conversations?page=0", 400, "'page'"),
    ("/api/conversations?page=-3", 400, "'page'"),
    ("/api/conversations?page=1.5", 400, "'page'"),
    ("/api/conversations?page=" + "9" * 40, 400, "'page'"),
    ("/api/conversations?limit=", 400, "'limit'"),
    ("/api/conversations?limit=ten", 400, "'limit'"),
    ("/api/conversations?limit=0", 400, "'limit'"),
    ("/api/conversations?limit=101", 400, "'limit'"),
    ("/api/conversations?limit=-1", 400, "'limit'"),
    (f"/api/conversation/{UNKNOWN_ID}", 404, f"Unknown conversation id: {UNKNOWN_ID}"),
    ("/api/conversation/not-a-uuid", 400, "Malformed conversation id 'not-a-uuid'"),
    ("/api/conversation/12345", 400, "Malformed conversation id"),
    ("/api/conversation/%00", 400, "Malformed conversation id"),
    ("/api/conversation/" + "a" * 5000, 400, "Malformed conversation id"),
    ("/api/search", 400, "No query provided"),
    ("/api/search?q=", 400, "No query provided"),
    ("/api/search?q=%20%20%09", 400, "No query provided"),
    ("/api/search?q=%00", 400, "No query provided"),
    ("/api/search?q=" + "x" * 10_001, 400, "Query too long"),
    ("/api/search?q=%21%3F%2A", 400, "no letters or digits"),
    ("/api/search?q=python&n=", 400, "'n'"),
    ("/api/search?q=python&n=five", 400, "'n'"),
    ("/api/search?q=python&n=0", 400, "'n'"),
    ("/api/search?q=python&n=101", 400, "'n'"),
    ("/api/search?q=python&n=-5", 400, "'n'"),
    ("/api/search?q=python&search_type=magic", 400, "'search_type'"),
    ("/api/search?q=python&search_type=", 400, "'search_type'"),
    ("/api/search?q=python&keyword=maybe", 400, "'keyword'"),
    ("/api/nowhere", 404, "Not Found"),
]

# (raw body, content type, expected words in the error)
BAD_BODIES = [
    (b"", "application/json", "Missing JSON body"),
    (b"", "text/plain", "Missing JSON body"),
    (b"not json", "application/json", "not valid JSON"),
    (b'{"query": "python"', "application/json", "not valid JSON"),
    (b'{"query": "python"}', "text/plain", "must be a JSON object sent as application/json"),
    (b"[1, 2]", "application/json", "must be a JSON object"),
    (b'"python"', "application/json", "must be a JSON object"),
    (b"{}", "application/json", "'query'"),
    (b'{"n_results": 3}', "application/json", "'query'"),
    (b'{"query": null}', "application/json", "'query'"),
    (b'{"query": 42}', "application/json", "'query'"),
    (b'{"query": ""}', "application/json", "'query'"),
    (b'{"query": "   "}', "application/json", "No query provided"),
    (b'{"query": "\\u0000"}', "application/json", "No query provided"),
    (b'{"query": "a\\ud800b"}', "application/json", "'query'"),
    (b'{"query": "python", "n_results": "many"}', "application/json", "'n_results'"),
    (b'{"query": "python", "n_results": 0}', "application/json", "'n_results'"),
    (b'{"query": "python", "n_results": 1000}', "application/json", "'n_results'"),
    (b'{"query": "python", "search_type": "fts"}', "application/json", "'search_type'"),
]


def assert_error(response: Any, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str), body
    assert words in body["error"], body["error"]


@pytest.mark.parametrize(("path", "status", "words"), BAD_GETS, ids=[p[:60] for p, _, _ in BAD_GETS])
def test_bad_get_parameters(client: Any, path: str, status: int, words: str) -> None:
    assert_error(client.get(path), status, words)


@pytest.mark.parametrize(("body", "content_type", "words"), BAD_BODIES,
                         ids=[b.decode()[:40] + f" ({t})" for b, t, _ in BAD_BODIES])
def test_bad_rag_bodies(client: Any, body: bytes, content_type: str, words: str) -> None:
    response = client.post("/api/rag/query", content=body, headers={"content-type": content_type})
    assert_error(response, 400, words)


def test_huge_body_with_length_is_refused_before_reading(client: Any) -> None:
    body = b'{"query": "' + b"x" * 200_000 + b'"}'
    response = client.post("/api/rag/query", content=body,
                           headers={"content-type": "application/json"})
    assert_error(response, 400, "too large")


def test_huge_chunked_body_is_refused(client: Any) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"query": "'
        for _ in range(100):
            yield b"x" * 4096
        yield b'"}'

    response = client.post("/api/rag/query", content=chunks(),
                           headers={"content-type": "application/json"})
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert_error(response, 400, "too large")


def test_body_just_under_the_limit_is_served(client: Any) -> None:
    query = "python " * 1400  # ~10 kB of words: a long pasted question is still a query
    response = client.post("/api/rag/query", json={"query": query[:9_999], "search_type": "keyword"})
    assert response.status_code == 200, response.text


def test_wrong_method_is_an_error_body(client: Any) -> None:
    response = client.delete("/api/conversations")
    assert response.status_code == 405
    assert set(response.json()) == {"error"}


def test_unexpected_failure_is_500_with_error_body(archive: Any, client_for: Any) -> None:
    """A bug (here: a search service that crashes) is a 500 with {"error"}, not a trace."""

    class Broken:
        def search(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("boom")

    from fastapi.testclient import TestClient

    from dovos.api.app import create_app
    from dovos.config import get_settings

    app = create_app(database=archive.database, search_service=Broken(),
                     settings=get_settings().model_copy(update={"api_token": None}))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/search", params={"q": "python"})
    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error"}
