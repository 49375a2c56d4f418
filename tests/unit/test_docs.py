"""The README stays short and every link in the docs leads somewhere.

The README is the entry point (what Dovos is, the two commands, a tour, configuration);
everything else lives in one page per area under docs/. These tests keep it that way: a
README that grows past 15,000 bytes, a relative link to a page or heading that is not
there, or a `docs/...` path the README names but nobody wrote fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_BYTES = 15_000

# [text](target): the target up to the closing parenthesis, without a title.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
DOCS_PATH = re.compile(r"(?<![\w/.-])docs/[\w./-]*[\w/]")


def _prose(text: str) -> str:
    """The Markdown without its fenced code blocks (a `[x](y)` in code is not a link)."""
    return FENCE.sub("", text)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(h) for h in HEADING.findall(_prose(page.read_text(encoding="utf-8")))}


def _pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _relative_links(page: Path) -> list[str]:
    targets = LINK.findall(_prose(page.read_text(encoding="utf-8")))
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


def test_readme_is_at_most_15000_bytes() -> None:
    size = README.stat().st_size
    assert size <= README_MAX_BYTES, (
        f"README.md is {size:,} bytes (limit {README_MAX_BYTES:,}): move detail to the "
        "area's page in docs/ and link it"
    )


def test_docs_folder_has_the_area_pages() -> None:
    names = {p.name for p in DOCS.glob("*.md")}
    expected = {
        "import.md", "worker.md", "search.md", "api.md", "workbench.md", "benchmarks.md",
        "database.md", "measurements.md", "install.md", "architecture.md",
    }
    assert expected <= names, f"docs/ lacks {sorted(expected - names)}"


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in _relative_links(page):
        path_part, _, anchor = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page
        if not dest.exists():
            broken.append(f"{target} (no file {dest.relative_to(ROOT)})")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no heading #{anchor} in {dest.relative_to(ROOT)})")
    assert not broken, f"{page.relative_to(ROOT)}: broken links: {broken}"


def test_docs_paths_named_in_readme_exist() -> None:
    named = set(DOCS_PATH.findall(README.read_text(encoding="utf-8")))
    assert named, "README.md names no docs/ page: it should link the area pages"
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert not missing, f"README.md names docs paths that do not exist: {missing}"


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {
        (ROOT / target.partition("#")[0]).resolve() for target in _relative_links(README)
    }
    orphans = sorted(p.name for p in DOCS.glob("*.md") if p.resolve() not in linked)
    assert not orphans, f"docs pages no README link leads to (add them to its table): {orphans}"
