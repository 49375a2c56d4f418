"""Files that ship inside the package: migrations, notebooks, the demo archive and its
query sets.

Everything Dovos reads besides the user's own data is package data, found through
`importlib.resources`, so a wheel installed anywhere (not only a source checkout) can
migrate, run the report and import the demo. Wheels install unzipped, so these are
real paths that Alembic, papermill and the importers can open.
"""

from __future__ import annotations

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
