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


PROCESS_MESSAGES = 1_000


def test_two_worker_processes_against_one(database) -> None:
    """Throughput of 2 worker processes (own homes, one DATABASE_URL) against 1, on the
    same messages in the same run. On a 2-core machine torch's default already uses both
    cores in one process, so the fair pair is 2 processes x 1 thread against 1 process
    at torch's default (and 1 x 1, the per-process scaling)."""
    from dovos.benchmarks.worker import (
        PROCESS_AIM_RATIO,
        benchmark_conversations,
        compare_worker_processes,
    )

    locomo = default_locomo_path()
    _, conversations = benchmark_conversations(locomo if locomo.is_file() else None)
    taken = []  # whole conversations, about PROCESS_MESSAGES messages: six drains per run
    while conversations and sum(len(c.messages) for c in taken) < PROCESS_MESSAGES:
        taken.append(conversations.pop(0))
    result = compare_worker_processes(database, taken, repeats=2)
    two, one_default, one_single = (2, 1), (1, 0), (1, 1)
    print(f"2 processes / 1 (default threads): {result.ratio(two, one_default):.3f}; "
          f"2 processes / 1 (1 thread): {result.ratio(two, one_single):.3f} "
          f"(aim {PROCESS_AIM_RATIO})")
    assert all(run.messages == result.messages for run in result.runs)
    assert all(min(run.jobs_per_process) > 0 for run in result.runs)  # every process worked
    # a sanity floor, not the aim: the figures printed above are the result
    assert result.ratio(two, one_single) > 0.8
