"""Every SQL statement Dovos runs in production, one module per table group.

Design (issue 12, "one way to the database"):

- One module per table group; a table's INSERT/UPDATE/DELETE/COPY statements are all in
  its module (`tests/unit/test_sql_ownership.py` checks it):

      conversations.py   conversations (+ their summaries, the archive's totals)
      messages.py        messages (+ which messages an edit makes stale, embedding inputs)
      jobs.py            jobs: the producers' upsert and COPY, and the queue's statements
      embeddings.py      message_embeddings and embedding_models (the worker's upsert,
                         coverage, one partial HNSW index per model)
      import_lock.py     the import's advisory lock (no table: one import writes at a time)
      heartbeats.py      worker_heartbeats
      settings.py        settings (tuned search parameters)

  The ranking statement is the one read kept outside, in `dovos.search.sql`: it is
  assembled from fragments per search and is the search's own subject.
- Statements are named module constants (`CLAIM_SQL`, `COPY_MESSAGES_SQL`...), as in
  procrastinate's query file, with psycopg `%(name)s` parameters; next to each, a small
  function runs it on a psycopg connection the caller gives (so it joins the caller's
  transaction) and returns rows read by name: `class_row` into the dataclasses defined
  beside the statement, `dict_row`, or `scalar_row`. Never `row[15]`.
- psycopg 3 everywhere: the import's COPY, the queue's batch statements, the worker's
  LISTEN and the search all need it. SQLAlchemy is the connection pool and the migration
  runner (alembic, which needs no model metadata: the migrations in
  `dovos/db/alembic/versions` are written by hand, autogenerate is not used). The ORM
  models in `dovos.db.models` remain for two readers only: the import benchmark's
  deliberately naive reference path (`dovos.benchmarks.imports.naive_insert`) and
  `EmbeddingRepository` (coverage and counts, `uow.embeddings`), until it reads through
  the unit's connection like the other modules.
- A transaction is either the caller's (`ingest`, the queue and the worker manage
  their own on `Database.connect()`), or a `UnitOfWork(database)`: a pooled connection,
  committed when the block ends, rolled back on any exception.

Layers: this package imports only `dovos.db` and below; services (ingest, queue, search,
worker) and applications (API, evaluation, benchmarks) call into it.
"""

from dovos.repositories.conversations import ConversationSummary, Page
from dovos.repositories.jobs import EMBED_MESSAGE, embed_dedupe_key
from dovos.repositories.unit_of_work import UnitOfWork

__all__ = [
    "EMBED_MESSAGE",
    "ConversationSummary",
    "Page",
    "UnitOfWork",
    "embed_dedupe_key",
]
