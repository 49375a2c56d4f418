"""Run the legacy API under uvicorn: the plain Python call behind `dovos serve`."""

from __future__ import annotations

import uvicorn

from dovos.api.app import create_app
from dovos.api.security import check_bind
from dovos.config import Settings, get_settings
from dovos.db import get_database

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# One query is a few dozen word pieces: a second intra-op thread saves little on an idle
# machine, and when the cores are shared (PostgreSQL, other requests, other processes)
# torch's threads wait on each other. Measured on the 2-core development machine under
# load: 21 ms p50 with 1 thread against 135-260 ms with 2.
DEFAULT_TORCH_THREADS = 1


def limit_torch_threads(threads: int) -> None:
    """Set torch's intra-op threads for this process (the API server's query encoding)."""
    import torch

    torch.set_num_threads(max(1, threads))


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    settings: Settings | None = None,
    access_log: bool = True,
    log_level: str = "info",
    torch_threads: int | None = DEFAULT_TORCH_THREADS,
) -> None:
    """Serve the API until interrupted (Ctrl-C stops it cleanly).

    Refuses (InsecureBindError) a non-loopback `host` unless DOVOS_API_TOKEN is set, and
    opens the database before listening, so a misconfiguration fails here with its
    own message instead of on the first request. `torch_threads` caps torch's threads
    for query encoding (None: torch's default); see `limit_torch_threads`.
    """
    settings = settings or get_settings()
    check_bind(host, settings.api_token)
    if torch_threads is not None:
        limit_torch_threads(torch_threads)
    app = create_app(database=get_database(), settings=settings)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=access_log)
