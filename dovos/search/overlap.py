"""Run one short piece of work on a thread while the caller's thread does another.

A hybrid search embeds its query (~25 ms of one core) while the lexical leg runs in
the PostgreSQL backend, another process (issue 16). The caller's thread keeps the
database connection, so the connection is only ever used by one thread; the other
thread only encodes. psycopg and torch release the GIL while they wait or compute.

The thread is joined before `in_background` returns, whatever happens: an error, or
Ctrl-C in a notebook (delivered to the caller's thread; psycopg cancels the statement
it was waiting for) waits for the encode to finish (tens of milliseconds) instead of
leaving a thread running after the search is gone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

THREAD_NAME = "dovos-query-embedding"


@contextmanager
def in_background(work: Callable[[], T]) -> Iterator[Future[T]]:
    """`work()` runs on a new thread while the block runs; its result (or exception)
    is the yielded future's. The block's end joins the thread."""
    future: Future[T] = Future()
    thread = threading.Thread(target=_run, args=(work, future), name=THREAD_NAME, daemon=True)
    thread.start()
    try:
        yield future
    finally:
        thread.join()


def _run(work: Callable[[], T], future: Future[T]) -> None:
    future.set_running_or_notify_cancel()
    try:
        future.set_result(work())
    except BaseException as error:  # noqa: BLE001 - the caller's thread re-raises it
        future.set_exception(error)
