"""Worker throughput vs plain model.encode of the same texts (`make bench`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dovos.benchmarks.worker import AIM_RATIO, run_worker_benchmark

SHARED_DIR = Path(os.environ.get("DOVOS_SHARED_DIR", Path(__file__).resolve().parents[3] / "shared"))

pytestmark = pytest.mark.benchmark


def test_worker_throughput_against_plain_encode(database, embedder) -> None:
    locomo = SHARED_DIR / "datasets" / "locomo" / "locomo10_dev.json"  # generated if absent
    result = run_worker_benchmark(
        database, embedder, locomo_path=locomo if locomo.is_file() else None,
        configs=((256, 32, 2), (256, 32, 1), (64, 32, 1)), repeats=1, slices=8,
    )
    assert all(run.messages == result.messages for run in result.runs)
    medians = result.medians()
    print(f"default configuration (256, 32, 2 loops): ratio {medians[(256, 32, 2)]:.3f} "
          f"(aim {AIM_RATIO})")
    # a sanity floor, not the aim: the figures printed above are the result
    assert medians[(256, 32, 2)] > 0.5
