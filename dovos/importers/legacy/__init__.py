"""Import a legacy (ChromaDB-era) Dovos store: `import_legacy_store(path, timezone=None)`.

    store.py     read chroma.sqlite3 read-only with the standard library (no chromadb)
    document.py  split a stored markdown document back into message blocks
    times.py     naive local legacy times -> UTC, in a zone given as an option
    convert.py   documents -> ParsedConversation (chunks merged, ids and metadata kept)
    importer.py  one transaction per store through dovos.ingest, verified, reported

See docs/legacy.md ("Coming from an earlier Dovos").
"""

from __future__ import annotations

from dovos.importers.legacy.convert import LegacyArchive, LegacyConversation, Skipped
from dovos.importers.legacy.importer import (
    LegacyImportResult,
    LegacyVerificationError,
    Verification,
    import_legacy_store,
    read_legacy_store,
)
from dovos.importers.legacy.store import LegacyStoreError
from dovos.importers.legacy.times import LegacyTimezoneError

__all__ = [
    "LegacyArchive",
    "LegacyConversation",
    "LegacyImportResult",
    "LegacyStoreError",
    "LegacyTimezoneError",
    "LegacyVerificationError",
    "Skipped",
    "Verification",
    "import_legacy_store",
    "read_legacy_store",
]
