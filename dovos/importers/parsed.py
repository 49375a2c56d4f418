"""What every importer produces (defined in `dovos.ingest.records`, below the importers,
because the write path takes them)."""

from __future__ import annotations

from dovos.ingest.records import ParsedConversation, ParsedMessage

__all__ = ["ParsedConversation", "ParsedMessage"]
