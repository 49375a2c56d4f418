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


def test_sliced_writes_against_a_claim_written_at_once(database, embedder) -> None:
    """Committing work as it is done (slices of 32) against one write per claim, each as
    a ratio to plain encode measured beside it."""
    from dovos.benchmarks.worker import benchmark_conversations, compare_slicing

    locomo = default_locomo_path()
    _, conversations = benchmark_conversations(locomo if locomo.is_file() else None)
    runs = compare_slicing(database, embedder, conversations, repeats=2, slices=8)
    medians = {name: sorted(run.ratio for run in group)[len(group) // 2]
               for name, group in runs.items()}
    print(f"sliced / all at once: {medians['slices of 32'] / medians['all at once']:.3f} "
          f"({medians})")
    assert all(run.messages == runs["all at once"][0].messages
               for group in runs.values() for run in group)
    # a sanity floor, not the aim (no slower): the ratios printed above are the result
    assert medians["slices of 32"] > 0.5 * medians["all at once"]
