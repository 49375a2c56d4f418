"""`dovos db champions [--min-df N] [--depth N] [--drop]`: rebuild the lexical leg's
champion lists (a thin shell over dovos.search.champions.refresh)."""

from __future__ import annotations

import typer

from dovos.commands.output import JsonOption, emit_json, print_mapping


def db_champions(
    min_df: int = typer.Option(2_000, "--min-df", min=1,
                               help="Lexemes in more messages than this get a list."),
    depth: int = typer.Option(2_000, "--depth", min=1, help="Messages kept per list."),
    drop: bool = typer.Option(False, "--drop", help="Remove the lists instead."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress."),
    as_json: bool = JsonOption,
) -> None:
    """Rebuild the champion lists the lexical leg reads on large archives (one transaction).

    Run it after large imports; messages written since are still found, at more cost."""
    from dovos.db import Database
    from dovos.search import champions

    database = Database.open(application="champions")
    try:
        if drop:
            champions.drop(database)
            report = {"lists": 0}
        else:
            report = champions.refresh(database, min_df=min_df, depth=depth,
                                       progress=progress and not as_json)
    finally:
        database.close()
    if as_json:
        emit_json(report)
    else:
        print_mapping(report)
