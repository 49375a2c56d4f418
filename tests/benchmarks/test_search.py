"""Search quality on LoCoMo dev and search latency (`make bench`): printed tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from dovos.benchmarks.search_latency import (
    archive_latency,
    build_generated_archive,
    generated_query_list,
    locomo_queries,
)
from dovos.benchmarks.search_quality import METRICS, search_quality
from dovos.benchmarks.search_setup import embed_missing, load_locomo_archive

GENERATED_MESSAGES = 100_000


@pytest.mark.benchmark
def test_search_quality_and_latency_on_locomo(database, embedder, locomo_path: Path) -> None:  # type: ignore[no-untyped-def]
    dataset = load_locomo_archive(database, locomo_path)
    assert embed_missing(database, embedder) == dataset.message_count
    figures = search_quality(database, locomo_path, embedder=embedder)
    for protocol in ("per-sample", "whole-archive"):
        for mode in ("lexical", "vector", "hybrid"):
            assert set(figures[protocol][mode]) == set(METRICS)
            assert 0.0 < figures[protocol][mode]["recall@10"] <= 1.0
    latency = archive_latency(database, embedder, locomo_queries(dataset), "LoCoMo dev (per sample)")
    assert latency["hybrid"]["n"] == 200 and 0 < latency["hybrid"]["p50"]


@pytest.mark.benchmark
def test_search_latency_on_generated_archive(database, embedder) -> None:  # type: ignore[no-untyped-def]
    assert build_generated_archive(database, embedder, GENERATED_MESSAGES) == GENERATED_MESSAGES
    figures = archive_latency(
        database, embedder, generated_query_list(200), f"generated archive, {GENERATED_MESSAGES:,} messages"
    )
    assert 0.0 <= figures["hnsw recall@10"] <= 1.0
    assert figures["hybrid"]["p50"] > 0
