"""Embedding models side by side on one database: the same queries ranked by each
model's vectors (vector and hybrid runs), with the project's significance rule.

    from dovos.evaluation.models import compare_models
    result = compare_models("locomo:PATH", ["all-MiniLM-L6-v2", "all-MiniLM-L6-v2@bf16"])
    result.metrics       # (queryset, run) x metrics; runs are named "<mode>:<model>"
    result.comparison    # each mode: every pair of models, t-test and Fisher p-values
    result.table()       # metrics with "> run" where a run is significantly better

Every model is embedded on the same archive (`prepare_dataset(models=...)`, which queues
what a model lacks and drains it with a worker holding that model), so the runs differ
only in the vectors of their model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dovos.evaluation.metrics import (
    compare_runs,
    default_metrics,
    evaluate_runs,
    significance_table,
)
from dovos.evaluation.pipeline import _choose, check_modes, prepare_dataset
from dovos.evaluation.runs import DEFAULT_DEPTH, RunResult, execute_run


@dataclass
class ModelComparison:
    """Metrics of every (mode, model) run and the model-vs-model tests per mode."""

    dataset: str
    models: list[str]
    modes: list[str]
    metrics: pd.DataFrame  # index (queryset, run), run = "<mode>:<model>"
    comparison: pd.DataFrame  # rows of compare_runs, same mode, two models
    runs: dict[str, dict[str, RunResult]] = field(default_factory=dict)
    drains: dict[str, Any] = field(default_factory=dict)

    def table(self, queryset: str | None = None) -> pd.DataFrame:
        """One query set's metrics with significance markers (default: the first set)."""
        name = queryset or next(iter(self.runs))
        comparison = self.comparison[self.comparison["queryset"] == name]
        return significance_table(self.metrics.loc[name], comparison)


def run_name(mode: str, model: str) -> str:
    """A run's name: mode and model (no whitespace, as TREC run files need)."""
    return f"{mode}:{model}"


def compare_models(
    spec: str,
    models: list[str],
    modes: list[str] | tuple[str, ...] = ("vector", "hybrid"),
    k: int = 10,
    *,
    database: Any = None,
    querysets: list[str] | None = None,
    max_queries: int = 0,
    depth: int = DEFAULT_DEPTH,
    params: dict[str, Any] | None = None,
    progress: bool = True,
) -> ModelComparison:
    """Embed `spec` with every model of `models` (storage names), run each mode with each
    model and test every pair of models within a mode (metrics.significance: t-test and
    Fisher both p < 0.05)."""
    from dovos.embeddings import embedder_named

    check_modes(list(modes))
    if len(set(models)) < 2:
        raise ValueError(f"compare at least two distinct models, got {models}")
    prepared = prepare_dataset(spec, database, embedder=embedder_named(models[0]),
                               models=list(models[1:]), progress=progress)
    metric_names = default_metrics(k)
    frames, comparisons, all_runs = [], [], {}
    for name, queryset in _choose(prepared.dataset, querysets).items():
        judged = queryset.judged()
        if max_queries:
            judged = judged.head(max_queries)
        results = {
            run_name(mode, model): execute_run(
                prepared.service, judged, mode, depth=max(depth, k), params=params,
                name=run_name(mode, model), progress=progress, model=model)
            for mode in modes for model in models
        }
        runs = {key: result.run for key, result in results.items()}
        frames.append(evaluate_runs(judged, runs, metric_names).assign(queryset=name))
        for mode in modes:
            same_mode = {key: run for key, run in runs.items() if key.startswith(f"{mode}:")}
            comparisons.append(
                compare_runs(judged, same_mode, metric_names).assign(queryset=name, mode=mode))
        all_runs[name] = results
    metrics = pd.concat(frames).reset_index().set_index(["queryset", "run"])
    comparison = pd.concat(comparisons, ignore_index=True)
    return ModelComparison(prepared.dataset.name, list(models), list(modes), metrics,
                           comparison, all_runs,
                           {"first": prepared.drain.summary() if prepared.drain else None})
