"""Metrics and significance over ranx Runs, as pandas DataFrames.

ranx computes every number here; this module only chooses the metrics, aligns runs
with the judgments and shapes the results into tables a notebook or the CLI prints:

- `evaluate_runs`: mean metric per run (rows) and metric (columns),
- `compare_runs`: every pair of runs with the paired Student t-test and Fisher's
  randomization test p-values (ranx.compare), the difference and win/tie/loss counts,
- `significance_table`: the metric table with, per cell, the runs it beats significantly,
- `per_category`: the same metrics per query category (LoCoMo's question types, the
  demo's keyword/paraphrase/typo/...),
- `recall_curve`: recall@k for several k, for the recall curves of the report.

Queries judged but missing from a run count as zero (ranx `make_comparable`); runs are
copied first because ranx adds the missing queries in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from numba.core.errors import NumbaTypeSafetyWarning
from ranx import Qrels, Run, compare, evaluate

from dovos.evaluation.querysets import QuerySet

# ranx hashes doc ids to int64 inside numba; the warning about it is noise in notebooks.
warnings.filterwarnings("ignore", category=NumbaTypeSafetyWarning)

STAT_TESTS = {"student": "t-test", "fisher": "fisher"}
DEFAULT_MAX_P = 0.05
RECALL_KS = (1, 3, 5, 10, 20, 50, 100)

Runs = Mapping[str, Run] | Sequence[Run]


def default_metrics(k: int = 10) -> list[str]:
    """nDCG@k, recall@k, MRR and MAP (the last two over the whole retrieved list)."""
    return [f"ndcg@{k}", f"recall@{k}", "mrr", "map"]


def evaluate_runs(
    qrels: QuerySet | Qrels, runs: Runs, metrics: list[str] | None = None
) -> pd.DataFrame:
    """Mean of each metric (columns) for each run (rows, by run name)."""
    qrels, named = _qrels(qrels), _named(runs)
    metrics = metrics or default_metrics()
    rows = {name: _scores(qrels, run, metrics, mean=True) for name, run in named.items()}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=metrics)
    frame.index.name = "run"
    return frame.astype(float)


def per_query(qrels: QuerySet | Qrels, runs: Runs, metric: str = "ndcg@10") -> pd.DataFrame:
    """`metric` per query (rows, sorted by query id) and run (columns)."""
    qrels, named = _qrels(qrels), _named(runs)
    query_ids = sorted(qrels.keys())  # ranx returns per-query values in this order
    columns = {name: _scores(qrels, run, [metric], mean=False)[metric] for name, run in named.items()}
    frame = pd.DataFrame(columns, index=query_ids)
    frame.index.name = "query_id"
    return frame


def compare_runs(
    qrels: QuerySet | Qrels,
    runs: Runs,
    metrics: list[str] | None = None,
    max_p: float = DEFAULT_MAX_P,
    n_permutations: int = 1000,
    seed: int = 42,
) -> pd.DataFrame:
    """Every pair of runs, per metric: means, difference, p-values of both tests, W/T/L."""
    qrels, named = _qrels(qrels), _named(runs)
    metrics = metrics or default_metrics()
    aligned = [_renamed(_aligned(run, qrels), name) for name, run in named.items()]
    reports = {
        test: compare(qrels, aligned, metrics, stat_test=test, max_p=max_p,
                      n_permutations=n_permutations, random_seed=seed, rounding_digits=6)
        for test in STAT_TESTS
    }
    rows = []
    for a, b in combinations(named, 2):
        pair = frozenset([a, b])
        for metric in metrics:
            mean_a = reports["student"].results[a][metric]
            mean_b = reports["student"].results[b][metric]
            wtl = reports["student"].win_tie_loss[(a, b)][metric]
            row = {"metric": metric, "run_a": a, "run_b": b, "mean_a": mean_a, "mean_b": mean_b,
                   "delta": mean_b - mean_a, "wins_a": wtl["W"], "ties": wtl["T"], "wins_b": wtl["L"]}
            for test, label in STAT_TESTS.items():
                result = reports[test].comparisons[pair][metric]
                row[f"p_{label}"] = float(result["p_value"])
                row[f"significant_{label}"] = bool(result["p_value"] < max_p)
            rows.append(row)
    return pd.DataFrame(rows)


def significance_table(
    evaluation: pd.DataFrame, comparison: pd.DataFrame, test: str = "t-test"
) -> pd.DataFrame:
    """Metric values as text, each followed by the runs it beats significantly under `test`.

    A cell "0.612 > lexical, vector" reads: this run's mean is higher than those runs' and
    the difference is significant (p below the comparison's threshold).
    """
    table = evaluation.map(lambda value: f"{value:.3f}").astype(object)
    flag = f"significant_{test}"
    for run in evaluation.index:
        for metric in evaluation.columns:
            beaten = _beaten(comparison, run, metric, flag)
            if beaten:
                table.loc[run, metric] = f"{evaluation.loc[run, metric]:.3f} > {', '.join(beaten)}"
    return table


def _beaten(comparison: pd.DataFrame, run: str, metric: str, flag: str) -> list[str]:
    rows = comparison[(comparison["metric"] == metric) & comparison[flag]]
    beaten = []
    for row in rows.itertuples():
        if row.run_a == run and row.mean_a > row.mean_b:
            beaten.append(row.run_b)
        elif row.run_b == run and row.mean_b > row.mean_a:
            beaten.append(row.run_a)
    return beaten


def per_category(
    queryset: QuerySet, runs: Runs, metrics: list[str] | None = None
) -> pd.DataFrame:
    """Mean metrics per (category, run); a `queries` column counts each category's queries."""
    qrels, named = queryset.to_ranx(), _named(runs)
    metrics = metrics or default_metrics()
    categories = queryset.categories
    judged = sorted(qrels.keys())
    frames = []
    for name, run in named.items():
        scores = _scores(qrels, run, metrics, mean=False)
        frame = pd.DataFrame(scores, index=judged)
        frame["category"] = [categories.get(qid, "(none)") for qid in judged]
        grouped = frame.groupby("category")
        summary = grouped[metrics].mean()
        summary["queries"] = grouped.size()
        summary["run"] = name
        frames.append(summary.reset_index())
    result = pd.concat(frames, ignore_index=True)
    return result.set_index(["category", "run"]).sort_index()


def recall_curve(
    qrels: QuerySet | Qrels, runs: Runs, ks: Sequence[int] = RECALL_KS
) -> pd.DataFrame:
    """recall@k (columns: runs) for each k (rows), for the recall curves."""
    qrels, named = _qrels(qrels), _named(runs)
    metrics = [f"recall@{k}" for k in ks]
    data = {name: _scores(qrels, run, metrics, mean=True) for name, run in named.items()}
    frame = pd.DataFrame(data)
    frame.index = list(ks)
    frame.index.name = "k"
    return frame.astype(float)


# -- helpers ------------------------------------------------------------------------------
def _qrels(qrels: QuerySet | Qrels) -> Qrels:
    return qrels.to_ranx() if isinstance(qrels, QuerySet) else qrels


def _named(runs: Runs) -> dict[str, Run]:
    if isinstance(runs, Mapping):
        return dict(runs)
    named = {}
    for index, run in enumerate(runs):
        named[run.name or f"run_{index + 1}"] = run
    return named


def _aligned(run: Run, qrels: Qrels) -> Run:
    """A copy of `run` with exactly the judged queries (missing ones empty)."""
    judged = set(qrels.keys())
    data = {qid: dict(docs) for qid, docs in run.to_dict().items() if qid in judged}
    copy = Run.from_dict(data, name=run.name) if any(data.values()) else Run(name=run.name)
    copy.make_comparable(qrels)
    return copy


def _renamed(run: Run, name: str) -> Run:
    run.name = name
    return run


def _scores(qrels: Qrels, run: Run, metrics: list[str], mean: bool) -> dict[str, Any]:
    # ranx 0.3 fails on one metric with return_mean=False: always ask for two.
    asked = list(dict.fromkeys([*metrics, "mrr" if metrics[0] != "mrr" else "map"]))
    values = evaluate(qrels, _aligned(run, qrels), asked, return_mean=mean,
                      save_results_in_run=False)
    return {m: (float(values[m]) if mean else np.asarray(values[m])) for m in metrics}
