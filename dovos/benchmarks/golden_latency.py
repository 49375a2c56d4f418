"""Latency against the legacy system's golden baselines, as DataFrames and a plot.

Two views, both p50/p95 in milliseconds next to the baseline of CONTRACT.md:

- `mode_latency`: the search service per mode (lexical, vector, hybrid) on the queries
  of a query set, in process; the reference is the legacy `GET /api/search` (200 ms),
  the endpoint these searches serve;
- `api_latency`: every contract endpoint through a real uvicorn server on loopback,
  from `dovos.benchmarks.api.run_api_benchmark` (which also times the same calls
  in process, the reference measured in the same run).

Each search is timed with a warm model and a fresh query (no query-vector cache hit),
so a vector or hybrid search pays for embedding its query. Percentiles are
`dovos.evaluation.stats` (numpy linear, type 7), as everywhere else. This module is a
benchmark (it drives the API benchmark), so it lives above the evaluation layer; the
latency notebook imports it from here.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from dovos.evaluation.querysets import QuerySet
from dovos.evaluation.stats import latency_summary

SEARCH_BASELINE_MS = 200.0  # CONTRACT.md: GET /api/search, ~0.2 s for 5 results


def mode_latency(
    service: Any,
    queryset: QuerySet,
    modes: list[str] | tuple[str, ...] = ("lexical", "vector", "hybrid"),
    *,
    k: int = 10,
    max_queries: int = 50,
    warmup: int = 3,
) -> pd.DataFrame:
    """p50/p95 per mode of `service.search` over the first `max_queries` queries."""
    queries = queryset.queries[:max_queries] if max_queries else queryset.queries
    if not queries:
        raise ValueError(f"query set {queryset.name!r} has no queries to time")
    rows = []
    for query in queries[:warmup]:  # load the model, warm the caches and the pool
        service.search(query.text, mode="hybrid", k=k, filters=queryset.search_filters(query))
    for mode in modes:
        timings = _time_mode(service, queryset, queries, mode, k)
        rows.append(
            {
                "endpoint": f"search ({mode})",
                "mode": mode,
                **_summary(timings),
                "legacy_ms": SEARCH_BASELINE_MS,
            }
        )
    return _with_speedups(pd.DataFrame(rows))


def _time_mode(
    service: Any, queryset: QuerySet, queries: list[Any], mode: str, k: int
) -> list[float]:
    """Milliseconds per search; each query text is new to the query-vector cache."""
    timings = []
    for index, query in enumerate(queries):
        text = f"{query.text} ({mode} {index})"
        started = time.perf_counter()
        service.search(text, mode=mode, k=k, filters=queryset.search_filters(query))
        timings.append((time.perf_counter() - started) * 1000.0)
    return timings


def api_latency(database: Any, requests: int = 50, progress: bool = False) -> pd.DataFrame:
    """Every contract endpoint through a real server (dovos.benchmarks.api, imported here
    because it needs the API extra while `mode_latency` does not)."""
    from dovos.benchmarks.api import run_api_benchmark

    benchmark = run_api_benchmark(database, requests=requests, progress=progress)
    frame = pd.DataFrame(benchmark.rows())
    frame["mode"] = "api"
    return _with_speedups(frame)


def _summary(timings: list[float]) -> dict[str, float]:
    """requests, p50_ms, p95_ms and mean_ms of one mode's timings."""
    summary = latency_summary(timings)
    return {"requests": summary.pop("n"), **summary}


def _with_speedups(frame: pd.DataFrame) -> pd.DataFrame:
    frame["speedup_p50"] = frame["legacy_ms"] / frame["p50_ms"]
    frame["speedup_p95"] = frame["legacy_ms"] / frame["p95_ms"]
    return frame
