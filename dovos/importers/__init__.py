"""Importers: one module per export format, each producing ParsedConversation objects.

    from dovos.importers import import_files, parse_file
    results = import_files(["conversations.json"])   # parse + write, one transaction per file
    parsed = parse_file("conversations.json")        # parse only (no database)
"""

from dovos.importers.detect import FORMATS, detect_format
from dovos.importers.errors import ExportError
from dovos.importers.files import (
    FileImportResult,
    ImportInterrupted,
    ParsedFile,
    import_file,
    import_files,
    parse_file,
)
from dovos.importers.parsed import ParsedConversation, ParsedMessage

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
