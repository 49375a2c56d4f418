"""`read_ahead`: items produced in a thread, a bounded number ahead; errors reach the
consumer in order; leaving the block early leaves no thread behind."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from dovos.importers.read_ahead import read_ahead


def _threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


def _counting(produced: list[int], limit: int | None = None) -> Iterator[int]:
    number = 0
    while limit is None or number < limit:
        produced.append(number)
        yield number
        number += 1


def test_items_arrive_in_order_and_the_thread_ends() -> None:
    with read_ahead(range(100), depth=2, name="t-order") as items:
        assert list(items) == list(range(100))
    assert not _threads("t-order")


def test_the_producer_stays_at_most_depth_plus_one_items_ahead() -> None:
    produced: list[int] = []
    with read_ahead(_counting(produced), depth=2, name="t-bound") as items:
        first = next(items)
        time.sleep(0.5)  # room for the producer to run ahead as far as it can
        # two waiting in the queue, one produced and blocked on the full queue
        assert first == 0 and len(produced) == 4
    assert not _threads("t-bound")


def test_a_producer_error_is_raised_where_its_item_would_have_come() -> None:
    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("item 3 is malformed")

    seen = []
    with pytest.raises(ValueError, match="item 3 is malformed"), \
            read_ahead(failing(), depth=1, name="t-error") as items:
        for item in items:
            seen.append(item)  # noqa: PERF402 - the items before the error
    assert seen == [1, 2]
    assert not _threads("t-error")


def test_a_consumer_that_stops_early_stops_an_endless_producer() -> None:
    produced: list[int] = []
    with pytest.raises(KeyboardInterrupt), \
            read_ahead(_counting(produced), depth=1, name="t-stop") as items:
        for item in items:
            if item == 3:
                raise KeyboardInterrupt
    assert not _threads("t-stop")
    assert len(produced) <= 3 + 3  # bounded: it never ran on after the consumer left


def test_depth_zero_uses_no_thread() -> None:
    before = threading.active_count()
    with read_ahead(iter([1, 2]), depth=0) as items:
        assert threading.active_count() == before
        assert list(items) == [1, 2]
