"""Metrics and significance over ranx Runs, as pandas DataFrames.

ranx computes every number here; this module only chooses the metrics, aligns runs
with the judgments and shapes the results into tables a notebook or the CLI prints:

- `evaluate_runs`: mean metric per run (rows) and metric (columns),
- `compare_runs`: every pair of runs with the paired Student t-test and Fisher's
  randomization test p-values, the one significance rule (`significance`), the
  difference and win/tie/loss counts,
- `significance`: the project's single rule for "significantly different", used by the
  comparison tables, the plots, the report's verdicts and tuning,
- `significance_table`: the metric table with, per cell, the runs it beats significantly,
- `per_category`: the same metrics per query category (LoCoMo's question types, the
  demo's keyword/paraphrase/typo/...),
- `recall_curve`: recall@k for several k, for the recall curves of the report.

Queries judged but missing from a run count as zero (ranx `make_comparable`); runs are
copied first because ranx adds the missing queries in place.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from numba.core.errors import NumbaTypeSafetyWarning
from ranx import Qrels, Run, evaluate
from ranx.statistical_tests import paired_student_t_test

from dovos.evaluation.querysets import QuerySet

# ranx hashes doc ids to int64 inside numba; the warning about it is noise in notebooks.
warnings.filterwarnings("ignore", category=NumbaTypeSafetyWarning)

DEFAULT_MAX_P = 0.05
N_PERMUTATIONS = 10000
SEED = 42
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
    columns = {
        name: _scores(qrels, run, [metric], mean=False)[metric] for name, run in named.items()
    }
    frame = pd.DataFrame(columns, index=query_ids)
    frame.index.name = "query_id"
    return frame


@dataclass(frozen=True)
class Significance:
    """Both tests of one paired comparison and the verdict of the one rule."""

    p_t_test: float
    p_fisher: float
    max_p: float = DEFAULT_MAX_P

    @property
    def significant(self) -> bool:
        """Both p-values below `max_p` (see `significance`)."""
        return is_significant(self.p_t_test, self.p_fisher, self.max_p)


def is_significant(p_t_test: float, p_fisher: float, max_p: float = DEFAULT_MAX_P) -> bool:
    """The rule on two p-values already computed: both below `max_p`."""
    return bool(p_t_test < max_p and p_fisher < max_p)


def significance(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    max_p: float = DEFAULT_MAX_P,
    n_permutations: int = N_PERMUTATIONS,
    seed: int = SEED,
) -> Significance:
    """Is the difference between paired per-query scores `x` and `y` significant?

    The rule, the same everywhere in Dovos: the paired Student t-test AND Fisher's
    randomization test must both give p < `max_p` (two-sided). The t-test assumes the
    mean difference is roughly normal, which IR score differences on a few dozen queries
    often are not (many ties at 0, bounded scores); the randomization test assumes only
    that the two runs are exchangeable per query. Requiring both keeps a difference
    that only one test's assumptions make look real from being called significant, the
    conservative choice Smucker et al. (CIKM 2007) recommend when tests disagree.
    """
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return Significance(
        _t_test(a, b, max_p), fisher_randomization(a, b, n_permutations, seed), max_p
    )


def compare_runs(
    qrels: QuerySet | Qrels,
    runs: Runs,
    metrics: list[str] | None = None,
    max_p: float = DEFAULT_MAX_P,
    n_permutations: int = N_PERMUTATIONS,
    seed: int = SEED,
) -> pd.DataFrame:
    """Every pair of runs, per metric: means, difference, p-values of both tests, W/T/L,
    and `significant` (the one rule of `significance`: both p-values below `max_p`).

    Per-query scores come from ranx; the t-test is ranx's (scipy's paired t-test).
    Fisher's randomization test is `fisher_randomization` below, not ranx's: ranx runs its
    permutations in parallel numba threads whose random streams ignore the seed, so
    its p-values change from run to run, and a nightly report must not.
    """
    qrels, named = _qrels(qrels), _named(runs)
    metrics = metrics or default_metrics()
    scores = {name: _scores(qrels, run, metrics, mean=False) for name, run in named.items()}
    rows = []
    for a, b in combinations(named, 2):
        for metric in metrics:
            x, y = scores[a][metric], scores[b][metric]
            test = significance(x, y, max_p, n_permutations, seed)
            rows.append(
                {
                    "metric": metric,
                    "run_a": a,
                    "run_b": b,
                    "mean_a": float(x.mean()),
                    "mean_b": float(y.mean()),
                    "delta": float(y.mean() - x.mean()),
                    "wins_a": int((x > y).sum()),
                    "ties": int((x == y).sum()),
                    "wins_b": int((x < y).sum()),
                    "p_t-test": test.p_t_test,
                    "p_fisher": test.p_fisher,
                    "significant": test.significant,
                }
            )
    return pd.DataFrame(rows)


def _t_test(x: np.ndarray, y: np.ndarray, max_p: float) -> float:
    """ranx's paired t-test; a constant difference (no variance) is decided directly."""
    differences = x - y
    if np.all(differences == differences[0]):
        return 1.0 if differences[0] == 0 else 0.0
    return float(paired_student_t_test(x, y, max_p)[0])


