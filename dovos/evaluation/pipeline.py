"""`dovos eval` as a Python call: prepare a dataset, run the modes, measure, compare.

    from dovos.evaluation.pipeline import evaluate_dataset
    result = evaluate_dataset("demo", modes=["lexical", "vector", "hybrid"], k=10)
    result.metrics        # DataFrame: (query set, run) x metrics
    result.comparison     # DataFrame: every pair of runs, t-test and Fisher p-values,
                          # `significant` under the one rule (metrics.significance)
    result.categories     # DataFrame: metrics per query category

`prepare_dataset` imports the archive only if the database does not hold it yet and
drains the embedding queue with the worker, so vector and hybrid runs see every message.
`evaluate_querysets` is the one quality path: `dovos eval`, the notebooks, `dovos bench`
(dovos.regression) and the LoCoMo quality benchmark (dovos.benchmarks.search_quality)
all compute their figures through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from ranx import Run

from dovos.evaluation.datasets import Dataset, ImportSummary, ensure_imported, resolve_dataset
from dovos.evaluation.drain import DrainLog, drain_queue
from dovos.evaluation.metrics import (
    compare_runs,
    default_metrics,
    evaluate_runs,
    is_significant,
    per_category,
    significance_table,
)
from dovos.evaluation.querysets import QuerySet
from dovos.evaluation.runs import DEFAULT_DEPTH, RunResult, execute_runs, save_runs
from dovos.search.types import MODES, SearchParams


@dataclass
class Prepared:
    """A dataset ready to evaluate: imported, embedded, with a search service."""

    dataset: Dataset
    database: Any
    service: Any
    imported: ImportSummary
    drain: DrainLog | None


def prepare_dataset(
    spec: str | Dataset,
    database: Any = None,
    *,
    embedder: Any = None,
    drain: bool = True,
    progress: bool = True,
    models: list[str] | None = None,
) -> Prepared:
    """Resolve `spec`, import it if needed, drain the queue; return a search service on it.

    `models` (storage names) are embedded too, each after `embedder`'s (default the
    configured one): `dovos.worker.models.add_model` queues what the model lacks and a
    worker with that model drains it, so runs can compare models on one database."""
    from dovos.search.service import SearchService

    if database is None:
        from dovos.db import get_database

        database = get_database()
    dataset = spec if isinstance(spec, Dataset) else resolve_dataset(spec, database)
    imported = ensure_imported(database, dataset, progress=progress)
    drained = drain_queue(database, embedder=embedder, progress=progress) if drain else None
    if drain and (embedder is not None or models):
        from dovos.embeddings import embedder_named
        from dovos.worker.models import add_model

        chosen = [embedder] if embedder is not None else []
        for extra in chosen + [embedder_named(name) for name in models or []]:
            if add_model(extra.name, database, embedder=extra, progress=progress).messages:
                drain_queue(database, embedder=extra, progress=progress)
    return Prepared(dataset, database, SearchService(database, embedder), imported, drained)


@dataclass
class EvalResult:
    """Metrics, significance and per-category tables of one evaluation, plus the runs."""

    dataset: str
    k: int
    metrics: pd.DataFrame  # index (queryset, run), one column per metric
    comparison: pd.DataFrame  # columns queryset, metric, run_a, run_b, ..., p_t-test, p_fisher
    categories: pd.DataFrame  # index (queryset, category, run)
    runs: dict[str, dict[str, RunResult]] = field(default_factory=dict)  # queryset -> mode -> run
    info: dict[str, Any] = field(default_factory=dict)

    def table(self, queryset: str | None = None) -> pd.DataFrame:
        """The metrics of one query set (default: the first) with significance markers."""
        name = queryset or next(iter(self.runs))
        metrics = self.metrics.loc[name]
        comparison = self.comparison[self.comparison["queryset"] == name]
        return significance_table(metrics, comparison)

    def headline(self) -> dict[str, Any]:
        """JSON-ready figures: each set's metrics per run and the hybrid-vs-legs tests."""
        figures: dict[str, Any] = {"dataset": self.dataset, "k": self.k, "querysets": {}}
        for name in self.runs:
            metrics = self.metrics.loc[name]
            comparison = self.comparison[self.comparison["queryset"] == name]
            figures["querysets"][name] = {
                "queries": self.info.get("queries", {}).get(name),
                "metrics": {
                    run: {m: round(float(v), 4) for m, v in row.items()}
                    for run, row in metrics.iterrows()
                },
                "tests": hybrid_tests(comparison, f"ndcg@{self.k}"),
            }
        return figures


