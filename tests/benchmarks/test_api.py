"""Legacy API latency through a real uvicorn server vs the CONTRACT.md baselines (`make bench`)."""

from __future__ import annotations

import pytest

from dovos.benchmarks.api import (
    GOLDEN_CONVERSATIONS,
    LEGACY_BASELINES_MS,
    build_benchmark_archive,
    run_api_benchmark,
)


@pytest.mark.benchmark
def test_api_latency(database, embedder) -> None:  # type: ignore[no-untyped-def]
    archive = build_benchmark_archive(database, embedder)
    assert archive["conversations"] == GOLDEN_CONVERSATIONS
    assert archive["embedded"] == archive["messages"]  # semantic endpoints really run vectors
    figures = run_api_benchmark(database, requests=60)
    measured = {r.endpoint.split(" (")[0] for r in figures.results}
    assert measured == set(LEGACY_BASELINES_MS)  # every contract endpoint
    for result in figures.results:
        assert result.requests >= 50
        assert 0 < result.p50_ms <= result.p95_ms
