"""`dovos serve`: the legacy JSON API on the local archive (see dovos.api.server.serve)."""

from __future__ import annotations

import typer

# The defaults of dovos.api.server.serve, repeated so `dovos --help` does not import
# FastAPI and uvicorn.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_TORCH_THREADS = 1


def register(app: typer.Typer) -> None:
    """Add `serve` to the `dovos` command."""

    @app.command("serve")
    def serve_command(
        host: str = typer.Option(
            DEFAULT_HOST, "--host",
            help="Address to listen on; anything but loopback needs DOVOS_API_TOKEN.",
        ),
        port: int = typer.Option(DEFAULT_PORT, "--port", min=1, max=65535, help="TCP port."),
        access_log: bool = typer.Option(
            True, "--access-log/--no-access-log", help="Log every request."
        ),
        torch_threads: int = typer.Option(
            DEFAULT_TORCH_THREADS, "--torch-threads", min=1,
            help="torch threads for query encoding (1 keeps latency low on shared cores).",
        ),
    ) -> None:
        """Serve the legacy JSON API (/api/conversations, /api/search, ...) with uvicorn."""
        from dovos.api.security import InsecureBindError
        from dovos.api.server import serve
        from dovos.commands.output import fail
        from dovos.db import ExtensionUnavailableError

        try:
            serve(host, port, access_log=access_log, torch_threads=torch_threads)
        except (InsecureBindError, ExtensionUnavailableError, RuntimeError) as error:
            fail(str(error))
