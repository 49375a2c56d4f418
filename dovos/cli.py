"""The `dovos` command. Every subcommand is a thin shell over a plain Python call."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from dovos import db as database

app = typer.Typer(
    help="Dovos: search and evaluate an archive of AI chat conversations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database: embedded server lifecycle and migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")


def emit_json(value: Any) -> None:
    """Print `value` as JSON (dates and UUIDs as strings)."""
    typer.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def fail(message: str, code: int = 1) -> None:
    """Print an error naming what went wrong and exit non-zero."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def print_mapping(values: dict[str, Any]) -> None:
    """Print a two-column key/value table."""
    width = max((len(key) for key in values), default=0)
    for key, value in values.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
        typer.echo(f"{key.ljust(width)}  {'-' if value is None else value}")


@db_app.command("status")
def db_status(as_json: bool = JsonOption) -> None:
    """Start the database if needed and report server, versions and migration revision."""
    try:
        status = database.status()
    except (database.ExtensionUnavailableError, RuntimeError) as error:
        fail(str(error))
    if as_json:
        emit_json(status.as_dict())
    else:
        print_mapping(status.as_dict())


@db_app.command("url")
def db_url() -> None:
    """Print the libpq URL of the database (starts the embedded server if needed)."""
    typer.echo(database.url())


@db_app.command("start")
def db_start() -> None:
    """Start the embedded server (no-op when it runs, or with DATABASE_URL)."""
    typer.echo(f"database ready at {database.start()}")


@db_app.command("stop")
def db_stop(
    force: bool = typer.Option(False, "--force", help="Stop even while others use it."),
) -> None:
    """Stop the embedded server, unless another process still uses it."""
    try:
        stopped = database.stop(force=force)
    except (database.DatabaseInUseError, RuntimeError) as error:
        fail(str(error))
    typer.echo("stopped" if stopped else "not running")


@db_app.command("migrate")
def db_migrate(
    revision: str = typer.Argument("head", help="Target revision (alembic upgrade)."),
) -> None:
    """Bring the schema to REVISION (default: head) with Alembic."""
    typer.echo(f"database at revision {database.migrate(revision=revision)}")


# -- commands of each area (one module each under dovos/commands) --------------------------
# Each area adds one line here: `from dovos.commands import <module>; <module>.register(app)`.
# registered-commands-start
from dovos.commands import imports; imports.register(app)  # noqa: E402, E702
from dovos.commands import serve; serve.register(app)  # noqa: E402, E702
from dovos.commands import worker; worker.register(app)  # noqa: E402, E702
from dovos.commands import search; search.register(app)  # noqa: E402, E702
from dovos.commands import evaluation; evaluation.register(app)  # noqa: E402, E702
from dovos.commands import bench; bench.register(app)  # noqa: E402, E702
# registered-commands-end


def main() -> None:  # pragma: no cover - console entry point alternative
    app(prog_name="dovos")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
