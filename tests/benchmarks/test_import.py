"""Import throughput against the naive ORM path, measured in the same run (`make bench`)."""

from __future__ import annotations

import pytest

from dovos.benchmarks.imports import run_import_benchmark


@pytest.mark.benchmark
def test_import_throughput(database) -> None:  # type: ignore[no-untyped-def]
    for figures in run_import_benchmark(database, messages=50_000):
        # Both paths wrote the same rows: every message once, one pending job each.
        assert figures["messages"] == 50_000
        assert figures["rows_fast"] == figures["rows_naive"] == (50_000, 50_000)
