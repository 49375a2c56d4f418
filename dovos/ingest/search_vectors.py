"""Search vectors computed on a second connection, so the import's backend does not.

An import writes a file in one transaction, on one connection: one PostgreSQL backend,
one core. `to_tsvector` was ~40 % of that backend's work (the generated column of
0001). Since migration 0011 an insert may supply the vector, so an importer can have
a second backend compute the next batch's vectors (`batch_vectors`, on a read-only
autocommit connection from `second_connection`) while the first writes the current
batch, and hand them to the `IngestWriter` (`writer.vectors`): two backends and the client share the
machine's cores instead of one backend doing it all.

The vectors are those the column's trigger would compute: the same statement text
(`dovos.repositories.messages.SEARCH_VECTORS_SQL`) over the same strings. They are
keyed by content, so a message gets the vector of its own text whatever the planning
decides (new, changed, repeated); a message without one (a conversation continued
from the archive, a caller that supplies none) is computed by the trigger, in the
writing transaction, as before. Nothing is written on the second connection: if it
fails, the first one's transaction is rolled back by the caller like any other error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from dovos.ingest.records import ParsedConversation
from dovos.repositories import messages

APPLICATION_NAME = "dovos-search-vectors"


def second_connection(connection: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """A new read-only autocommit connection to `connection`'s server and database;
    the caller closes it."""
    info = connection.info
    return psycopg.connect(
        info.dsn, password=info.password, autocommit=True, application_name=APPLICATION_NAME,
        options="-c jit=off -c default_transaction_read_only=on",
    )


def batch_vectors(
    connection: psycopg.Connection[Any], batch: Sequence[ParsedConversation]
) -> Mapping[str, str]:
    """The search vector (as text) of every distinct message content of `batch`."""
    contents = list(dict.fromkeys(m.content for c in batch for m in c.messages))
    return dict(zip(contents, messages.search_vectors(connection, contents), strict=True))
