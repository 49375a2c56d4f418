"""The `dovos` command: this module only assembles the app from dovos/commands/*.

Every subcommand is a thin shell over a plain Python call and lives in its area's module
under dovos/commands (output helpers in dovos.commands.output). Command modules never
import this module (it sits above them), and they import heavy libraries (SQLAlchemy,
numpy, torch, pandas, the worker...) inside their functions, so `dovos --help` imports
typer and little else (tests/unit/test_cli_startup.py).
"""

from __future__ import annotations

import errno
import sys
from typing import Any

import typer

# registered-commands-start: each area adds its module here and to COMMAND_MODULES;
# the module's `register(app)` adds the area's commands.
from dovos.commands import bench, db, evaluation, imports, notebooks, search, serve, worker

COMMAND_MODULES = (db, imports, serve, worker, search, evaluation, bench, notebooks)
# registered-commands-end


class DovosApp(typer.Typer):
    """The app, turning the faults a user fixes (DOVOS_HOME unusable, disk full) into one
    `error:` line and exit 1 instead of a traceback, whichever command hit them."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as error:
            message = user_error_message(error)
            if message is None:
                raise
            typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
            sys.exit(1)


def user_error_message(error: BaseException) -> str | None:
    """The message of an error the user can fix (or of its cause), else None: a bug keeps
    its traceback."""
    from dovos.db.migrations import SchemaOutOfDateError  # imported on failure only
    from dovos.db.preflight import DatabaseHomeError

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current).strip()
        if isinstance(current, (DatabaseHomeError, SchemaOutOfDateError)):
            return text
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT,
                                                              errno.EROFS):
            return (f"{current.strerror}: {current.filename or text}; free space there or "
                    "write elsewhere")
        if type(current).__name__ == "DiskFull" or "No space left on device" in text:
            first = text.splitlines()[0] if text else type(current).__name__
            return (f"the database ran out of disk space ({first}); free space on the disk "
                    "of DOVOS_HOME (or of the server) and run the command again: the "
                    "interrupted transaction was rolled back")
        current = current.__cause__ or current.__context__
    return None


app = DovosApp(
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
