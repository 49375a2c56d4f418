"""`dovos db ...`: the embedded server's lifecycle and migrations (thin shells over dovos.db).

dovos db status|url|start|stop|migrate
dovos db backup FILE | dovos db restore FILE [--force]   (see dovos.db.backup)
dovos db prewarm [RELATION...]   (see dovos.db.prewarm)
dovos.db is imported inside each command: it pulls in SQLAlchemy and psycopg, which
`dovos --help` must not pay for.
"""

from __future__ import annotations

from pathlib import Path

import typer

from dovos.commands.champions import db_champions
from dovos.commands.output import JsonOption, emit_json, fail, print_mapping


def register(app: typer.Typer) -> None:
    """Add the `db` group to the `dovos` command."""
    db_app = typer.Typer(
        help="The database: embedded server lifecycle, migrations, backups.",
        no_args_is_help=True,
    )
    db_app.command("status")(db_status)
    db_app.command("url")(db_url)
    db_app.command("start")(db_start)
    db_app.command("stop")(db_stop)
    db_app.command("migrate")(db_migrate)
    db_app.command("backup")(db_backup)
    db_app.command("restore")(db_restore)
    db_app.command("prewarm")(db_prewarm)
    db_app.command("champions")(db_champions)  # dovos/commands/champions.py (issue 16)
    app.add_typer(db_app, name="db")


def db_status(as_json: bool = JsonOption) -> None:
    """Start the database if needed and report server, versions and migration revision."""
    from dovos import db as database

    try:
        status = database.status()
    except (database.ExtensionUnavailableError, RuntimeError) as error:
        fail(str(error))
    if as_json:
        emit_json(status.as_dict())
    else:
        print_mapping(status.as_dict())


def db_url() -> None:
    """Print the libpq URL of the database (starts the embedded server if needed)."""
    from dovos import db as database

    typer.echo(database.url())


def db_start() -> None:
    """Start the embedded server (no-op when it runs, or with DATABASE_URL)."""
    from dovos import db as database

    typer.echo(f"database ready at {database.start()}")


def db_stop(
    force: bool = typer.Option(False, "--force", help="Stop even while others use it."),
) -> None:
    """Stop the embedded server, unless another process still uses it."""
    from dovos import db as database

    try:
        stopped = database.stop(force=force)
    except (database.DatabaseInUseError, RuntimeError) as error:
        fail(str(error))
    typer.echo("stopped" if stopped else "not running")


def db_migrate(
    revision: str = typer.Argument("head", help="Target revision (alembic upgrade)."),
) -> None:
    """Bring the schema to REVISION (default: head) with Alembic."""
    from dovos import db as database

    typer.echo(f"database at revision {database.migrate(revision=revision)}")


def db_backup(
    file: Path = typer.Argument(..., help="Backup file to write (pg_dump custom format)."),  # noqa: B008
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    as_json: bool = JsonOption,
) -> None:
    """Back up the database to FILE (and FILE.manifest.json); print rows and checksums."""
    import psycopg

    from dovos.db import backup

    try:
        report = backup.backup(file, progress=progress and not as_json)
    except (RuntimeError, OSError, psycopg.Error) as error:  # BackupError is a RuntimeError
        fail(str(error))
    if as_json:
        emit_json(report.as_dict())
    else:
        typer.echo(report.format())


def db_restore(
    file: Path = typer.Argument(..., help="Backup file written by `dovos db backup`."),  # noqa: B008
    force: bool = typer.Option(
        False, "--force", help="Replace the archive of a database that is not empty."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    as_json: bool = JsonOption,
) -> None:
    """Restore FILE into the database (one transaction); verify rows and checksums.

    Refuses a database that already holds an archive unless --force."""
    import psycopg

    from dovos.db import backup

    try:
        report = backup.restore(file, force=force, progress=progress and not as_json)
    except (RuntimeError, OSError, psycopg.Error) as error:  # BackupError is a RuntimeError
        fail(str(error))
    if as_json:
        emit_json(report.as_dict())
    else:
        typer.echo(report.format())


def db_prewarm(
    relations: list[str] = typer.Argument(  # noqa: B008
        None, help="Relations to load (default: every search index)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    as_json: bool = JsonOption,
) -> None:
    """Load the search indexes into shared_buffers (pg_prewarm); print each one's size and
    seconds. Run it after a restart that lost the cached pages (a crash), a large import
    or an index build: the first searches then find the HNSW index in memory instead of
    reading it a page at a time."""
    import psycopg

    from dovos.db import prewarm

    try:
        report = prewarm.prewarm(relations=relations or None,
                                 progress=progress and not as_json)
    except (RuntimeError, psycopg.Error) as error:  # PrewarmError is a RuntimeError
        fail(str(error))
    if as_json:
        emit_json(report.as_dict())
    else:
        typer.echo(report.format())
