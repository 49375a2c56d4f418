"""The background embedding worker: keeps every message's embedding at its current input.

A `Worker` drains the `embed_message` jobs of the Postgres queue (`dovos.queue`):

    claim a batch (SKIP LOCKED) -> read stored versions and texts -> encode what is stale
    -> upsert embeddings + complete the jobs (one transaction) -> failures back with backoff

Per batch that is four statements however large the batch, and the model is loaded once
per worker. Jobs are idempotent: the text and version come from the message as it is
now (`fetch_embedding_inputs`), a message whose stored embedding is already at that
version (of the message and of the previous turn it is embedded with) is not encoded
again, and the upsert never replaces a newer input with an older one, so a job run twice (after a crash) or late (after an edit) does no harm.

Around the loop: a heartbeat thread extends the leases of the jobs in hand and records
the worker in `settings` (`worker.heartbeat.<id>`); a listener thread turns NOTIFYs on
channel `dovos_jobs` into wake-ups, so an idle worker reacts at once without polling
(it polls every `poll_seconds` when it cannot listen). SIGINT/SIGTERM finish the current
batch and exit; a second signal gives the batch back instead. A worker killed outright
leaves jobs whose leases expire, and any worker claims them again.

    Worker().run(until_empty=True)           # terminal, test or notebook cell
    handle = Worker().start_in_background()  # notebook: returns at once
    handle.stop(); handle.join()
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
from psycopg import errors
from psycopg.types.json import Jsonb
from sqlalchemy import text
from tqdm.auto import tqdm

from dovos import queue
from dovos.config import EMBEDDING_DIM
from dovos.db import Database, get_database
from dovos.embeddings import Embedder, get_embedder
from dovos.search.document_text import EmbeddingInput, fetch_embedding_inputs

log = logging.getLogger(__name__)

# Chosen by `dovos.benchmarks.worker` (see README, "Background embedding worker"):
# 256 jobs per claim lets encode sort a claim into length-homogeneous model batches of
# 32, as plain `model.encode` does over a whole corpus (worker / plain-encode rate on
# LoCoMo dev: 64 per claim ~0.73, 128 ~0.81, 256 ~0.90, 512 ~0.92, within noise of 256
# but twice the work redone after a crash); two loops let one loop's write (~7 % of a
# drain, mostly the HNSW insert) overlap the other's encode (256 with two loops: median
# 0.93 over 4 runs, one loop 0.90 over 5; a small edge, within this machine's noise).
DEFAULT_BATCH_SIZE = 256
DEFAULT_ENCODE_BATCH_SIZE = 32
DEFAULT_CONCURRENCY = 2
DEFAULT_LEASE_SECONDS = 30.0
DEFAULT_HEARTBEAT_SECONDS = 5.0
DEFAULT_POLL_SECONDS = 1.0
# While listening, an idle worker still re-checks this often (a lost notification).
LISTEN_RECHECK_SECONDS = 30.0
# A heartbeat older than this many intervals means the worker is gone.
ALIVE_INTERVALS = 3
HEARTBEAT_PREFIX = "worker.heartbeat."
HEARTBEAT_RETENTION = "1 day"
CHANNEL = "dovos_jobs"

STORED_VERSIONS_SQL = """
SELECT message_id, message_version, context_version FROM message_embeddings
WHERE model = %(model)s AND message_id = ANY(%(ids)s)
"""

# Never moves an embedding back to an older input (message and context versions only
# grow, so inputs read later compare greater), and skips messages deleted since their
# text was read (the foreign key would otherwise fail the whole batch).
UPSERT_EMBEDDINGS_SQL = """
INSERT INTO message_embeddings (message_id, model, embedding, message_version, context_version)
SELECT t.id, %(model)s, t.embedding, t.version, t.context_version
FROM unnest(%(ids)s::uuid[], %(embeddings)b::vector[], %(versions)s::int[],
            %(context_versions)s::int[])
    AS t(id, embedding, version, context_version)
WHERE EXISTS (SELECT 1 FROM messages m WHERE m.id = t.id)
ON CONFLICT (message_id, model) DO UPDATE
SET embedding = EXCLUDED.embedding,
    message_version = EXCLUDED.message_version,
    context_version = EXCLUDED.context_version,
    created_at = now()