def hybrid_tests(comparison: pd.DataFrame, metric: str) -> dict[str, Any]:
    """Hybrid against each single leg on `metric`: difference and both p-values."""
    tests = {}
    for row in comparison[comparison["metric"] == metric].to_dict("records"):
        pair = {row["run_a"], row["run_b"]}
        if "hybrid" not in pair or len(pair) != 2:
            continue
        other = (pair - {"hybrid"}).pop()
        hybrid_first = row["run_a"] == "hybrid"
        hybrid_mean = row["mean_a"] if hybrid_first else row["mean_b"]
        other_mean = row["mean_b"] if hybrid_first else row["mean_a"]
        tests[f"hybrid_vs_{other}"] = {
            "metric": metric,
            "hybrid": round(float(hybrid_mean), 4),
            other: round(float(other_mean), 4),
            "delta": round(float(hybrid_mean - other_mean), 4),
            "p_t_test": float(row["p_t-test"]),
            "p_fisher": float(row["p_fisher"]),
            "significant": bool(row["significant"]),
        }
    return tests


def hybrid_verdict(tests: dict[str, Any]) -> str:
    """One sentence: is hybrid above both single legs, and is each difference significant
    (metrics.significance: both tests below 0.05)?"""
    if not tests:
        return "hybrid was not compared with a single leg"
    parts, above = [], True
    metric = next(iter(tests.values()))["metric"]
    hybrid = next(iter(tests.values()))["hybrid"]
    for key, test in tests.items():
        other = key.removeprefix("hybrid_vs_")
        significant = is_significant(test["p_t_test"], test["p_fisher"])
        above = above and test["delta"] > 0
        parts.append(
            f"{other} {test[other]:.3f} ({test['delta']:+.3f}, t-test p={test['p_t_test']:.2g}, "
            f"Fisher p={test['p_fisher']:.2g}: {'significant' if significant else 'not significant'})"
        )
    legs = " and ".join(parts)
    others = [key.removeprefix("hybrid_vs_") for key in tests]
    compared = "both single legs" if len(others) == 2 else " and ".join(others)
    outcome = f"above {compared}" if above else f"NOT above {compared}"
    return f"hybrid {metric} {hybrid:.3f} vs {legs}: hybrid is {outcome}."


def check_modes(modes: list[str] | tuple[str, ...]) -> None:
    """Raise ValueError naming any mode that is not lexical, vector or hybrid."""
    unknown = sorted(set(modes) - set(MODES))
    if unknown or not modes:
        raise ValueError(f"unknown mode(s) {unknown or modes}; choose from {', '.join(MODES)}")


