"""Who may reach the API and with what: loopback unless a token is set, bearer token,
CORS only on request, bounded request bodies.

The archive is private data. By default the server binds to loopback only; binding to
any other address is refused unless `DOVOS_API_TOKEN` is configured, and whenever a
token is configured every endpoint but the health check requires it. CORS stays off
(same-origin only) unless `DOVOS_CORS_ORIGINS` lists origins.
"""

from __future__ import annotations

import hmac
import ipaddress

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

OPEN_PATHS = frozenset({"/api/rag/health"})
MAX_BODY_BYTES = 64 * 1024
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class InsecureBindError(ValueError):
    """Binding beyond loopback was asked for without a token."""


def is_loopback(host: str) -> bool:
    """True for `localhost`, 127.0.0.0/8 and ::1 (and nothing else, e.g. not 0.0.0.0)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse a non-loopback `host` unless a token protects the API."""
    if not is_loopback(host) and not token:
        raise InsecureBindError(
            f"refusing to listen on {host!r} without a token: the API would expose the "
            "archive to the network. Set DOVOS_API_TOKEN (clients then send "
            "'Authorization: Bearer <token>'), or bind to 127.0.0.1."
        )


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value
    return None


async def _error(scope: Scope, receive: Receive, send: Send, status: int, message: str,
                 headers: dict[str, str] | None = None) -> None:
    await JSONResponse({"error": message}, status_code=status, headers=headers)(scope, receive, send)


class BearerTokenMiddleware:
    """Require `Authorization: Bearer <token>` on every HTTP path but OPEN_PATHS."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = token.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        await _error(scope, receive, send, 401, "Missing or invalid bearer token",
                     {"WWW-Authenticate": "Bearer"})

    def _authorized(self, scope: Scope) -> bool:
        scheme, _, credentials = (_header(scope, b"authorization") or b"").partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(
            credentials.strip(), self.expected
        )


class BodySizeLimitMiddleware:
    """Answer 400 to request bodies over `max_bytes`, before any route reads them.

    The body is buffered here (it is small by construction) and replayed to the app,
    so a chunked upload without Content-Length is bounded too.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _error(scope, receive, send, 400,
                     f"Request body too large or malformed length (max {self.max_bytes} bytes)")


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def add_security(app: Starlette, token: str | None, cors_origins: list[str]) -> None:
    """Install the middlewares: body limit innermost, then the token check, CORS
    outermost (preflight requests carry no token and are answered by CORS alone)."""
    app.add_middleware(BodySizeLimitMiddleware)
    if token:
        app.add_middleware(BearerTokenMiddleware, token=token)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
