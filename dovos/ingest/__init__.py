"""The write path: parsed conversations in, one transaction of rows and embed jobs out.

    from dovos.ingest import ingest, ParsedConversation, ParsedMessage
    with database.connect() as connection:
        result = ingest(connection, conversations)

`records` holds what importers produce (`ParsedConversation`), `store` the transaction
that writes it through `dovos.repositories`.
"""

from __future__ import annotations

from dovos.ingest.records import ParsedConversation, ParsedMessage
from dovos.ingest.store import IngestError, IngestResult, ingest

__all__ = ["IngestError", "IngestResult", "ParsedConversation", "ParsedMessage", "ingest"]
