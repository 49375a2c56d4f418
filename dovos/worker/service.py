"""The worker: the threads of a run, its claim loops, and how it stops.

A run loads the models (`embedders`, default every configured one:
`dovos.embeddings.configured_models`), registers each with its own HNSW index
(`dovos.repositories.embeddings.ensure_model`), then starts `concurrency` claim loops
(sharing the models, so one
loop's database work overlaps another's encoding), a heartbeat thread and, with `listen`,
a listener thread. Each loop claims up to `batch_size` jobs (expired leases first, SKIP
LOCKED: `dovos.queue`) and hands them to the `Processor`, which writes them slice by
slice. SIGINT/SIGTERM (in the main thread) or `stop()` finish the claim in hand and exit;
a second signal or `stop(abort=True)` gives the unwritten part back. When the database
goes away every thread waits for it (`dovos.worker.connection`) and carries on.
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
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg

from dovos import queue
from dovos.db import Database, get_database
from dovos.embeddings import Embedder, configured_models, embedder_named
from dovos.repositories.embeddings import ensure_model
from dovos.worker.connection import Availability, Cancelled, Link
from dovos.worker.defaults import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONCURRENCY,
    DEFAULT_ENCODE_BATCH_SIZE,
    DEFAULT_HEARTBEAT_SECONDS,
    DEFAULT_LEASE_SECONDS,
    DEFAULT_POLL_SECONDS,
    DEFAULT_SLICE_SIZE,
    LISTEN_RECHECK_SECONDS,
)
from dovos.worker.heartbeat import Heartbeat
from dovos.worker.processing import Processor, encode_lock, register_vector
from dovos.worker.progress import Progress, WorkerStats
from dovos.worker.wakeup import listen

if TYPE_CHECKING:
    from dovos.worker.handle import WorkerHandle

log = logging.getLogger("dovos.worker")


class Worker:
    """Embeds messages for `embed_message` jobs until stopped (or the queue is empty).

    `batch_size` jobs are claimed together and encoded in slices of `slice_size` (sorted
    by length; `encode_batch_size` texts per model call), each slice written and its jobs
    completed as soon as it is encoded; `concurrency` loops share the one model. Leases
    last `lease_seconds` and are renewed every `heartbeat_seconds`; failed attempts come
    back after `backoff`.
    """

    def __init__(
        self,
        database: Database | None = None,
        *,
        embedder: Embedder | None = None,
        embedders: Sequence[Embedder] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE,
        slice_size: int = DEFAULT_SLICE_SIZE,
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
                        slice_size=slice_size, concurrency=concurrency,
                        lease_seconds=lease_seconds, heartbeat_seconds=heartbeat,
                        poll_seconds=poll_seconds)
        if heartbeat >= lease_seconds:
            raise ValueError(
                f"heartbeat_seconds ({heartbeat}) must be shorter than lease_seconds "
                f"({lease_seconds}), or leases expire while the worker is alive"
            )
        self._database = database
        if embedder is not None and embedders is not None:
            raise ValueError("give embedder or embedders, not both")
        self._embedders: list[Embedder] | None = (
            [embedder] if embedder is not None else
            list(embedders) if embedders is not None else None)
        if self._embedders is not None and not self._embedders:
            raise ValueError("embedders must name at least one model")
        self.batch_size = batch_size
        self.encode_batch_size = encode_batch_size
        self.slice_size = slice_size
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
        self._progress = Progress(self.worker_id, show=progress)
        self._availability = Availability(self.worker_id, self._progress)
        self._stop = threading.Event()  # finish the current claim, then exit
        self._abort = threading.Event()  # give the unwritten part back, then exit
        self._wake = threading.Event()  # a job may be claimable
        self._done = threading.Event()  # the loops have ended: helper threads exit
        self._listening = threading.Event()
        self._running = threading.Lock()
        self._error: BaseException | None = None
        self._interrupted = False

    # -- public ---------------------------------------------------------------------------
    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = get_database()
        return self._database

    @property
    def embedders(self) -> list[Embedder]:
        """The models this worker embeds with (the configured ones unless given)."""
        if self._embedders is None:
            self._embedders = [embedder_named(name) for name in configured_models()]
        return self._embedders

    @property
    def embedder(self) -> Embedder:
        """The first model (the one search uses by default)."""
        return self.embedders[0]

    @property
    def stats(self) -> WorkerStats:
        """The current (or last) run's statistics, live while it runs."""
        return self._progress.stats

    @property
    def state(self) -> str:
        """starting, running, idle, reconnecting, stopping or stopped."""
        return self._progress.stats.state

    @property
    def outages(self) -> list[float]:
        """Seconds each database outage of this run lasted, as the worker saw it."""
        return list(self._availability.outages)

    def run(self, until_empty: bool = False) -> WorkerStats:
        """Process jobs until stopped (SIGINT/SIGTERM, `stop()`) or, with `until_empty`,
        until no job is pending or running. Returns the run's statistics.

        Raises KeyboardInterrupt after a second interrupt (the claim in hand is released).
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
        from dovos.worker.handle import WorkerHandle

        handle = WorkerHandle(self, until_empty)
        handle.thread.start()
        return handle

    def stop(self, *, abort: bool = False) -> None:
        """Ask the run to finish its claim and exit (`abort`: give the rest back)."""
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
        heartbeat = Heartbeat(worker_id=self.worker_id, host=self.host,
                              heartbeat_seconds=self.heartbeat_seconds,
                              lease_seconds=self.lease_seconds,
                              snapshot=self._progress.snapshot)
        heartbeat.started_at = datetime.now(UTC)
        processor = Processor(self.embedders, worker_id=self.worker_id,
                              encode_batch_size=self.encode_batch_size,
                              slice_size=self.slice_size, backoff=self.backoff,
                              abort=self._abort, progress=self._progress)
        beat_thread = threading.Thread(
            target=heartbeat.run, args=(self._link(done), done), daemon=True,
            name=f"dovos-heartbeat-{self.worker_id}")
        helpers = [beat_thread]
        if self.listen:
            helpers.append(threading.Thread(
                target=listen, args=(self._link(done),), daemon=True,
                kwargs={"wake": self._wake, "done": done, "listening": listening,
                        "poll_seconds": self.poll_seconds, "worker_id": self.worker_id},
                name=f"dovos-listen-{self.worker_id}"))
        loops = [
            threading.Thread(target=self._loop_guarded, args=(processor, until_empty),
                             daemon=True, name=f"dovos-worker-{self.worker_id}-{index}")
            for index in range(self.concurrency)
        ]
        self._open_progress()
        try:
            heartbeat.beat_and_prune(self.database)
            for thread in helpers + loops:
                thread.start()
            _join_interruptibly(loops, self)
        finally:
            self._progress.set_state("stopping")
            done.set()
            # the last beat ("stopped") must not be overtaken by a periodic one; the
            # listener needs no wait (it sees `done` within a quarter second)
            if beat_thread.ident is not None:
                beat_thread.join(timeout=10)
            self._progress.stats.elapsed_seconds = time.monotonic() - started
            self._progress.set_state("stopped")
            try:
                heartbeat.beat_and_prune(self.database)
            except psycopg.Error as error:
                log.warning("worker %s: last heartbeat not written: %s", self.worker_id, error)
            self._progress.close_bar()
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
        self._progress = Progress(self.worker_id, show=self.progress)
        self._availability = Availability(self.worker_id, self._progress)

    def _link(self, cancel: threading.Event, *, vectors: bool = False) -> Link:
        return Link(self.database, self._availability, cancel,
                    setup=register_vector if vectors else None)

    def _load_model(self) -> None:
        """Load the models before claiming anything (a model that cannot load holds no
        job), then make sure each is registered with its HNSW index: a model stored with
        another dimension stops the run here, before any vector is written."""
        for embedder in self.embedders:
            with encode_lock(embedder):
                shape = np.asarray(embedder.encode(["warm up"], batch_size=1)).shape
            if shape != (1, embedder.dim):
                raise ValueError(
                    f"embedder {embedder.name!r} declares {embedder.dim}-dimensional vectors "
                    f"but made an array of shape {shape}"
                )
        with self.database.connect(autocommit=True) as connection:
            for embedder in self.embedders:
                if ensure_model(connection, embedder.name, int(embedder.dim)):
                    log.info("worker %s: new embedding model %s (%d dimensions), index built",
                             self.worker_id, embedder.name, embedder.dim)

    def _open_progress(self) -> None:
        with self.database.connect(autocommit=True) as connection:
            live = queue.idle_state(connection, self.kinds).live
        self._progress.open_bar(live)

    # -- one loop -------------------------------------------------------------------------
    def _loop_guarded(self, processor: Processor, until_empty: bool) -> None:
        try:
            self._loop(processor, until_empty)
        except Cancelled:
            pass  # aborted while waiting for the database
        except BaseException as error:  # reported by run()
            log.exception("worker %s stopped on an error", self.worker_id)
            with self._progress.lock:
                self._error = self._error or error
            self.stop()
        finally:
            self._wake.set()  # an idle sibling re-checks whether the queue is empty

    def _loop(self, processor: Processor, until_empty: bool) -> None:
        link = self._link(self._abort, vectors=True)
        try:
            while not self._stop.is_set():
                self._wake.clear()
                jobs = link.run(lambda connection: queue.claim(
                    connection, self.worker_id, limit=self.batch_size,
                    lease_seconds=self.lease_seconds, kinds=self.kinds))
                if jobs:
                    processor.process(link, jobs)
                    if until_empty:
                        self._wake.set()
                elif not self._wait_for_work(link, until_empty):
                    return
        finally:
            link.close()

    def _wait_for_work(self, link: Link, until_empty: bool) -> bool:
        """Sleep until a job may be claimable; False when `until_empty` and nothing is left."""
        state = link.run(lambda connection: queue.idle_state(connection, self.kinds))
        self._progress.grow_total(state.live)
        if until_empty and state.live == 0:
            return False
        timeout = LISTEN_RECHECK_SECONDS if self._listening.is_set() else self.poll_seconds
        if state.seconds_until_due is not None:
            timeout = min(timeout, max(state.seconds_until_due + 0.05, 0.05))
        self._progress.set_state("idle")
        self._wake.wait(timeout)
        return True

    # -- signals --------------------------------------------------------------------------
    @contextmanager
    def _signal_handlers(self) -> Iterator[None]:
        """In the main thread: first SIGINT/SIGTERM finishes the claim, second aborts."""
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


def _join_interruptibly(threads: list[threading.Thread], worker: Worker) -> None:
    """Wait for the loops; a KeyboardInterrupt here aborts them (claims released)."""
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