WHERE (message_embeddings.message_version, message_embeddings.context_version)
    < (EXCLUDED.message_version, EXCLUDED.context_version)
"""


def upsert_embeddings(
    cursor: psycopg.Cursor[Any],
    model: str,
    inputs: Sequence[EmbeddingInput],
    vectors: Sequence[np.ndarray],
) -> None:
    """Store the embeddings of `inputs` in one statement (newer inputs win). The cursor's
    connection needs pgvector's types registered (`pgvector.psycopg.register_vector`)."""
    if not inputs:
        return
    cursor.execute(UPSERT_EMBEDDINGS_SQL, {
        "model": model,
        "ids": [item.message_id for item in inputs],
        "versions": [item.version for item in inputs],
        "context_versions": [item.context_version for item in inputs],
        "embeddings": list(vectors),
    })


HEARTBEAT_SQL = """
INSERT INTO settings (key, value) VALUES (%(key)s, %(value)s)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
"""

PRUNE_HEARTBEATS_SQL = """
DELETE FROM settings
WHERE key LIKE %(pattern)s AND updated_at < now() - %(retention)s::interval
"""

HEARTBEATS_SQL = """
SELECT key, value, extract(epoch FROM now() - updated_at) AS age
FROM settings WHERE key LIKE :pattern ORDER BY key
"""


@dataclass
class WorkerStats:
    """What a worker run did (also its live progress while it runs)."""

    worker_id: str
    state: str = "starting"
    jobs_completed: int = 0
    jobs_failed: int = 0
    jobs_retried: int = 0
    jobs_released: int = 0
    messages_embedded: int = 0
    messages_skipped: int = 0
    batches: int = 0
    encode_seconds: float = 0.0
    elapsed_seconds: float = 0.0

    @property
    def jobs_done(self) -> int:
        """Jobs finished for good (completed or failed)."""
        return self.jobs_completed + self.jobs_failed

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "jobs_done": self.jobs_done}


@dataclass(frozen=True)
class WorkerHeartbeat:
    """A worker as its last heartbeat recorded it; `alive` if that beat is recent."""

    worker_id: str
    host: str
    pid: int
    started_at: str
    last_beat: str
    jobs_done: int
    state: str
    heartbeat_seconds: float
    age_seconds: float
    alive: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class QueueReport:
    """What `dovos jobs` shows: counts by status, recent failures, worker heartbeats."""

    counts: dict[str, int]
    failed: list[queue.FailedJob]
    workers: list[WorkerHeartbeat]

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "failed": [job.as_dict() for job in self.failed],
            "workers": [worker.as_dict() for worker in self.workers],
        }


@dataclass
class _Batch:
    """One claim, split into what to encode, what is already current, and what failed."""

    jobs: list[queue.ClaimedJob]
    to_encode: list[EmbeddingInput] = field(default_factory=list)
    skipped: int = 0
    failures: dict[int, str] = field(default_factory=dict)  # job id -> error
    jobs_by_message: dict[uuid.UUID, list[queue.ClaimedJob]] = field(default_factory=dict)


class _Aborted(BaseException):
    """The run is being aborted: give the current batch back. (Not an Exception, so the
    encode error handling does not take it for a failed text.)"""


