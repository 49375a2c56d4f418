"""Security: loopback unless a token is configured, the bearer token on every endpoint
but health, CORS off unless origins are configured, and `dovos serve` refusing to
expose the archive without a token."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from dovos.api.security import InsecureBindError, check_bind, is_loopback

TOKEN = "s3cret-token-for-tests"
PROTECTED = [
    ("GET", "/api/conversations"),
    ("GET", "/api/conversation/00000000-0000-4000-8000-000000000000"),
    ("GET", "/api/search?q=python"),
    ("POST", "/api/rag/query"),
    ("GET", "/api/stats"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/api/does-not-exist"),
]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST", "::1",
                                  "[::1]"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, None)  # allowed without a token


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.org", ""])
def test_other_hosts_need_a_token(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(InsecureBindError, match="DOVOS_API_TOKEN"):
        check_bind(host, None)
    check_bind(host, TOKEN)  # allowed with one


def test_serve_refuses_a_public_host_without_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from dovos.cli import app
    from dovos.config import get_settings

    monkeypatch.delenv("DOVOS_API_TOKEN", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "8765"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "refusing to listen on '0.0.0.0' without a token" in result.output


@pytest.fixture(scope="module")
def guarded(archive: Any, client_for: Any) -> Any:
    with client_for(archive.database, api_token=TOKEN) as client:
        yield client


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_token_required_on_every_endpoint(guarded: Any, method: str, path: str) -> None:
    body = {"query": "python", "search_type": "keyword"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                    {"Authorization": f"Basic {TOKEN}"}):
        response = guarded.request(method, path, headers=headers,
                                   json=body if method == "POST" else None)
        assert response.status_code == 401, (headers, response.text)
        assert response.json() == {"error": "Missing or invalid bearer token"}
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_right_token_is_let_through(guarded: Any, method: str, path: str) -> None:
    body = {"query": "python", "search_type": "keyword"}
    response = guarded.request(method, path, headers={"Authorization": f"bearer {TOKEN}"},
                               json=body if method == "POST" else None)
    assert response.status_code != 401
    assert response.status_code < 500


def test_health_is_open_with_a_token_configured(guarded: Any) -> None:
    response = guarded.get("/api/rag/health")
    assert response.status_code == 200
    assert response.json()["status"] == "healthy"


def test_no_token_configured_means_no_check(client: Any) -> None:
    assert client.get("/api/stats").status_code == 200


def test_cors_off_by_default(client: Any) -> None:
    origin = {"Origin": "https://evil.example"}
    response = client.get("/api/stats", headers=origin)
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options("/api/stats", headers={
        **origin, "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers
    assert set(preflight.json()) == {"error"}


def test_cors_allows_only_configured_origins(archive: Any, client_for: Any) -> None:
    allowed = "https://archive.example"
    with client_for(archive.database, cors_origins=[allowed], api_token=TOKEN) as client:
        preflight = client.options("/api/stats", headers={
            "Origin": allowed, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization"})
        assert preflight.status_code == 200  # answered by CORS, no token needed
        assert preflight.headers["access-control-allow-origin"] == allowed
        response = client.get("/api/stats", headers={
            "Origin": allowed, "Authorization": f"Bearer {TOKEN}"})
        assert response.headers["access-control-allow-origin"] == allowed
        other = client.get("/api/stats", headers={
            "Origin": "https://evil.example", "Authorization": f"Bearer {TOKEN}"})
        assert "access-control-allow-origin" not in other.headers


def test_cors_origins_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from dovos.config import Settings

    monkeypatch.setenv("DOVOS_CORS_ORIGINS", '["https://archive.example"]')
    monkeypatch.setenv("DOVOS_API_TOKEN", TOKEN)
    settings = Settings()
    assert settings.cors_origins == ["https://archive.example"]
    assert settings.api_token == TOKEN
