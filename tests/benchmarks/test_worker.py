"""Worker throughput vs plain model.encode of the same texts (`make bench`)."""

from __future__ import annotations

import pytest

from dovos.benchmarks.worker import AIM_RATIO, run_worker_benchmark
from dovos.regression.run import default_locomo_path

pytestmark = pytest.mark.benchmark


def test_worker_throughput_against_plain_encode(database, embedder) -> None:
    locomo = default_locomo_path()  # generated turns if absent
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
