"""Cross-validation: a tuned figure counts only on queries its tuning never saw.

Folds (`make_folds`, the rule):

- queries that carry a group in their metadata (LoCoMo's `sample_id`, at least two
  groups) are cut leave-one-group-out: the six LoCoMo dev samples give six folds, and a
  sample's questions are never on both sides (they share one conversation, so tuning on
  some of them and testing on the others would leak);
- other query sets (BEIR, the demo, your own labels) are cut into k folds over queries
  (k=5 by default), seeded and stratified by category: within a category queries are
  ordered by sha256(seed, id) and dealt round-robin, so a query's fold depends only on
  the seed, its id and its category's members.

`cross_validate(queryset, tuner, references)` calls `tuner` on each fold's training
queries; the tuner returns a `Selection` whose run is then scored on the held-out fold
only. The references (e.g. the lexical and vector legs and the hybrid defaults) are
fixed runs, scored on the same folds. The result holds per-fold scores (every run, every
metric), their mean and spread, and the pooled out-of-fold per-query scores; the tuned
run is compared with the baseline on those pooled scores under the project's one rule
(`metrics.significance`: paired t-test AND Fisher randomization, p < 0.05). That is the
only place "tuned beats defaults" may be claimed.

    from dovos.evaluation.crossval import best_of, cross_validate
    tuner = best_of(queryset, {"k10": run_a, "k60": run_b}, "ndcg@10")
    cv = cross_validate(queryset, tuner, {"defaults": defaults_run})
    cv.table("ndcg@10")      # folds x runs, plus mean / std / pooled rows
    cv.verdict()             # tuned vs defaults, out of fold, with both p-values
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from ranx import Run

from dovos.evaluation.metrics import per_query, significance
from dovos.evaluation.querysets import QuerySet, QuerySetError

GROUP_KEY = "sample_id"  # LoCoMo: the sample (one long conversation) a question belongs to
DEFAULT_K = 5
DEFAULT_SEED = 0
DEFAULT_METRICS = ("ndcg@10", "recall@10")
TUNED = "tuned"


# -- folds --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fold:
    """One cut: tune on `train`, score on `test` (query ids, disjoint)."""

    name: str
    train: tuple[str, ...]
    test: tuple[str, ...]


def group_folds(queryset: QuerySet, key: str = GROUP_KEY) -> list[Fold]:
    """Leave one group out: one fold per value of `metadata[key]`, in first-seen order."""
    groups: dict[str, list[str]] = {}
    for query in queryset.judged().queries:
        value = query.metadata.get(key)
        if value is None:
            raise QuerySetError(f"query {query.id!r} has no metadata {key!r} to group by")
        groups.setdefault(str(value), []).append(query.id)
    if len(groups) < 2:
        raise QuerySetError(f"leave-one-out by {key!r} needs two groups, found {len(groups)}")
    every = [qid for ids in groups.values() for qid in ids]
    folds = []
    for name, ids in groups.items():
        held = set(ids)
        folds.append(Fold(name, tuple(q for q in every if q not in held), tuple(ids)))
    return folds


def k_folds(queryset: QuerySet, k: int = DEFAULT_K, seed: int = DEFAULT_SEED) -> list[Fold]:
    """k folds over the judged queries, seeded, stratified by category (see module doc).

    With fewer queries than `k`, each query is its own fold (leave one out)."""
    ids = [q.id for q in queryset.judged().queries]
    if len(ids) < 2:
        raise QuerySetError(f"query set {queryset.name!r}: k-fold needs two judged queries")
    if k < 2:
        raise QuerySetError(f"k-fold needs k >= 2, got {k}")
    k = min(k, len(ids))
    by_category: dict[str, list[str]] = {}
    for query in queryset.judged().queries:
        by_category.setdefault(query.category or "", []).append(query.id)
    assignment: dict[str, int] = {}
    position = 0
    for category in sorted(by_category):  # sorted: independent of the set's order
        members = by_category[category]
        members.sort(key=lambda qid: hashlib.sha256(f"{seed}:{qid}".encode()).hexdigest())
        for qid in members:
            assignment[qid] = position % k
            position += 1
    return [
        Fold(
            f"fold-{index + 1}",
            tuple(q for q in ids if assignment[q] != index),
            tuple(q for q in ids if assignment[q] == index),
        )
        for index in range(k)
    ]


def make_folds(
    queryset: QuerySet, k: int = DEFAULT_K, seed: int = DEFAULT_SEED, key: str = GROUP_KEY
) -> list[Fold]:
    """The rule: leave one group out when every judged query has `metadata[key]` and there
    are at least two groups (LoCoMo samples); otherwise seeded k-fold over queries."""
    queries = queryset.judged().queries
    values = {q.metadata.get(key) for q in queries}
    if queries and None not in values and len(values) >= 2:
        return group_folds(queryset, key)
    return k_folds(queryset, k, seed)


def fold_scheme(folds: Sequence[Fold]) -> str:
    """A short description of how the folds were cut (for tables and provenance)."""
    if folds and all(f.name.startswith("fold-") for f in folds):
        return f"{len(folds)}-fold over queries"
    return f"leave-one-group-out ({len(folds)} groups: {', '.join(f.name for f in folds)})"


def check_folds(folds: Sequence[Fold], queryset: QuerySet) -> None:
    """Raise QuerySetError unless every judged query is held out exactly once and no fold
    trains on a query it tests on."""
    judged = {q.id for q in queryset.judged().queries}
    held = [qid for fold in folds for qid in fold.test]
    if sorted(held) != sorted(judged):
        raise QuerySetError("the folds do not hold out every judged query exactly once")
    for fold in folds:
        if set(fold.train) & set(fold.test):
            raise QuerySetError(f"fold {fold.name!r} trains on queries it tests on")
        if set(fold.train) | set(fold.test) != judged:
            raise QuerySetError(f"fold {fold.name!r} does not cover the judged queries")


# -- tuners -------------------------------------------------------------------------------
@dataclass
class Selection:
    """What a tuner chose on the training queries: a label, its parameters, its training
    score, and its run (which must hold the held-out queries too; only those are scored)."""

    label: str
    params: dict[str, Any]
    train_score: float
    run: Run


Tuner = Callable[[QuerySet], Selection]


def best_of(
    queryset: QuerySet,
    candidates: Mapping[str, Run],
    metric: str = "ndcg@10",
    params: Mapping[str, dict[str, Any]] | None = None,
) -> Tuner:
    """A tuner picking the candidate run with the best mean `metric` on the training
    queries (first candidate on ties). Per-query scores are computed once, so each fold
    only averages; `params` names each candidate's parameters for the record."""
    if not candidates:
        raise ValueError("best_of needs at least one candidate run")
    scores = per_query(queryset.judged(), dict(candidates), metric)

    def tune(train: QuerySet) -> Selection:
        means = scores.loc[[q.id for q in train.judged().queries]].mean()
        name = str(means.idxmax())
        chosen = dict((params or {}).get(name, {}))
        return Selection(name, chosen, float(means[name]), candidates[name])

    return tune


