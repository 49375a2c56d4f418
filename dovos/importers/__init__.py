"""Importers: one module per export format, each producing ParsedConversation objects.

    from dovos.importers import import_files, import_legacy_store, parse_file
    results = import_files(["conversations.json"])   # parse + write, one transaction per file
    result = import_legacy_store("chroma_storage")   # a legacy Dovos store, one transaction
    parsed = parse_file("conversations.json")        # parse only (no database)
    with open_export("conversations.json") as export:  # streamed, parsed as iterated
        for conversation in export.conversations: ...

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
    "LegacyImportResult": "dovos.importers.legacy",
    "ParsedFile": "dovos.importers.files",
    "import_file": "dovos.importers.files",
    "import_files": "dovos.importers.files",
    "import_legacy_store": "dovos.importers.legacy",
    "open_export": "dovos.importers.files",
    "parse_file": "dovos.importers.files",
}

__all__ = [
    "FORMATS",
    "ExportError",
    "FileImportResult",
    "ImportInterrupted",
    "LegacyImportResult",
    "ParsedConversation",
    "ParsedFile",
    "ParsedMessage",
    "detect_format",
    "import_file",
    "import_files",
    "import_legacy_store",
    "open_export",
    "parse_file",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dovos.importers' has no attribute {name!r}")