def fisher_randomization(
    a: np.ndarray, b: np.ndarray, n_permutations: int = N_PERMUTATIONS, seed: int = SEED
) -> float:
    """Two-sided paired randomization test (Smucker et al., CIKM 2007), reproducible.

    Under the null hypothesis each query's pair of scores is exchangeable, so the sign of
    each per-query difference is flipped at random `n_permutations` times; the p-value is
    the share of flips whose mean difference is at least as large as the observed one,
    (count + 1) / (n + 1) so that it is never exactly 0.
    """
    differences = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    observed = abs(differences.mean())
    rng = np.random.default_rng(seed)
    count, done = 0, 0
    while done < n_permutations:
        size = min(1000, n_permutations - done)
        signs = rng.choice((-1.0, 1.0), size=(size, differences.size))
        count += int((np.abs((signs * differences).mean(axis=1)) >= observed - 1e-12).sum())
        done += size
    return (count + 1) / (n_permutations + 1)


def significance_table(evaluation: pd.DataFrame, comparison: pd.DataFrame) -> pd.DataFrame:
    """Metric values as text, each followed by the runs it beats significantly.

    A cell "0.612 > lexical, vector" reads: this run's mean is higher than those runs' and
    the difference is significant under the one rule (`significance`: both tests).
    """
    table = evaluation.map(lambda value: f"{value:.3f}").astype(object)
    for run in evaluation.index:
        for metric in evaluation.columns:
            beaten = _beaten(comparison, run, metric)
            if beaten:
                table.loc[run, metric] = f"{evaluation.loc[run, metric]:.3f} > {', '.join(beaten)}"
    return table


def _beaten(comparison: pd.DataFrame, run: str, metric: str) -> list[str]:
    rows = comparison[(comparison["metric"] == metric) & comparison["significant"].astype(bool)]
    beaten = []
    for row in rows.itertuples():
        if row.run_a == run and row.mean_a > row.mean_b:
            beaten.append(row.run_b)
        elif row.run_b == run and row.mean_b > row.mean_a:
            beaten.append(row.run_a)
    return beaten


def per_category(queryset: QuerySet, runs: Runs, metrics: list[str] | None = None) -> pd.DataFrame:
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


def _scores(qrels: Qrels, run: Run, metrics: list[str], mean: bool) -> dict[str, Any]:
    # ranx 0.3 fails on one metric with return_mean=False: always ask for two.
    asked = list(dict.fromkeys([*metrics, "mrr" if metrics[0] != "mrr" else "map"]))
    values = evaluate(
        qrels, _aligned(run, qrels), asked, return_mean=mean, save_results_in_run=False
    )
    return {m: (float(values[m]) if mean else np.asarray(values[m])) for m in metrics}
