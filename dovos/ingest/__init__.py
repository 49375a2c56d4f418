"""The write path: parsed conversations in, one transaction of rows and embed jobs out.

    from dovos.ingest import ingest, ingest_transaction, ParsedConversation, ParsedMessage
    with database.connect() as connection:
        result = ingest(connection, conversations)          # one list, one transaction
        with ingest_transaction(connection) as writer:       # a stream, one transaction
            for batch in batches:
                writer.write(batch)

`records` holds what importers produce (`ParsedConversation`), `store` the transaction
that writes it through `dovos.repositories`.
"""

from __future__ import annotations

from dovos.ingest.records import ParsedConversation, ParsedMessage
from dovos.ingest.store import (
    IngestError,
    IngestResult,
    IngestWriter,
    ingest,
    ingest_transaction,
)

__all__ = [
    "IngestError",
    "IngestResult",
    "IngestWriter",
    "ParsedConversation",
    "ParsedMessage",
    "ingest",
    "ingest_transaction",
]
