"""Archives for the search benchmarks and tests: LoCoMo loaded, and embeddings filled.

`embed_missing` reads the text to embed through `fetch_embedding_inputs` (the same
function the worker uses), so benchmarks measure what production stores. It exists
for benchmarks and tests that need embeddings synchronously without running a worker.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from pgvector.psycopg import register_vector
from tqdm.auto import tqdm

from dovos.embeddings import Embedder
from dovos.evaluation.locomo import LocomoDataset, load_locomo
from dovos.ingest import ingest
from dovos.search.document_text import fetch_embedding_inputs, stale_message_ids
from dovos.worker import upsert_embeddings


def load_locomo_archive(database: Any, path: str | Path, **options: Any) -> LocomoDataset:
    """Parse LoCoMo and ingest it (one transaction); returns the parsed dataset."""
    dataset = load_locomo(path, **options)
    with database.connect() as conn:
        ingest(conn, dataset.conversations)
    return dataset


def embed_missing(
    database: Any, embedder: Embedder, *, batch_size: int = 256, progress: bool = True
) -> int:
    """Embed every message without a current embedding for `embedder.name` (what the
    worker does, synchronously); returns how many were written. Each batch commits on
    its own, so an interrupt keeps whole batches."""
    with database.connect() as conn:
        register_vector(conn)
        with conn.transaction(), conn.cursor() as cursor:
            ids = stale_message_ids(cursor, embedder.name)
        bar = tqdm(total=len(ids), desc="embedding", unit="msg", disable=not progress)
        for start in range(0, len(ids), batch_size):
            _embed_batch(conn, embedder, ids[start : start + batch_size])
            bar.update(min(batch_size, len(ids) - start))
        bar.close()
    return len(ids)


def _embed_batch(conn: Any, embedder: Embedder, ids: list[uuid.UUID]) -> None:
    with conn.transaction(), conn.cursor() as cursor:
        inputs = fetch_embedding_inputs(cursor, ids)
        vectors = embedder.encode([item.text for item in inputs])
        upsert_embeddings(cursor, embedder.name, inputs, list(vectors))
