"""What every command prints: JSON, key/value tables and errors.

Kept below `dovos.cli` (which only assembles the app) so that command modules import
their output helpers downwards, never back from the CLI, and so that importing them
costs nothing but typer.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import typer

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")


def emit_json(value: Any) -> None:
    """Print `value` as JSON (dates and UUIDs as strings)."""
    typer.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error naming what went wrong and exit non-zero."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def print_mapping(values: dict[str, Any]) -> None:
    """Print a two-column key/value table (nested mappings on one line)."""
    width = max((len(key) for key in values), default=0)
    for key, value in values.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
        typer.echo(f"{key.ljust(width)}  {'-' if value is None else value}")