class Worker:
    """Embeds messages for `embed_message` jobs until stopped (or the queue is empty).

    `batch_size` jobs are claimed and encoded together (the model sorts them by length
    into batches of `encode_batch_size`); `concurrency` loops share the one model,
    so that one loop's database work overlaps another's encoding. Leases last
    `lease_seconds` and are renewed every `heartbeat_seconds`; failed attempts come back
    after `backoff`.
    """

    def __init__(
        self,
        database: Database | None = None,
        *,
        embedder: Embedder | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        heartbeat_seconds: float | None = None,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        backoff: queue.Backoff | None = None,
        listen: bool = True,
        progress: bool = True,
        worker_id: str | None = None,
        kinds: Sequence[str] = queue.DEFAULT_KINDS,
    ) -> None:
        heartbeat = heartbeat_seconds or min(DEFAULT_HEARTBEAT_SECONDS, lease_seconds / 3)
        _check_positive(batch_size=batch_size, encode_batch_size=encode_batch_size,
                        concurrency=concurrency, lease_seconds=lease_seconds,
                        heartbeat_seconds=heartbeat, poll_seconds=poll_seconds)
        if heartbeat >= lease_seconds:
            raise ValueError(
                f"heartbeat_seconds ({heartbeat}) must be shorter than lease_seconds "
                f"({lease_seconds}), or leases expire while the worker is alive"
            )
        self._database = database
        self._embedder = embedder
        self.batch_size = batch_size
        self.encode_batch_size = encode_batch_size
        self.concurrency = concurrency
        self.lease_seconds = float(lease_seconds)
        self.heartbeat_seconds = float(heartbeat)
        self.poll_seconds = float(poll_seconds)
        self.backoff = backoff or queue.Backoff()
        self.listen = listen
        self.progress = progress
        self.kinds = tuple(kinds)
        self.host = socket.gethostname()
        self.worker_id = worker_id or f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stats = WorkerStats(self.worker_id)
        self.started_at = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()  # finish the current batch, then exit
        self._abort = threading.Event()  # give the current batch back, then exit
        self._wake = threading.Event()  # a job may be claimable
        self._done = threading.Event()  # the loops have ended: helper threads exit
        self._listening = threading.Event()
        self._running = threading.Lock()
        self._busy_loops = 0
        self._error: BaseException | None = None
        self._interrupted = False
        self._bar: Any = None

    # -- public ---------------------------------------------------------------------------
    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = get_database()
        return self._database

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder()
        return self._embedder

    def run(self, until_empty: bool = False) -> WorkerStats:
        """Process jobs until stopped (SIGINT/SIGTERM, `stop()`) or, with `until_empty`,
        until no job is pending or running. Returns the run's statistics.

        Raises KeyboardInterrupt after a second interrupt (the batch in hand is released).
        """
        if not self._running.acquire(blocking=False):
            raise RuntimeError(f"worker {self.worker_id} is already running")
        try:
            with self._signal_handlers():
                return self._run(until_empty)
        finally:
            self._running.release()

    def start_in_background(self, until_empty: bool = False) -> WorkerHandle:
        """Run in a daemon thread and return at once (a notebook cell stays responsive)."""
        handle = WorkerHandle(self, until_empty)
        handle.thread.start()
        return handle

    def stop(self, *, abort: bool = False) -> None:
        """Ask the run to finish its batch and exit (`abort`: give the batch back)."""
        self._stop.set()
        if abort:
            self._abort.set()
        self._wake.set()

    # -- the run --------------------------------------------------------------------------
    def _run(self, until_empty: bool) -> WorkerStats:
        self._reset()
        started = time.monotonic()
        self._load_model()
        done, listening = self._done, self._listening
        heartbeat = threading.Thread(target=self._heartbeat_loop, args=(done,), daemon=True,
                                     name=f"dovos-heartbeat-{self.worker_id}")
        helpers = [heartbeat]
        if self.listen:
            helpers.append(threading.Thread(target=self._listen_loop, args=(done, listening),
                                            daemon=True, name=f"dovos-listen-{self.worker_id}"))
        loops = [
            threading.Thread(target=self._loop_guarded, args=(until_empty,), daemon=True,
                             name=f"dovos-worker-{self.worker_id}-{index}")
            for index in range(self.concurrency)
        ]
        self._bar = self._open_progress()
        try:
            self._beat_once(None)
            for thread in helpers + loops:
                thread.start()
            _join_interruptibly(loops, self)
        finally:
            self._set_state("stopping")
            done.set()
            # the last beat ("stopped") must not be overtaken by a periodic one; the
            # listener needs no wait (it sees `done` within a quarter second, and a
            # later run has events of its own)
            if heartbeat.ident is not None:
                heartbeat.join(timeout=10)
            self.stats.elapsed_seconds = time.monotonic() - started
            self._set_state("stopped")
            try:
                self._beat_once(None)
            except psycopg.Error as error:
                log.warning("worker %s: last heartbeat not written: %s", self.worker_id, error)
            if self._bar is not None:
                self._bar.close()
        if self._error is not None:
            raise self._error
        if self._abort.is_set() and self._interrupted:
            raise KeyboardInterrupt
        return self.stats

    def _reset(self) -> None:
        for event in (self._stop, self._abort, self._wake):
            event.clear()
        self._done = threading.Event()
        self._listening = threading.Event()
        self._error = None
        self._interrupted = False
        self._busy_loops = 0
        self.stats = WorkerStats(self.worker_id)
        self.started_at = _utc_now()

    def _load_model(self) -> None:
        """Load the model before claiming anything: a model that cannot load holds no job."""
        if self.embedder.dim != EMBEDDING_DIM:
            raise ValueError(
                f"embedder {self.embedder.name!r} makes {self.embedder.dim}-dimensional "
                f"vectors; message_embeddings stores {EMBEDDING_DIM}"
            )
        with _encode_lock(self.embedder):
            self.embedder.encode(["warm up"], batch_size=1)

    def _open_progress(self) -> Any:
        with self.database.connect(autocommit=True) as connection:
            live = queue.idle_state(connection, self.kinds).live
        return tqdm(total=live, unit="job", desc="embedding", disable=not self.progress,
                    dynamic_ncols=True)

    # -- one loop -------------------------------------------------------------------------
    def _loop_guarded(self, until_empty: bool) -> None:
        try:
            self._loop(until_empty)
        except BaseException as error:  # reported by run()
            log.exception("worker %s stopped on an error", self.worker_id)
            with self._lock:
                self._error = self._error or error
            self.stop()
        finally:
            self._wake.set()  # an idle sibling re-checks whether the queue is empty

    def _loop(self, until_empty: bool) -> None:
        with self.database.connect(autocommit=True) as connection:
            _register_vector(connection)
            while not self._stop.is_set():
                self._wake.clear()
                jobs = queue.claim(connection, self.worker_id, limit=self.batch_size,
                                   lease_seconds=self.lease_seconds, kinds=self.kinds)
                if jobs:
                    self._process(connection, jobs)
                    if until_empty:
                        self._wake.set()
                elif not self._wait_for_work(connection, until_empty):
                    return

    def _wait_for_work(self, connection: psycopg.Connection[Any], until_empty: bool) -> bool:
        """Sleep until a job may be claimable; False when `until_empty` and nothing is left."""
        state = queue.idle_state(connection, self.kinds)
        self._grow_total(state.live)
        if until_empty and state.live == 0:
            return False
        timeout = LISTEN_RECHECK_SECONDS if self._listening.is_set() else self.poll_seconds
        if state.seconds_until_due is not None:
            timeout = min(timeout, max(state.seconds_until_due + 0.05, 0.05))
        self._set_state("idle")
        self._wake.wait(timeout)
        return True

    # -- one batch ------------------------------------------------------------------------
    def _process(self, connection: psycopg.Connection[Any], jobs: list[queue.ClaimedJob]) -> None:
        """Embed one claimed batch; on any exception the jobs not yet settled go back."""
        unsettled = {job.id for job in jobs}
        self._enter_busy()
        try:
            batch = self._read(connection, jobs)
            vectors, encode_errors = self._encode(batch)
            if self._abort.is_set():
                raise _Aborted
            for index, error in encode_errors.items():
                message_id = batch.to_encode[index].message_id
                for job in batch.jobs_by_message[message_id]:
                    batch.failures[job.id] = error
            done = self._write(connection, batch, vectors)
            unsettled -= set(done)
            self._record_failures(connection, batch)
            unsettled.clear()
        except _Aborted:
            self._release(connection, unsettled)
        except BaseException:
            with suppress(Exception):
                self._release(connection, unsettled)
            raise
        finally:
            self._leave_busy()

    def _read(self, connection: psycopg.Connection[Any], jobs: list[queue.ClaimedJob]) -> _Batch:
        """Map jobs to messages; fetch stored versions and current texts; keep the stale."""
        batch = _Batch(jobs)
        for job in jobs:
            message_id = _message_id(job.payload)
            if message_id is None:
                batch.failures[job.id] = f"payload has no valid message_id: {job.payload!r}"
            else:
                batch.jobs_by_message.setdefault(message_id, []).append(job)
        ids = list(batch.jobs_by_message)
        with connection.transaction(), connection.cursor() as cursor:
            cursor.execute(STORED_VERSIONS_SQL, {"model": self.embedder.name, "ids": ids})
            stored = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
            inputs = fetch_embedding_inputs(cursor, ids) if ids else []
        for item in inputs:
            if stored.get(item.message_id, (0, 0)) >= item.versions:
                batch.skipped += 1
            else:
                batch.to_encode.append(item)
        batch.skipped += len(ids) - len(inputs)  # deleted messages: nothing to embed
        return batch

    def _encode(self, batch: _Batch) -> tuple[list[np.ndarray | None], dict[int, str]]:
        """Encode the batch's texts; when a call fails, halve the batch to find the texts
        that fail on their own, so one poison message does not fail its neighbours."""
        texts = [item.text for item in batch.to_encode]
        vectors: list[np.ndarray | None] = [None] * len(texts)
        failures: dict[int, str] = {}
        started = time.perf_counter()

        def encode_range(low: int, high: int) -> None:
            try:
                block = self._encode_checked(texts[low:high])
            except Exception as error:  # noqa: BLE001 - any embedder error fails the job
                if high - low == 1:
                    failures[low] = f"{type(error).__name__}: {error}"[:2000]
                    return
                middle = (low + high) // 2
                encode_range(low, middle)
                encode_range(middle, high)
                return
            vectors[low:high] = list(block)

        if texts:
            encode_range(0, len(texts))
        with self._lock:
            self.stats.encode_seconds += time.perf_counter() - started
        return vectors, failures

    def _encode_checked(self, texts: list[str]) -> np.ndarray:
        with _encode_lock(self.embedder):
            if self._abort.is_set():  # aborted while a sibling loop held the model
                raise _Aborted
            block = np.asarray(
                self.embedder.encode(texts, batch_size=self.encode_batch_size), dtype=np.float32
            )
        if block.shape != (len(texts), EMBEDDING_DIM):
            raise ValueError(
                f"embedder returned shape {block.shape} for {len(texts)} texts "
                f"(expected {(len(texts), EMBEDDING_DIM)})"
            )
        if not np.isfinite(block).all():
            raise ValueError("embedder returned a non-finite vector")
        return block

    def _write(
        self,
        connection: psycopg.Connection[Any],
        batch: _Batch,
        vectors: list[np.ndarray | None],
    ) -> list[int]:
        """Upsert the new embeddings and complete the settled jobs in one transaction."""
        encoded = [
            (item, vector)
            for item, vector in zip(batch.to_encode, vectors, strict=True)
            if vector is not None
        ]
        done = [job.id for job in batch.jobs if job.id not in batch.failures]
        for attempt in range(2):
            try:
                with connection.transaction(), connection.cursor() as cursor:
                    upsert_embeddings(
                        cursor, self.embedder.name,
                        [item for item, _ in encoded], [vector for _, vector in encoded],
                    )
                    completed = queue.complete(cursor, self.worker_id, done)
                break
            except errors.ForeignKeyViolation:
                # A message was deleted between the write's snapshot and its check:
                # the retry's snapshot no longer sees it.
                if attempt == 1:
                    raise
        with self._lock:
            self.stats.batches += 1
            self.stats.jobs_completed += completed
            self.stats.messages_embedded += len(encoded)
            self.stats.messages_skipped += batch.skipped
            self._advance(completed)
        return done

    def _record_failures(self, connection: psycopg.Connection[Any], batch: _Batch) -> None:
        if not batch.failures:
            return
        by_id = {job.id: job for job in batch.jobs}
        failures = [(by_id[job_id], error) for job_id, error in batch.failures.items()]
        result = queue.fail(connection, self.worker_id, failures, self.backoff)
        for job_id in result.failed:
            log.warning("job %s failed for good: %s", job_id, batch.failures[job_id])
        with self._lock:
            self.stats.jobs_failed += len(result.failed)
            self.stats.jobs_retried += len(result.pending)
            self.stats.jobs_completed += len(result.superseded)
            self._advance(len(result.failed) + len(result.superseded))

    def _release(self, connection: psycopg.Connection[Any], job_ids: set[int]) -> None:
        if not job_ids:
            return
        result = queue.release(connection, self.worker_id, sorted(job_ids))
        with self._lock:
            self.stats.jobs_released += len(result.pending) + len(result.superseded)

    # -- heartbeat and wake-up threads ---------------------------------------------------
    def _heartbeat_loop(self, done: threading.Event) -> None:
        """Extend our leases and record the heartbeat every `heartbeat_seconds`."""
        connection: psycopg.Connection[Any] | None = None
        try:
            while not done.wait(self.heartbeat_seconds):
                try:
                    if connection is None or connection.closed:
                        connection = self.database.connect(autocommit=True)
                    queue.extend_leases(connection, self.worker_id,
                                        lease_seconds=self.lease_seconds)
                    self._beat_once(connection)
                except psycopg.Error as error:
                    log.warning("worker %s heartbeat failed: %s", self.worker_id, error)
                    if connection is not None:
                        connection.close()
                    connection = None
        finally:
            if connection is not None:
                connection.close()

    def _beat_once(self, connection: psycopg.Connection[Any] | None) -> None:
        """Write this worker's heartbeat row (on a connection of its own when none is
        given, and then also forget workers silent for a day)."""
        value = Jsonb(self._heartbeat_value())
        key = HEARTBEAT_PREFIX + self.worker_id
        if connection is not None:
            connection.execute(HEARTBEAT_SQL, {"key": key, "value": value})
            return
        with self.database.connect(autocommit=True) as own:
            own.execute(HEARTBEAT_SQL, {"key": key, "value": value})
            own.execute(PRUNE_HEARTBEATS_SQL, {
                "pattern": HEARTBEAT_PREFIX + "%", "retention": HEARTBEAT_RETENTION,
            })

    def _heartbeat_value(self) -> dict[str, Any]:
        with self._lock:
            return {
                "worker_id": self.worker_id,
                "host": self.host,
                "pid": os.getpid(),
                "started_at": self.started_at,
                "last_beat": _utc_now(),
                "jobs_done": self.stats.jobs_done,
                "state": self.stats.state,
                "heartbeat_seconds": self.heartbeat_seconds,
            }

    def _listen_loop(self, done: threading.Event, listening: threading.Event) -> None:
        """LISTEN on `dovos_jobs` and wake the loops on each notification; reconnect on
        errors (the loops poll every `poll_seconds` meanwhile)."""
        while not done.is_set():
            try:
                with self.database.connect(autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    listening.set()
                    self._wake.set()  # jobs enqueued before LISTEN took effect
                    while not done.is_set():
                        for _ in connection.notifies(timeout=0.25):
                            self._wake.set()
            except psycopg.Error as error:
                log.warning("worker %s cannot listen (%s); polling every %.1fs",
                            self.worker_id, error, self.poll_seconds)
            finally:
                listening.clear()
            done.wait(max(self.poll_seconds, 1.0))

    # -- signals, state, progress --------------------------------------------------------
    @contextmanager
    def _signal_handlers(self) -> Iterator[None]:
        """In the main thread: first SIGINT/SIGTERM finishes the batch, second aborts."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def handle(signum: int, _frame: Any) -> None:
            if not self._stop.is_set():
                log.warning("worker %s: finishing the current batch (again to abort)",
                            self.worker_id)
                self.stop()
                return
            self._interrupted = True
            self.stop(abort=True)

        for sig in previous:
            signal.signal(sig, handle)
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _enter_busy(self) -> None:
        with self._lock:
            self._busy_loops += 1
            self.stats.state = "running"

    def _leave_busy(self) -> None:
        with self._lock:
            self._busy_loops -= 1

    def _set_state(self, state: str) -> None:
        with self._lock:
            if state == "idle" and self._busy_loops:
                return
            self.stats.state = state
            if self._bar is not None and self.progress:
                self._bar.set_postfix_str(state, refresh=False)

    def _advance(self, jobs: int) -> None:
        """Move the progress bar (caller holds the lock)."""
        if self._bar is not None and jobs:
            if self._bar.total is not None and self._bar.n + jobs > self._bar.total:
                self._bar.total = self._bar.n + jobs
            self._bar.update(jobs)

    def _grow_total(self, live: int) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.total = max(self._bar.total or 0, self._bar.n + live)
                self._bar.refresh()


class WorkerHandle:
    """A worker running in a background thread: `stop()`, `join()`, live `stats`."""

    def __init__(self, worker: Worker, until_empty: bool) -> None:
        self.worker = worker
        self.result: WorkerStats | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._target, args=(until_empty,), daemon=True,
                                       name=f"dovos-worker-{worker.worker_id}")

    def _target(self, until_empty: bool) -> None:
        try:
            self.result = self.worker.run(until_empty=until_empty)
        except BaseException as error:  # noqa: BLE001 - re-raised by join()
            self.error = error

    @property
    def stats(self) -> WorkerStats:
        return self.worker.stats

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def stop(self, *, abort: bool = False) -> None:
        """Ask the worker to finish its batch and exit; returns at once (then `join()`)."""
        self.worker.stop(abort=abort)

    def join(self, timeout: float | None = None) -> WorkerStats | None:
        """Wait for the worker; its statistics, or None if still running after `timeout`.
        Re-raises the error the worker stopped on."""
        self.thread.join(timeout)
        if self.thread.is_alive():
            return None
        if self.error is not None:
            raise self.error
        return self.result

    def __repr__(self) -> str:
        state = "running" if self.running else "finished"
        return (f"<WorkerHandle {self.worker.worker_id} {state}: "
                f"{self.stats.jobs_done} jobs done, state {self.stats.state}>")


# -- plain calls for `dovos jobs` and the API's health endpoint ---------------------------
def worker_heartbeats(database: Database | None = None) -> list[WorkerHeartbeat]:
    """Every worker's last heartbeat; `alive` when it beat within a few intervals and has
    not stopped. Ages come from the database clock, so hosts need not agree on time."""
    database = database or get_database()
    with database.engine.connect() as connection:
        rows = connection.execute(
            text(HEARTBEATS_SQL), {"pattern": HEARTBEAT_PREFIX + "%"}
        ).all()
    return [_heartbeat(value, float(age)) for _key, value, age in rows]


def _heartbeat(value: dict[str, Any], age: float) -> WorkerHeartbeat:
    interval = float(value.get("heartbeat_seconds") or DEFAULT_HEARTBEAT_SECONDS)
    state = str(value.get("state", "unknown"))
    return WorkerHeartbeat(
        worker_id=str(value.get("worker_id", "")),
        host=str(value.get("host", "")),
        pid=int(value.get("pid", 0)),
        started_at=str(value.get("started_at", "")),
        last_beat=str(value.get("last_beat", "")),
        jobs_done=int(value.get("jobs_done", 0)),
        state=state,
        heartbeat_seconds=interval,
        age_seconds=round(age, 3),
        alive=state != "stopped" and age <= ALIVE_INTERVALS * interval,
    )


def queue_report(database: Database | None = None, *, failed_limit: int = 20) -> QueueReport:
    """Counts by status, the most recent failed jobs and the worker heartbeats."""
    database = database or get_database()
    with database.connect(autocommit=True) as connection:
        counts = queue.counts(connection)
        failed = queue.failed_jobs(connection, failed_limit)
    return QueueReport(counts, failed, worker_heartbeats(database))


def retry_failed(
    database: Database | None = None, job_ids: Sequence[int] | None = None
) -> queue.RequeueResult:
    """Requeue failed jobs (all, or `job_ids`) with a fresh attempt budget."""
    database = database or get_database()
    with database.connect(autocommit=True) as connection:
        return queue.retry_failed(connection, job_ids)


# -- helpers ------------------------------------------------------------------------------
_encode_locks: dict[int, threading.Lock] = {}
_encode_locks_guard = threading.Lock()


def _encode_lock(embedder: Embedder) -> threading.Lock:
    """One lock per embedder object: loops (and workers) sharing a model take turns, as
    a fast tokenizer must not be used from two threads at once and torch already uses
    every core for one call."""
    with _encode_locks_guard:
        return _encode_locks.setdefault(id(embedder), threading.Lock())


def _register_vector(connection: psycopg.Connection[Any]) -> None:
    from pgvector.psycopg import register_vector

    register_vector(connection)


def _message_id(payload: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(payload["message_id"]))
    except (KeyError, TypeError, ValueError):
        return None


def _join_interruptibly(threads: list[threading.Thread], worker: Worker) -> None:
    """Wait for the loops; a KeyboardInterrupt here aborts them (batches released)."""
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    except BaseException:
        worker._interrupted = True
        worker.stop(abort=True)
        for thread in threads:
            thread.join()
        raise


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if value <= 0:
            raise ValueError(f"{name} must be > 0 (got {value})")


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
