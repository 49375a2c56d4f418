"""Run the legacy API under uvicorn: the plain Python call behind `dovos serve`."""

from __future__ import annotations

import uvicorn

from dovos.api.app import create_app
from dovos.api.security import check_bind
from dovos.config import Settings, get_settings
from dovos.db import get_database

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    settings: Settings | None = None,
    access_log: bool = True,
    log_level: str = "info",
) -> None:
    """Serve the API until interrupted (Ctrl-C stops it cleanly).

    Refuses (InsecureBindError) a non-loopback `host` unless DOVOS_API_TOKEN is set, and
    opens the database before listening, so a misconfiguration fails here with its
    own message instead of on the first request.
    """
    settings = settings or get_settings()
    check_bind(host, settings.api_token)
    app = create_app(database=get_database(), settings=settings)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=access_log)
