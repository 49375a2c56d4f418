"""`dovos import PATH...` and `dovos import --legacy PATH`: thin shells over `dovos.importers`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:  # imported by the command itself: `dovos --help` must stay light
    from dovos.importers.files import FileImportResult

FORMAT_CHOICES = ("auto", "chatgpt", "claude", "openwebui")
MAX_WARNINGS_SHOWN = 20  # per file in the human summary; --json lists every one


def register(app: typer.Typer) -> None:
    """Add the `import` command to the `dovos` app."""
    app.command("import")(import_command)


def import_command(
    paths: list[Path] | None = typer.Argument(  # noqa: B008 - typer declares options as defaults
        None, help="Export files, or directories whose *.json files are imported."
    ),
    format: str = typer.Option(
        "auto", "--format", "-f", help="auto (detect by content), chatgpt, claude or openwebui."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    legacy: Path | None = typer.Option(  # noqa: B008
        None, "--legacy", help="A legacy (ChromaDB-era) Dovos store: its chroma_storage folder "
        "or the folder holding it; imported in one transaction (see docs/legacy.md)."
    ),
    legacy_timezone: str | None = typer.Option(
        None, "--legacy-timezone", help="IANA zone of the machine that built the legacy store "
        "(its ChatGPT and docx times are naive local times); default: this machine's zone."
    ),
) -> None:
    """Import chat exports; each file in one transaction (all of it or nothing).

    Exits 1 when any file failed (the others are still imported), 130 on Ctrl-C.
    """
    import psycopg
    from sqlalchemy.exc import SQLAlchemyError

    from dovos.commands.output import emit_json, fail
    from dovos.importers.files import ImportInterrupted, import_files

    if legacy is not None:
        if paths:
            fail("give export files or --legacy PATH, not both", code=2)
        _import_legacy(legacy, legacy_timezone, as_json, progress)
        return
    if not paths:
        fail("give export files (or directories), or --legacy PATH", code=2)
    if format not in FORMAT_CHOICES:
        fail(f"--format {format!r} is not one of {', '.join(FORMAT_CHOICES)}", code=2)
    interrupted = False
    try:
        results = import_files(paths, format=format, progress=progress)
    except ImportInterrupted as stop:
        results, interrupted = stop.results, True
    except (RuntimeError, OSError, psycopg.Error, SQLAlchemyError) as error:  # the database
        fail(f"the database is not usable, nothing was imported: {error}")
    if as_json:
        emit_json(summary(results) | {"interrupted": interrupted})
    else:
        for result in results:
            _print_file(result)
        _print_totals(results)
    if interrupted:
        raise typer.Exit(130)
    if not results:
        fail("no files to import (directories hold no *.json)")
    if not all(result.ok for result in results):
        raise typer.Exit(1)


def summary(results: list[FileImportResult]) -> dict[str, Any]:
    """Per-file results and totals, as the --json output prints them."""
    files = [result.as_dict() for result in results]
    keys = ("conversations_new", "conversations_updated", "conversations_unchanged",
            "messages_added", "messages_changed", "jobs_enqueued")
    totals = {key: sum(entry[key] for entry in files) for key in keys}
    totals["files"] = len(files)
    totals["files_failed"] = sum(not result.ok for result in results)
    totals["warnings"] = sum(len(result.warnings) for result in results)
    return {"ok": totals["files_failed"] == 0, "files": files, "totals": totals}


def _print_file(result: FileImportResult) -> None:
    if not result.ok:
        typer.secho(f"FAILED  {result.path}", fg=typer.colors.RED, bold=True)
        typer.secho(f"  {result.error}", fg=typer.colors.RED)
        return
    counts = result.as_dict()
    typer.secho(f"ok      {result.path}  ({result.format}, {result.seconds:.2f}s)",
                fg=typer.colors.GREEN)
    typer.echo(f"  conversations  {counts['conversations_new']} new, "
               f"{counts['conversations_updated']} updated, "
               f"{counts['conversations_unchanged']} unchanged")
    typer.echo(f"  messages       {counts['messages_added']} added, "
               f"{counts['messages_changed']} changed")
    typer.echo(f"  jobs           {counts['jobs_enqueued']} enqueued")
    typer.echo(f"  warnings       {len(result.warnings)}")
    for warning in result.warnings[:MAX_WARNINGS_SHOWN]:
        typer.secho(f"    - {warning}", fg=typer.colors.YELLOW)
    if len(result.warnings) > MAX_WARNINGS_SHOWN:
        typer.echo(f"    ... {len(result.warnings) - MAX_WARNINGS_SHOWN} more (--json lists all)")


def _print_totals(results: list[FileImportResult]) -> None:
    if len(results) < 2:
        return
    totals = summary(results)["totals"]
    typer.echo(
        f"total: {totals['files']} files ({totals['files_failed']} failed), "
        f"{totals['conversations_new']} new conversations, {totals['messages_added']} "
        f"messages added, {totals['messages_changed']} changed, "
        f"{totals['jobs_enqueued']} jobs enqueued"
    )


def _import_legacy(path: Path, timezone: str | None, as_json: bool, progress: bool) -> None:
    """`--legacy PATH`: one store, one transaction; its report; exit 1 when it failed."""
    import psycopg
    from sqlalchemy.exc import SQLAlchemyError

    from dovos.commands.output import emit_json, fail
    from dovos.importers.legacy import import_legacy_store

    try:
        result = import_legacy_store(path, timezone=timezone, progress=progress)
    except KeyboardInterrupt:
        typer.secho(f"{path}: interrupted; nothing of the store was written", fg="red", err=True)
        raise typer.Exit(130) from None
    except (RuntimeError, OSError, psycopg.Error, SQLAlchemyError) as error:  # the database
        fail(f"the database is not usable, nothing was imported: {error}")
    if as_json:
        emit_json(result.as_dict())
    else:
        for line in result.summary_lines():
            typer.echo(line)
    if not result.ok:
        raise typer.Exit(1)
