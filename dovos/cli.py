"""The `dovos` command: this module only assembles the app from dovos/commands/*.

Every subcommand is a thin shell over a plain Python call and lives in its area's module
under dovos/commands (output helpers in dovos.commands.output). Command modules never
import this module (it sits above them), and they import heavy libraries (SQLAlchemy,
numpy, torch, pandas, the worker...) inside their functions, so `dovos --help` imports
typer and little else (tests/unit/test_cli_startup.py).
"""

from __future__ import annotations

import sys

import typer

# registered-commands-start: each area adds its module here and to COMMAND_MODULES;
# the module's `register(app)` adds the area's commands.
from dovos.commands import bench, db, evaluation, imports, notebooks, search, serve, worker

COMMAND_MODULES = (db, imports, serve, worker, search, evaluation, bench, notebooks)
# registered-commands-end

app = typer.Typer(
    help="Dovos: search and evaluate an archive of AI chat conversations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
for _module in COMMAND_MODULES:
    _module.register(app)


def main() -> None:  # pragma: no cover - console entry point alternative
    """Run the app as `dovos` (what `python -m dovos.cli` does)."""
    app(prog_name="dovos")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
