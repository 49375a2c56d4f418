"""Retry delays: exponential, capped, jittered upwards by at most the jitter fraction."""

from __future__ import annotations

import random

import pytest

from dovos.queue import Backoff


def test_delay_grows_by_the_factor_until_the_cap() -> None:
    backoff = Backoff(base_seconds=2, factor=3, cap_seconds=50, jitter=0)
    assert [backoff.delay(n) for n in range(1, 6)] == [2, 6, 18, 50, 50]
    assert backoff.delay(10_000) == 50  # no overflow on absurd attempt counts


def test_jitter_spreads_delays_within_its_fraction() -> None:
    backoff = Backoff(base_seconds=10, factor=2, cap_seconds=100, jitter=0.5)
    rng = random.Random(7)
    delays = [backoff.delay(2, rng) for _ in range(200)]
    assert all(20 <= delay <= 30 for delay in delays)
    assert max(delays) - min(delays) > 5  # actually spread, not constant


@pytest.mark.parametrize(
    "arguments", [{"base_seconds": -1}, {"factor": 0.5}, {"jitter": 2}, {"cap_seconds": -3}]
)
def test_invalid_backoff_is_refused(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**arguments)
