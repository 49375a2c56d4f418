"""`dovos notebooks ...`: the packaged notebooks, and copies of them to edit.

dovos notebooks list            where the packaged notebooks are (the report runs these)
dovos notebooks copy DEST       copy them into DEST for editing (--force to overwrite)

Thin shells over `dovos.resources.notebook_paths()` and `copy_notebooks()`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from dovos.commands.output import fail


def register(app: typer.Typer) -> None:
    """Add the `notebooks` group to the `dovos` command."""
    notebooks_app = typer.Typer(
        help="The workbench notebooks: list the packaged ones, copy them to edit.",
        no_args_is_help=True,
    )
    notebooks_app.command("list")(notebooks_list)
    notebooks_app.command("copy")(notebooks_copy)
    app.add_typer(notebooks_app, name="notebooks")


def notebooks_list() -> None:
    """Print the path of each packaged notebook."""
    from dovos.resources import notebook_paths

    for path in notebook_paths():
        typer.echo(str(path))


def notebooks_copy(
    dest: Path = typer.Argument(  # noqa: B008
        ..., help="Folder to copy the notebooks into (created if missing)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Overwrite notebooks of the same name already in DEST."
    ),
) -> None:
    """Copy the packaged notebooks into DEST, to open and edit in JupyterLab."""
    from dovos.resources import copy_notebooks

    try:
        copies = copy_notebooks(dest, overwrite=force)
    except OSError as error:  # FileExistsError, NotADirectoryError, permissions
        fail(str(error))
    for path in copies:
        typer.echo(f"copied {path}")
    typer.echo(f"open them with: jupyter lab {dest}")