def evaluate_querysets(
    service: Any,
    querysets: dict[str, QuerySet],
    modes: list[str],
    *,
    k: int = 10,
    depth: int = DEFAULT_DEPTH,
    max_queries: int = 0,
    runs_dir: str | Path | None = None,
    params: SearchParams | dict[str, Any] | None = None,
    metrics: list[str] | None = None,
    compare: bool = True,
    progress: bool = True,
    model: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, dict[str, RunResult]]]:
    """Run `modes` over each query set; (metrics, comparison, categories, runs).

    Every mode runs with the same search `params` (None: the stored defaults) to `depth`
    hits, and is scored on `metrics` (default: `default_metrics(k)`). With `compare`
    False the pairwise tests and the per-category table are skipped (both returned
    empty): a regression gate needs only the means.
    """
    check_modes(modes)
    metrics = list(metrics) if metrics else default_metrics(k)
    frames, comparisons, categories, all_runs = [], [], [], {}
    for name, queryset in querysets.items():
        judged = queryset.judged()
        if max_queries:
            judged = judged.head(max_queries)
        results = execute_runs(
            service, judged, modes, depth=max(depth, k), params=params, progress=progress,
            model=model,
        )
        runs: dict[str, Run] = {mode: result.run for mode, result in results.items()}
        if runs_dir is not None:
            save_runs(runs, Path(runs_dir) / name)
        frames.append(evaluate_runs(judged, runs, metrics).assign(queryset=name))
        if compare and len(runs) > 1:
            comparisons.append(compare_runs(judged, runs, metrics).assign(queryset=name))
        if compare and judged.categories:
            categories.append(per_category(judged, runs, metrics).assign(queryset=name))
        all_runs[name] = results
    metrics_frame = pd.concat(frames).reset_index().set_index(["queryset", "run"])
    comparison = pd.concat(comparisons, ignore_index=True) if comparisons else _empty_comparison()
    category_frame = (
        pd.concat(categories).reset_index().set_index(["queryset", "category", "run"])
        if categories
        else pd.DataFrame()
    )
    return metrics_frame, comparison, category_frame, all_runs


def _empty_comparison() -> pd.DataFrame:
    return pd.DataFrame(
        columns=[
            "queryset",
            "metric",
            "run_a",
            "run_b",
            "mean_a",
            "mean_b",
            "delta",
            "p_t-test",
            "p_fisher",
            "significant",
        ]
    )


def evaluate_dataset(
    spec: str | Dataset = "demo",
    modes: list[str] | tuple[str, ...] = MODES,
    k: int = 10,
    *,
    database: Any = None,
    querysets: list[str] | None = None,
    depth: int = DEFAULT_DEPTH,
    max_queries: int = 0,
    runs_dir: str | Path | None = None,
    progress: bool = True,
    model: str | None = None,
) -> EvalResult:
    """Prepare `spec` (import if needed, drain the worker) and evaluate `modes` on it;
    `model` names the embedding model of the vector leg (default: the configured one),
    embedded first if the database lacks it."""
    check_modes(modes)  # before anything is imported or embedded
    embedder = None
    if model is not None:
        from dovos.embeddings import embedder_named

        embedder = embedder_named(model)
    prepared = prepare_dataset(
        spec, database, progress=progress, drain=any(mode != "lexical" for mode in modes),
        embedder=embedder,
    )
    dataset = prepared.dataset
    chosen = _choose(dataset, querysets)
    metrics, comparison, categories, runs = evaluate_querysets(
        prepared.service,
        chosen,
        list(modes),
        k=k,
        depth=depth,
        max_queries=max_queries,
        runs_dir=runs_dir,
        progress=progress,
    )
    info = {
        "import": prepared.imported.as_dict(),
        "drain": prepared.drain.summary() if prepared.drain else None,
        "queries": {name: len(runs[name][next(iter(runs[name]))].elapsed_ms) for name in runs},
        "fallbacks": {
            name: {m: r.fell_back for m, r in by_mode.items()} for name, by_mode in runs.items()
        },
        **dataset.info,
    }
    return EvalResult(dataset.name, k, metrics, comparison, categories, runs, info)


def _choose(dataset: Dataset, names: list[str] | None) -> dict[str, QuerySet]:
    if not names:
        return dataset.querysets
    unknown = [n for n in names if n not in dataset.querysets]
    if unknown:
        raise ValueError(
            f"dataset {dataset.name!r} has no query set {unknown}; "
            f"it has {', '.join(dataset.querysets)}"
        )
    return {name: dataset.querysets[name] for name in names}
