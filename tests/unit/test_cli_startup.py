"""`dovos --help` stays light: the CLI module imports typer and the command modules, and
the heavy libraries only when a command runs (issue 12: help took 1.4 s importing
SQLAlchemy, numpy and the worker). A structural check, not a timed one."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import pytest

HEAVY = (
    "sqlalchemy",
    "numpy",
    "torch",
    "pandas",
    "psycopg",
    "sentence_transformers",
    "fastapi",
    "uvicorn",
    "papermill",
    "matplotlib",
    "ranx",
    "alembic",
    "dovos.db",
    "dovos.worker",
    "dovos.embeddings",
)
# Commands that must always be there; areas may add more (each one must then be listed).
EXPECTED_COMMANDS = {"db", "import", "worker", "jobs", "search", "serve", "eval", "report",
                     "bench"}
EXPECTED_DB_COMMANDS = {"status", "url", "start", "stop", "migrate", "backup", "restore"}


def _imported_modules(statement: str) -> set[str]:
    """Modules a fresh interpreter imports to run `statement` (from -X importtime)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True, text=True, timeout=120, check=True,
    )
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def _help(*args: str) -> str:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    done = subprocess.run(
        [sys.executable, "-m", "dovos.cli", *args, "--help"],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_the_cli_imports_no_heavy_module() -> None:
    modules = _imported_modules("import dovos.cli")
    assert "dovos.cli" in modules and "typer" in modules  # the parse worked
    heavy = sorted(
        name for name in modules
        if any(name == root or name.startswith(root + ".") for root in HEAVY)
    )
    assert heavy == [], f"`import dovos.cli` imports {heavy}; import them inside the command"


def test_cli_does_not_import_back_from_itself() -> None:
    """Command modules take their output helpers from dovos.commands.output (no circle)."""
    modules = _imported_modules("import dovos.commands.output, dovos.commands.db")
    assert "dovos.cli" not in modules


def _registered(app) -> set[str]:  # type: ignore[no-untyped-def]
    names = {command.name or command.callback.__name__ for command in app.registered_commands}
    return names | {group.name for group in app.registered_groups}


def test_help_lists_every_command() -> None:
    from dovos.cli import app

    registered = _registered(app)
    assert EXPECTED_COMMANDS <= registered
    listed = _help()
    for name in registered:
        assert f" {name} " in listed, f"`dovos --help` does not list {name}:\n{listed}"


def test_db_help_lists_every_db_command() -> None:
    from dovos.cli import app

    db_app = next(group.typer_instance for group in app.registered_groups if group.name == "db")
    registered = _registered(db_app)
    assert EXPECTED_DB_COMMANDS <= registered
    listed = _help("db")
    for name in registered:
        assert f" {name} " in listed, f"`dovos db --help` does not list {name}:\n{listed}"


def test_worker_option_defaults_are_the_workers_own() -> None:
    """The CLI repeats the worker's defaults (to stay light); they must agree."""
    from dovos.commands import worker as command
    from dovos.worker import Worker

    parameters = inspect.signature(Worker).parameters
    for option in ("batch_size", "encode_batch_size", "slice_size", "concurrency",
                   "lease_seconds", "poll_seconds"):
        cli_default = getattr(command, f"DEFAULT_{option.upper()}")
        assert cli_default == parameters[option].default, option


def test_serve_option_defaults_are_the_servers_own() -> None:
    from dovos.api.server import serve
    from dovos.commands import serve as command

    parameters = inspect.signature(serve).parameters
    for option in ("host", "port", "torch_threads"):
        assert getattr(command, f"DEFAULT_{option.upper()}") == parameters[option].default


@pytest.mark.parametrize("command", sorted(EXPECTED_COMMANDS - {"db", "jobs"}))
def test_each_command_help_runs(command: str) -> None:
    assert "Usage: dovos " + command in " ".join(_help(command).split())
