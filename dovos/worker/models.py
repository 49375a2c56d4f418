"""Adding an embedding model to an archive, and what models it holds.

    from dovos.worker.models import add_model, model_report
    add_model("all-MiniLM-L6-v2@bf16")   # register + HNSW index + enqueue what it lacks
    Worker(embedders=[...]).run(until_empty=True)   # or DOVOS_EMBEDDING_MODELS + dovos worker

A model is registered with its dimension and its own partial HNSW index
(`dovos.repositories.embeddings.ensure_model`), then every message without a current
embedding of it gets an embed job, in one transaction: either all are queued or none.
A running worker embeds each job's message with every configured model that is stale
for it, so the worker must have the new model configured (DOVOS_EMBEDDING_MODELS) to
write its vectors. This is also the re-embed path: `add_model` on a model already
present queues exactly the messages whose embedding of it is missing or stale.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tqdm.auto import tqdm

from dovos.db import Database, get_database
from dovos.embeddings import Embedder, configured_models, embedder_named, split_storage_name
from dovos.repositories.embeddings import ensure_model, list_models
from dovos.search.document_text import coverage, enqueue_stale


@dataclass(frozen=True)
class BackfillResult:
    """What `add_model` did: `messages` lacked a current embedding, `jobs_added` jobs
    were queued for them (the rest already had a pending job)."""

    model: str
    dimensions: int
    new_model: bool
    messages: int
    jobs_added: int
    configured: bool  # whether this process's worker configuration embeds with it

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def add_model(
    name: str,
    database: Database | None = None,
    *,
    embedder: Embedder | None = None,
    dimensions: int | None = None,
    progress: bool = True,
) -> BackfillResult:
    """Register `name` (its dimension from `dimensions`, else from loading the model)
    with its HNSW index and queue an embed job for each message it lacks.

    ValueError names a bad model name or dimension, ModelDimensionError a model stored
    with another dimension; nothing is queued then."""
    split_storage_name(name)  # a bad precision suffix is named before anything loads
    if dimensions is None:
        embedder = embedder or embedder_named(name)
        embedder.encode(["warm up"], batch_size=1)  # loads the model: its true dimension
        dimensions = int(embedder.dim)
    database = database or get_database()
    with database.connect() as connection:
        new = ensure_model(connection, name, int(dimensions))
        connection.commit()
        covered = coverage(connection, name)
        with tqdm(total=covered.total - covered.current, unit="msg", disable=not progress,
                  desc=f"queue {name}") as bar:
            found, added = enqueue_stale(connection, name, progress=bar)
        connection.commit()
    return BackfillResult(model=name, dimensions=int(dimensions), new_model=new,
                          messages=found, jobs_added=added,
                          configured=name in configured_models())


@dataclass(frozen=True)
class ModelRow:
    """One registered model with its coverage of the archive."""

    model: str
    dimensions: int
    index_name: str
    total: int
    current: int
    stale: int
    missing: int
    configured: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def model_report(database: Database | None = None) -> list[ModelRow]:
    """Every registered model (oldest first) with its coverage and whether the worker
    configuration embeds with it."""
    database = database or get_database()
    configured = set(configured_models())
    with database.connect(autocommit=True) as connection:
        rows = []
        for model in list_models(connection):
            covered = coverage(connection, model.model)
            rows.append(ModelRow(model.model, model.dimensions, model.index_name,
                                 covered.total, covered.current, covered.stale,
                                 covered.missing, model.model in configured))
    return rows