# -- cross-validation ---------------------------------------------------------------------
@dataclass
class CrossValidation:
    """Per-fold and pooled out-of-fold scores of the tuned run and the references."""

    metric: str  # what the tuner maximised
    metrics: list[str]
    folds: list[Fold]
    baseline: str
    per_fold: pd.DataFrame  # rows: (fold, run); columns: queries, then each metric
    choices: pd.DataFrame  # rows: fold; columns: label, params, train_score, queries
    out_of_fold: dict[str, pd.DataFrame]  # metric -> rows query_id; columns fold + runs
    comparison: pd.DataFrame  # tuned vs each reference on the pooled out-of-fold scores
    runs: list[str] = field(default_factory=list)

    @property
    def scheme(self) -> str:
        return fold_scheme(self.folds)

    def table(self, metric: str | None = None) -> pd.DataFrame:
        """Folds (rows) x runs (columns) for `metric`, then the fold mean, the standard
        deviation over folds, and the pooled out-of-fold mean over all queries."""
        metric = metric or self.metric
        wide = self.per_fold[metric].unstack("run")[self.runs]
        wide = wide.loc[[f.name for f in self.folds]]
        wide.insert(0, "queries", self.per_fold["queries"].unstack("run").iloc[:, 0])
        scores = wide[self.runs]
        extra = pd.DataFrame(
            [scores.mean(), scores.std(ddof=1), self.out_of_fold[metric][self.runs].mean()],
            index=["mean", "std", "pooled"],
        )
        extra.insert(0, "queries", [np.nan, np.nan, float(len(self.out_of_fold[metric]))])
        return pd.concat([wide.astype(float), extra])

    def spread(self) -> pd.DataFrame:
        """Per run and metric: mean over folds, std, min, max, pooled out-of-fold mean."""
        rows = []
        for metric in self.metrics:
            table = self.table(metric)
            folds = table.drop(index=["mean", "std", "pooled"])
            for run in self.runs:
                rows.append(
                    {
                        "metric": metric,
                        "run": run,
                        "mean": float(folds[run].mean()),
                        "std": float(folds[run].std(ddof=1)),
                        "min": float(folds[run].min()),
                        "max": float(folds[run].max()),
                        "pooled": float(table.loc["pooled", run]),
                    }
                )
        return pd.DataFrame(rows).set_index(["metric", "run"])

    def test(self, run_a: str, run_b: str, metric: str | None = None) -> dict[str, Any]:
        """The paired test of two runs on the pooled out-of-fold per-query scores."""
        metric = metric or self.metric
        scores = self.out_of_fold[metric]
        a, b = scores[run_a].to_numpy(), scores[run_b].to_numpy()
        result = significance(a, b)
        return {
            "metric": metric,
            "run_a": run_a,
            "run_b": run_b,
            "mean_a": float(a.mean()),
            "mean_b": float(b.mean()),
            "delta": float(b.mean() - a.mean()),
            "wins_a": int((a > b).sum()),
            "ties": int((a == b).sum()),
            "wins_b": int((a < b).sum()),
            "p_t-test": result.p_t_test,
            "p_fisher": result.p_fisher,
            "significant": result.significant,
        }

    @property
    def tuned_score(self) -> float:
        return float(self.out_of_fold[self.metric][TUNED].mean())

    @property
    def baseline_score(self) -> float:
        return float(self.out_of_fold[self.metric][self.baseline].mean())

    @property
    def improved(self) -> bool:
        return self.tuned_score > self.baseline_score

    @property
    def significant(self) -> bool:
        """Tuned vs baseline on `metric`, out of fold, under metrics.significance."""
        return bool(self.test(self.baseline, TUNED)["significant"])

    @property
    def beats_baseline(self) -> bool:
        """The only claim allowed: higher out of fold AND significant by the one rule."""
        return self.improved and self.significant

    def verdict(self) -> str:
        """One sentence: did tuning beat the baseline on queries it was not tuned on?"""
        test = self.test(self.baseline, TUNED)
        if self.beats_baseline:
            judgement = f"beats {self.baseline}"
        elif self.improved:
            judgement = f"does not significantly beat {self.baseline} (the gain is within noise)"
        else:
            judgement = f"does not beat {self.baseline}"
        return (
            f"Out of fold ({self.scheme}, {len(self.out_of_fold[self.metric])} queries): "
            f"tuned {judgement}: {self.metric} {self.tuned_score:.3f} vs "
            f"{self.baseline_score:.3f} ({test['delta']:+.4f}, paired t-test "
            f"p={test['p_t-test']:.3g}, Fisher p={test['p_fisher']:.3g})."
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: folds, per-fold tables, spread, choices, tests, verdict."""
        return {
            "metric": self.metric,
            "scheme": self.scheme,
            "baseline": self.baseline,
            "folds": [
                {"name": f.name, "train": len(f.train), "test": len(f.test)} for f in self.folds
            ],
            "per_fold": {metric: _records(self.table(metric)) for metric in self.metrics},
            "spread": [
                {"metric": m, "run": r, **values}
                for (m, r), values in self.spread().to_dict("index").items()
            ],
            "choices": self.choices.reset_index().to_dict("records"),
            "comparison": self.comparison.to_dict("records"),
            "tuned_score": self.tuned_score,
            "baseline_score": self.baseline_score,
            "significant": self.significant,
            "beats_baseline": self.beats_baseline,
            "verdict": self.verdict(),
        }


def cross_validate(
    queryset: QuerySet,
    tuner: Tuner,
    references: Mapping[str, Run],
    *,
    folds: Sequence[Fold] | None = None,
    metric: str = "ndcg@10",
    metrics: Sequence[str] = DEFAULT_METRICS,
    baseline: str = "defaults",
) -> CrossValidation:
    """Tune on each fold's training queries, score the held-out fold; see the module doc.

    `references` are fixed runs (not tuned) scored on the same folds; `baseline` names
    the one the tuned run must beat. Folds default to `make_folds(queryset)`.
    """
    judged = queryset.judged()
    folds = list(folds) if folds is not None else make_folds(judged)
    check_folds(folds, judged)
    if baseline not in references:
        raise ValueError(f"baseline {baseline!r} is not one of the references {list(references)}")
    if TUNED in references:
        raise ValueError(f"a reference may not be named {TUNED!r}")
    metrics = list(dict.fromkeys([metric, *metrics]))
    fixed = {m: per_query(judged, dict(references), m) for m in metrics}
    pooled: dict[str, list[pd.DataFrame]] = {m: [] for m in metrics}
    choices = []
    for fold in folds:
        test = judged.subset(list(fold.test))
        selection = tuner(judged.subset(list(fold.train)))
        choices.append(
            {
                "fold": fold.name,
                "train_queries": len(fold.train),
                "test_queries": len(fold.test),
                "label": selection.label,
                "params": selection.params,
                "train_score": selection.train_score,
            }
        )
        for m in metrics:
            scores = fixed[m].loc[list(fold.test)].copy()
            scores[TUNED] = per_query(test, {TUNED: selection.run}, m)[TUNED]
            scores.insert(0, "fold", fold.name)
            pooled[m].append(scores)
    out_of_fold = {m: pd.concat(frames).sort_index() for m, frames in pooled.items()}
    runs = [*references, TUNED]
    result = CrossValidation(
        metric=metric,
        metrics=metrics,
        folds=folds,
        baseline=baseline,
        per_fold=_per_fold(out_of_fold, runs),
        choices=pd.DataFrame(choices).set_index("fold"),
        out_of_fold=out_of_fold,
        comparison=pd.DataFrame(),
        runs=runs,
    )
    result.comparison = pd.DataFrame(
        [result.test(name, TUNED, m) for m in metrics for name in references]
    )
    return result


def _per_fold(out_of_fold: dict[str, pd.DataFrame], runs: list[str]) -> pd.DataFrame:
    """Long table: (fold, run) -> queries and the mean of each metric on that fold."""
    columns = {}
    for metric, scores in out_of_fold.items():
        means = scores.groupby("fold", sort=False)[runs].mean()
        columns[metric] = means.stack()
    frame = pd.DataFrame(columns)
    frame.index.names = ["fold", "run"]
    sizes = next(iter(out_of_fold.values())).groupby("fold", sort=False).size()
    frame.insert(0, "queries", [int(sizes[fold]) for fold, _ in frame.index])
    return frame


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A fold table as JSON-ready rows, NaN as None."""
    rows = []
    for name, row in table.iterrows():
        rows.append(
            {"fold": name, **{k: (None if pd.isna(v) else float(v)) for k, v in row.items()}}
        )
    return rows
