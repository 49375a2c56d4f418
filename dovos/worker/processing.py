"""Processing one claim: read what is stale, encode it slice by slice, write each slice.

    claimed jobs -> read stored versions (per model) and current texts (one transaction)
    -> per model: sort its stale texts by length, cut them into slices of `slice_size`
    -> per slice: encode (halving on a failing text) -> upsert the embeddings and
       complete the jobs whose last stale model this was (one transaction)
    -> failures back with backoff

With several models (DOVOS_EMBEDDING_MODELS) a message is stale for each model that has
no embedding of it at its current text and context and at the current recipe of what is
embedded (`EmbeddingInput.key`: recipe, message version, context version; see
dovos/search/document_text.py); its job completes once every stale model has written
it, and a model already current for it is not encoded again. An embedding of an older
recipe keeps serving search until the write that replaces it.

Jobs whose message is already embedded at its current input, or was deleted, complete
with the first slice. Sorting by length before slicing keeps each model batch as
homogeneous as `model.encode` makes it over the whole claim, so slicing costs one small
transaction per slice and no encoding speed. A crash loses at most the slice being
encoded: everything written before it is committed, and the rest of the claim comes back
when its lease expires.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
from psycopg import errors

from dovos import queue
from dovos.embeddings import Embedder
from dovos.repositories.embeddings import stored_versions, upsert_embeddings
from dovos.search.document_text import EmbeddingInput, fetch_embedding_inputs
from dovos.worker.connection import Cancelled, Link
from dovos.worker.progress import Progress

log = logging.getLogger("dovos.worker")


@dataclass
class Batch:
    """One claim: per model the texts to encode (longest first), the jobs of each
    message, how many models each message still waits for, the jobs that need no
    encoding, and the failures found so far (job id -> error)."""

    jobs: list[queue.ClaimedJob]
    to_encode: dict[int, list[EmbeddingInput]] = field(default_factory=dict)  # by embedder
    jobs_by_message: dict[uuid.UUID, list[queue.ClaimedJob]] = field(default_factory=dict)
    waiting: dict[uuid.UUID, int] = field(default_factory=dict)  # stale models left
    failed_messages: set[uuid.UUID] = field(default_factory=set)
    free_jobs: list[int] = field(default_factory=list)  # complete without encoding
    skipped: int = 0
    failures: dict[int, str] = field(default_factory=dict)

    def slices(self, size: int) -> list[tuple[int, list[EmbeddingInput]]]:
        """(embedder index, texts) in groups of `size`, model after model; at least one
        (maybe empty) group, so the jobs that need no encoding are settled by the first
        write."""
        groups = [(index, items[i:i + size]) for index, items in self.to_encode.items()
                  for i in range(0, len(items), size)]
        return groups or [(0, [])]


class Processor:
    """Turns a claim into embeddings; shared by a worker's loops (one lock per model).

    `embedders` are the models written, each under its storage name (`Embedder.name`).
    """

    def __init__(
        self,
        embedders: Embedder | Sequence[Embedder],
        *,
        worker_id: str,
        encode_batch_size: int,
        slice_size: int,
        backoff: queue.Backoff,
        abort: threading.Event,
        progress: Progress,
    ) -> None:
        self.embedders: list[Embedder] = (
            [embedders] if isinstance(embedders, Embedder) else list(embedders))
        if not self.embedders:
            raise ValueError("a processor needs at least one embedder")
        names = [embedder.name for embedder in self.embedders]
        if len(set(names)) != len(names):
            raise ValueError(f"embedders must have distinct names, got {names}")
        self.worker_id = worker_id
        self.encode_batch_size = encode_batch_size
        self.slice_size = slice_size
        self.backoff = backoff
        self.abort = abort
        self.progress = progress

    def process(self, link: Link, jobs: list[queue.ClaimedJob]) -> None:
        """Embed one claim slice by slice; on abort or error the unsettled jobs go back."""
        unsettled = {job.id for job in jobs}
        self.progress.enter_busy()
        try:
            batch = link.run(lambda connection: self.read(connection, jobs))
            for number, (model, inputs) in enumerate(batch.slices(self.slice_size)):
                if self.abort.is_set():
                    raise Cancelled
                vectors, failed = self.encode(inputs, model)
                if self.abort.is_set():
                    raise Cancelled
                failed_ids = {inputs[index].message_id for index in failed}
                failures = {job.id: error for index, error in failed.items()
                            for job in batch.jobs_by_message[inputs[index].message_id]
                            if inputs[index].message_id not in batch.failed_messages}
                batch.failed_messages |= failed_ids
                if number == 0:
                    failures.update(batch.failures)
                done = self._job_ids(batch, inputs, first=number == 0) - failures.keys()
                encoded = [(item, vector) for item, vector in zip(inputs, vectors, strict=True)
                           if vector is not None]
                link.run(lambda connection, e=encoded, d=done, m=model:
                         self.write(connection, e, d, m))
                unsettled -= done
                self._record_failures(link, batch, failures)
                unsettled -= failures.keys()
                self.progress.add(slices=1, messages_embedded=len(encoded))
            self.progress.add(batches=1, messages_skipped=batch.skipped)
        except Cancelled:
            with suppress(Exception, Cancelled):
                self._release(link, unsettled)
        except BaseException:
            with suppress(Exception, Cancelled):
                self._release(link, unsettled)
            raise
        finally:
            self.progress.leave_busy()

    # -- the steps (each safe to run again after a lost connection) ------------------------
    def read(self, connection: psycopg.Connection[Any], jobs: list[queue.ClaimedJob]) -> Batch:
        """Map jobs to messages; fetch stored versions and current texts; keep the stale."""
        batch = Batch(jobs)
        for job in jobs:
            message_id = _message_id(job.payload)
            if message_id is None:
                batch.failures[job.id] = f"payload has no valid message_id: {job.payload!r}"
            else:
                batch.jobs_by_message.setdefault(message_id, []).append(job)
        ids = list(batch.jobs_by_message)
        with connection.transaction(), connection.cursor() as cursor:
            stored = [stored_versions(cursor, embedder.name, ids) if ids else {}
                      for embedder in self.embedders]
            inputs = fetch_embedding_inputs(cursor, ids) if ids else []
        current = set()
        for item in inputs:
            current.add(item.message_id)
            stale = [index for index, keys in enumerate(stored)
                     if keys.get(item.message_id, (0, 0, 0)) < item.key]
            if not stale:
                batch.skipped += 1
                batch.free_jobs += [job.id for job in batch.jobs_by_message[item.message_id]]
                continue
            batch.waiting[item.message_id] = len(stale)
            for index in stale:
                batch.to_encode.setdefault(index, []).append(item)
        for message_id, message_jobs in batch.jobs_by_message.items():
            if message_id not in current:  # deleted: nothing to embed
                batch.skipped += 1
                batch.free_jobs += [job.id for job in message_jobs]
        for items in batch.to_encode.values():
            items.sort(key=lambda item: len(item.text), reverse=True)
        return batch

    def write(
        self,
        connection: psycopg.Connection[Any],
        encoded: Sequence[tuple[EmbeddingInput, np.ndarray]],
        done: set[int],
        model: int = 0,
    ) -> None:
        """Upsert a slice's embeddings (by embedder `model`) and complete its settled
        jobs in one transaction."""
        for attempt in range(2):
            try:
                with connection.transaction(), connection.cursor() as cursor:
                    upsert_embeddings(cursor, self.embedders[model].name,
                                      [item for item, _ in encoded],
                                      [vector for _, vector in encoded])
                    completed = queue.complete(cursor, self.worker_id, sorted(done))
                break
            except errors.ForeignKeyViolation:
                # A message was deleted between the write's snapshot and its check:
                # the retry's snapshot no longer sees it.
                if attempt == 1:
                    raise
        self.progress.add(jobs_completed=completed, advance=completed)

    def encode(self, inputs: Sequence[EmbeddingInput], model: int = 0
               ) -> tuple[list[np.ndarray | None], dict[int, str]]:
        """Encode the texts with embedder `model`; when a call fails, halve the batch to
        find the texts that fail on their own, so one poison message does not fail its
        neighbours."""
        embedder = self.embedders[model]
        texts = [item.text for item in inputs]
        vectors: list[np.ndarray | None] = [None] * len(texts)
        failures: dict[int, str] = {}
        started = time.perf_counter()

        def encode_range(low: int, high: int) -> None:
            try:
                block = self._encode_checked(embedder, texts[low:high])
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
        self.progress.add(encode_seconds=time.perf_counter() - started)
        return vectors, failures

    def _encode_checked(self, embedder: Embedder, texts: list[str]) -> np.ndarray:
        with encode_lock(embedder):
            if self.abort.is_set():  # aborted while a sibling loop held the model
                raise Cancelled
            block = np.asarray(
                embedder.encode(texts, batch_size=self.encode_batch_size), dtype=np.float32
            )
        if block.shape != (len(texts), embedder.dim):
            raise ValueError(
                f"embedder {embedder.name!r} returned shape {block.shape} for {len(texts)} "
                f"texts (expected {(len(texts), embedder.dim)})"
            )
        if not np.isfinite(block).all():
            raise ValueError("embedder returned a non-finite vector")
        return block

    def _record_failures(self, link: Link, batch: Batch, failures: dict[int, str]) -> None:
        if not failures:
            return
        by_id = {job.id: job for job in batch.jobs}
        pairs = [(by_id[job_id], error) for job_id, error in failures.items()]
        result = link.run(
            lambda connection: queue.fail(connection, self.worker_id, pairs, self.backoff))
        for job_id in result.failed:
            log.warning("job %s failed for good: %s", job_id, failures[job_id])
        self.progress.add(jobs_failed=len(result.failed), jobs_retried=len(result.pending),
                          jobs_completed=len(result.superseded),
                          advance=len(result.failed) + len(result.superseded))

    def _release(self, link: Link, job_ids: set[int]) -> None:
        if not job_ids:
            return
        result = link.run(
            lambda connection: queue.release(connection, self.worker_id, sorted(job_ids)))
        self.progress.add(jobs_released=len(result.pending) + len(result.superseded))

    @staticmethod
    def _job_ids(batch: Batch, inputs: Sequence[EmbeddingInput], *, first: bool) -> set[int]:
        """The jobs a slice settles: those of its messages that no other model still
        waits for and that did not fail (and, first, the free ones)."""
        ids = set()
        for item in inputs:
            batch.waiting[item.message_id] -= 1
            if batch.waiting[item.message_id] == 0 and \
                    item.message_id not in batch.failed_messages:
                ids |= {job.id for job in batch.jobs_by_message[item.message_id]}
        return ids | set(batch.free_jobs) if first else ids


_encode_locks: dict[int, threading.Lock] = {}
_encode_locks_guard = threading.Lock()


def encode_lock(embedder: Embedder) -> threading.Lock:
    """One lock per embedder object: loops (and workers) sharing a model take turns, as
    a fast tokenizer must not be used from two threads at once and torch already uses
    every core for one call."""
    with _encode_locks_guard:
        return _encode_locks.setdefault(id(embedder), threading.Lock())


def register_vector(connection: psycopg.Connection[Any]) -> None:
    """pgvector's types on a connection that writes embeddings."""
    from pgvector.psycopg import register_vector as register

    register(connection)


def _message_id(payload: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(payload["message_id"]))
    except (KeyError, TypeError, ValueError):
        return None
