"""The one percentile definition every latency figure uses (benchmarks, notebooks, bench).

Percentiles are numpy's default, method "linear" (Hyndman & Fan type 7, also R's and
Excel's PERCENTILE.INC default): the sorted samples x[0..n-1] are placed at positions
0..n-1 and the q-th percentile is read off the straight line between the two samples
around position (n - 1) * q / 100. The 50th percentile is therefore the ordinary median
(the mean of the two middle samples when n is even). One definition matters because
p95 of 50 samples differs by several percent between linear interpolation and
nearest-rank, enough to look like a regression when two figures are compared.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

METHOD = "linear"  # numpy's default, Hyndman & Fan type 7


def percentile(samples: Iterable[float], q: float) -> float:
    """The `q`-th percentile (0..100) of `samples`, numpy "linear" (type 7)."""
    values = np.asarray(list(samples), dtype=float)
    if values.size == 0:
        raise ValueError(f"no samples to take the {q}th percentile of")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} is outside 0..100")
    return float(np.percentile(values, q, method=METHOD))


def median(samples: Iterable[float]) -> float:
    """The 50th percentile under the same definition (the ordinary median)."""
    return percentile(samples, 50.0)


def latency_summary(samples_ms: Iterable[float]) -> dict[str, float]:
    """p50, p95 and mean of latency samples in milliseconds, and how many there were."""
    values = [float(value) for value in samples_ms]
    return {
        "p50_ms": percentile(values, 50.0),
        "p95_ms": percentile(values, 95.0),
        "mean_ms": float(np.mean(values)),
        "n": len(values),
    }
