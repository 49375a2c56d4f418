"""Drain the embedding queue with the real worker, recording how it empties.

Before a vector or hybrid run, every message must have its embedding: `drain_queue`
runs `dovos.worker.Worker` in a background thread until no job is pending or running,
and meanwhile samples the queue and the embedding coverage every `poll_seconds`, so a
notebook can plot the queue draining and the coverage reaching 100 %.

Ctrl-C stops the worker (the batch in hand is given back to the queue, nothing is half
written) and re-raises.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class DrainSample:
    """The queue and coverage at one moment of a drain."""

    seconds: float
    pending: int
    running: int
    failed: int
    embedded: int  # messages whose embedding is at their current version and recipe
    total: int
    percent: float


@dataclass
class DrainLog:
    """Samples taken while draining plus the worker's statistics."""

    model: str
    samples: list[DrainSample] = field(default_factory=list)
    worker: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def final(self) -> DrainSample:
        return self.samples[-1]

    def frame(self) -> pd.DataFrame:
        """One row per sample (seconds, pending, running, failed, embedded, total, percent)."""
        return pd.DataFrame([asdict(s) for s in self.samples])

    @property
    def working_seconds(self) -> float:
        """Seconds from the first claimed job to the end (the model load excluded)."""
        first = self.samples[0]
        for sample in self.samples:
            if sample.running or sample.pending < first.pending:
                return max(self.seconds - sample.seconds, 1e-3)
        return self.seconds

    @property
    def messages_per_second(self) -> float:
        embedded = int(self.worker.get("messages_embedded", 0))
        return embedded / self.working_seconds if embedded else 0.0

    def summary(self) -> dict[str, Any]:
        final = self.final
        return {
            "model": self.model,
            "seconds": round(self.seconds, 2),
            "working_seconds": round(self.working_seconds, 2),
            "coverage_percent": round(final.percent, 2),
            "messages": final.total,
            "failed_jobs": final.failed,
            "jobs_done": self.worker.get("jobs_completed", 0),
            "messages_embedded": self.worker.get("messages_embedded", 0),
            "messages_per_second": round(self.messages_per_second, 1),
        }


def sample_queue(database: Any, model: str, started: float) -> DrainSample:
    """Live job counts and embedding coverage now (two cheap queries). An embedding of
    an older recipe counts as stale, as the worker sees it (`document_text.coverage`):
    during a re-embed after an upgrade the old vectors exist but are not yet current."""
    from dovos.repositories import jobs
    from dovos.repositories.unit_of_work import UnitOfWork
    from dovos.search.document_text import coverage as current_coverage

    with UnitOfWork(database) as uow:
        live = jobs.live_counts(uow.connection)
        coverage = current_coverage(uow.connection, model)
    return DrainSample(
        seconds=time.monotonic() - started,
        pending=int(live["pending"]),
        running=int(live["running"]),
        failed=int(live["failed"]),
        embedded=int(coverage.current),
        total=int(coverage.total),
        percent=float(coverage.percent),
    )


def drain_queue(
    database: Any = None,
    *,
    embedder: Any = None,
    poll_seconds: float = 0.5,
    progress: bool = True,
) -> DrainLog:
    """Run the worker until the queue is empty; return the samples and its statistics."""
    try:
        from dovos.worker import Worker
    except ImportError as error:  # pragma: no cover - only while the worker is missing
        raise RuntimeError(
            f"the embedding worker (dovos.worker) is not available: {error}"
        ) from error
    if database is None:
        from dovos.db import get_database

        database = get_database()
    worker = Worker(database, embedder=embedder, progress=progress)
    log = DrainLog(model=worker.embedder.name)
    started = time.monotonic()
    log.samples.append(sample_queue(database, log.model, started))
    handle = worker.start_in_background(until_empty=True)
    try:
        while handle.running:
            handle.thread.join(poll_seconds)
            log.samples.append(sample_queue(database, log.model, started))
        stats = handle.join()
    except KeyboardInterrupt:
        handle.stop(abort=True)
        handle.join()
        raise
    log.seconds = time.monotonic() - started
    log.samples.append(sample_queue(database, log.model, started))
    log.worker = stats.as_dict() if stats is not None else {}
    return log


def reembed_dataset(database: Any, tag: str) -> int:
    """Drop the embeddings of dataset `tag`'s messages and enqueue their embed jobs again.

    For demonstrations and worker-throughput figures: the worker then re-encodes exactly
    that dataset. One transaction, so the dataset is never left half-queued. Returns the
    number of jobs enqueued.
    """
    from dovos.repositories import embeddings, jobs, messages

    with database.connect() as conn, conn.transaction():
        embeddings.delete_for_conversations_with_metadata(conn, {"dataset": tag})
        found = messages.in_conversations_with_metadata(conn, {"dataset": tag})
        return jobs.enqueue_embed_jobs(conn, [(row.id, row.version) for row in found])
