"""Fusion sliders in memory vs the same fusion through the database (`make bench`)."""

from __future__ import annotations

import pytest

from dovos.benchmarks.evaluation import run_fusion_benchmark

pytestmark = pytest.mark.benchmark


def test_fusion_slider_against_database_reranking(database, embedder) -> None:  # type: ignore[no-untyped-def]
    result = run_fusion_benchmark(database, embedder, "demo", positions=6)
    # The widget shows what the database would rank: the same nDCG@10 at every weight.
    assert result.max_ndcg_difference < 1e-6
    assert result.queries == 104 and result.positions == 6
