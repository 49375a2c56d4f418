"""Importers: one module per export format, each producing ParsedConversation objects.

    from dovos.importers import import_files, parse_file
    results = import_files(["conversations.json"])   # parse + write, one transaction per file
    parsed = parse_file("conversations.json")        # parse only (no database)

The file-level API is loaded on first use: `dovos.ingest` imports `importers.parsed`,
and an eager import of `importers.files` (which imports `dovos.ingest`) here would be
circular.
"""

from __future__ import annotations

from typing import Any

from dovos.importers.parsed import ParsedConversation, ParsedMessage

_LAZY = {
    "FORMATS": "dovos.importers.detect",
    "detect_format": "dovos.importers.detect",
    "ExportError": "dovos.importers.errors",
    "FileImportResult": "dovos.importers.files",
    "ImportInterrupted": "dovos.importers.files",
    "ParsedFile": "dovos.importers.files",
    "import_file": "dovos.importers.files",
    "import_files": "dovos.importers.files",
    "parse_file": "dovos.importers.files",
}

__all__ = [
    "FORMATS",
    "ExportError",
    "FileImportResult",
    "ImportInterrupted",
    "ParsedConversation",
    "ParsedFile",
    "ParsedMessage",
    "detect_format",
    "import_file",
    "import_files",
    "parse_file",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dovos.importers' has no attribute {name!r}")
