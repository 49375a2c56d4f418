"""The background embedding worker: keeps every message's embedding at its current input.

A `Worker` drains the `embed_message` jobs of the Postgres queue (`dovos.queue`):

    claim a batch (SKIP LOCKED, expired leases first) -> read stored versions and texts
    -> encode what is stale, slice by slice -> per slice: upsert embeddings + complete
    its jobs (one transaction) -> failures back with backoff

Jobs are idempotent: the text and version come from the message as it is now, a message
already embedded at that input is not encoded again, and the upsert never replaces a
newer input with an older one, so a job run twice (after a crash) or late (after an
edit) does no harm. The worker survives a database restart: it waits for the database
with backoff, logs one line when it goes and one when it is back, and carries on.

The package, one concern per module:

    service      Worker: the run's threads, claim loops, signals
    processing   one claim: read, encode (halving on a bad text), write slice by slice
    connection   connections that survive a restart; the shared outage state
    heartbeat    lease extension + the worker's row in `worker_heartbeats`
    wakeup       LISTEN/NOTIFY wake-ups
    progress     WorkerStats, state, progress bar
    handle       WorkerHandle, for notebooks
    reports      queue_report / retry_failed (what `dovos jobs` prints)
    defaults     the tunable defaults

    Worker().run(until_empty=True)           # terminal, test or notebook cell
    handle = Worker().start_in_background()  # notebook: returns at once
    handle.state; handle.stop(); handle.join()
"""

from dovos.repositories.embeddings import upsert_embeddings
from dovos.repositories.heartbeats import WorkerHeartbeat, worker_heartbeats
from dovos.worker.defaults import (
    CHANNEL,
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONCURRENCY,
    DEFAULT_ENCODE_BATCH_SIZE,
    DEFAULT_HEARTBEAT_SECONDS,
    DEFAULT_LEASE_SECONDS,
    DEFAULT_POLL_SECONDS,
    DEFAULT_SLICE_SIZE,
    LISTEN_RECHECK_SECONDS,
)
from dovos.worker.handle import WorkerHandle
from dovos.worker.progress import WorkerStats
from dovos.worker.reports import QueueReport, queue_report, retry_failed
from dovos.worker.service import Worker

__all__ = [
    "CHANNEL",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_ENCODE_BATCH_SIZE",
    "DEFAULT_HEARTBEAT_SECONDS",
    "DEFAULT_LEASE_SECONDS",
    "DEFAULT_POLL_SECONDS",
    "DEFAULT_SLICE_SIZE",
    "LISTEN_RECHECK_SECONDS",
    "QueueReport",
    "Worker",
    "WorkerHandle",
    "WorkerHeartbeat",
    "WorkerStats",
    "queue_report",
    "retry_failed",
    "upsert_embeddings",
    "worker_heartbeats",
]
