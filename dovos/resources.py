"""Files that ship inside the package: migrations, notebooks, the demo archive and its
query sets.

Everything Dovos reads besides the user's own data is package data, found through
`importlib.resources`, so a wheel installed anywhere (not only a source checkout) can
migrate, run the report and import the demo. Wheels install unzipped, so these are
real paths that Alembic, papermill and the importers can open.
"""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path


def package_path(*parts: str) -> Path:
    """The filesystem path of `parts` inside the installed `dovos` package."""
    return Path(str(files("dovos").joinpath(*parts)))


def alembic_dir() -> Path:
    """Alembic's environment and versions (`dovos/db/alembic`)."""
    return package_path("db", "alembic")


def notebooks_dir() -> Path:
    """The parameterized notebooks the report runs and `dovos notebooks copy` hands out."""
    return package_path("notebooks")


def demo_archive_dir() -> Path:
    """The demo archive: one export per format (ChatGPT, Claude, Open WebUI)."""
    return package_path("data", "demo")


def demo_queryset_dir() -> Path:
    """The demo archive's labeled query set (queries.jsonl, qrels.trec, queryset.json)."""
    return package_path("data", "queries", "demo")


def notebook_paths() -> list[Path]:
    """The packaged notebooks (`*.ipynb`), by name."""
    return sorted(notebooks_dir().glob("*.ipynb"))


def copy_notebooks(dest: Path | str, overwrite: bool = False) -> list[Path]:
    """Copy the packaged notebooks into `dest` (created if needed) for editing; return the
    copies' paths.

    The packaged ones stay untouched (the report runs those), so a user's edits live in a
    folder of their own. Refuses, before copying anything, when a notebook of the same
    name is already in `dest` and `overwrite` is false, so no edit is lost.
    """
    dest = Path(dest).expanduser()
    if dest.exists() and not dest.is_dir():
        raise NotADirectoryError(f"{dest} exists and is not a folder: choose another one")
    sources = notebook_paths()
    if not sources:
        raise FileNotFoundError(f"no notebooks found in the installed package at {notebooks_dir()}")
    existing = [dest / source.name for source in sources if (dest / source.name).exists()]
    if existing and not overwrite:
        names = ", ".join(path.name for path in existing)
        raise FileExistsError(
            f"{dest} already holds {names}: nothing was copied. Choose an empty folder, or "
            "overwrite them (`dovos notebooks copy DEST --force`, overwrite=True)."
        )
    dest.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copyfile(source, dest / source.name)) for source in sources]
