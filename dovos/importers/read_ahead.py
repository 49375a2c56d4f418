"""Produce the next items of an iterator in a background thread, a bounded number ahead.

An import spends its time in two places that can run at once: Python reading, parsing
and cleaning the export, and the database backend computing each message's tsvector
and index entries while the batch is written. `read_ahead` parses the next batch in a
thread while the caller's thread writes the current one (the waiting on the server
releases the GIL), so the two overlap instead of taking turns.

    with read_ahead(batches(conversations), depth=1) as items:
        for batch in items:
            writer.write(batch)

At most `depth` finished items wait in the queue (plus the one being produced and the
one the caller holds), so memory stays bounded. An exception in the producer (a
malformed conversation) is raised in the caller's thread at the point where that item
would have come, so the caller's transaction rolls back as it would have without the
thread. When the caller stops early (an error, Ctrl-C, a lost connection), leaving the
block stops the producer and waits for it: no thread outlives the block, and the file
it reads can be closed safely afterwards.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

_POLL_SECONDS = 0.1  # how often a producer blocked on a full queue checks for a stop
_END = object()


class _Failed:
    """An exception raised by the producer, carried to the consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


@contextmanager
def read_ahead(items: Iterable[T], depth: int = 1, name: str = "dovos-read-ahead"
               ) -> Iterator[Iterator[T]]:
    """`items`, iterated in a thread up to `depth` items ahead (`depth` 0: no thread)."""
    if depth <= 0:
        yield iter(items)
        return
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    thread = threading.Thread(target=_produce, args=(items, ready, stop), name=name,
                              daemon=True)
    thread.start()
    try:
        yield _consume(ready)
    finally:
        stop.set()
        thread.join()


def _produce(items: Iterable[T], ready: queue.Queue[object], stop: threading.Event) -> None:
    try:
        for item in items:
            if not _put(ready, item, stop):
                return
        _put(ready, _END, stop)
    except BaseException as error:  # noqa: BLE001 - carried to the consumer, raised there
        _put(ready, _Failed(error), stop)


def _put(ready: queue.Queue[object], value: object, stop: threading.Event) -> bool:
    """Queue `value`, waiting for room; False when the consumer has stopped."""
    while not stop.is_set():
        try:
            ready.put(value, timeout=_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False


def _consume(ready: queue.Queue[object]) -> Iterator[T]:
    while True:
        value = ready.get()
        if value is _END:
            return
        if isinstance(value, _Failed):
            raise value.error
        yield value  # type: ignore[misc]
