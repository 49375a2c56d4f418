"""Import throughput against the naive ORM path, and import memory (streaming against
loading the whole file), each measured in the same run (`make bench`)."""

from __future__ import annotations

import pytest

from dovos.benchmarks.import_memory import run_memory_benchmark
from dovos.benchmarks.imports import run_import_benchmark


@pytest.mark.benchmark
def test_import_throughput(database) -> None:  # type: ignore[no-untyped-def]
    for figures in run_import_benchmark(database, messages=50_000):
        # Both paths wrote the same rows: every message once, one pending job each.
        assert figures["messages"] == 50_000
        assert figures["rows_fast"] == figures["rows_naive"] == (50_000, 50_000)


@pytest.mark.benchmark
def test_import_memory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Small sizes here (a 30 MB file, several batches); the 1 GB figure in
    docs/import.md comes from `python -m dovos.benchmarks.import_memory`."""
    figures = run_memory_benchmark(size_mb=0, reference_mb=30, workdir=tmp_path)
    whole, stream = figures["reference"]["whole"], figures["reference"]["stream"]
    assert whole["messages"] == stream["messages"] == figures["reference"]["file"]["messages"]
    # The load-everything path holds the file several times over; the stream a batch.
    assert stream["peak_rss_mb"] < whole["peak_rss_mb"]
