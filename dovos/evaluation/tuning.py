"""Tune the hybrid parameters on a training split, report them on a held-out split.

Two searches, both scored on the training queries only:

- `grid_search`: each combination of hybrid parameters is run through the search
  service, i.e. fused in the database exactly as production ranks;
- `optimize_legs`: the lexical and vector legs are exported once as runs (at the
  fusion depth, `candidates`) and `ranx.optimize_fusion` searches the weighted sum of
  their min-max normalised scores in memory. The service's "weighted" fusion computes
  that same sum, so ranx's weights become `lexical_weight`/`vector_weight` directly.

`tune_hybrid` runs both, keeps whichever scored higher on train, then runs the stored
defaults and the chosen parameters on the held-out queries and compares them under the
one significance rule (`dovos.evaluation.metrics.significance`: the paired t-test and
Fisher's randomization test both below 0.05), the rule the report uses too. Only `save=True` stores the choice (with its provenance: dataset,
split, metric, scores, date) through `SearchService.save_params`; the report says
plainly when the tuned parameters do not beat the defaults on held-out queries.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from ranx import Run, fuse, optimize_fusion
from tqdm.auto import tqdm

from dovos.evaluation.metrics import compare_runs, evaluate_runs
from dovos.evaluation.querysets import QuerySet
from dovos.evaluation.runs import Searcher, execute_run, make_run, strictly_decreasing
from dovos.search.types import SearchParams

DEFAULT_GRID: list[dict[str, Any]] = [
    *(
        {"fusion": "rrf", "rrf_k": k, "lexical_weight": w, "vector_weight": 1.0}
        for k in (10, 60)
        for w in (0.5, 1.0, 2.0)
    ),
    *(
        {"fusion": "weighted", "lexical_weight": round(w, 2), "vector_weight": round(1 - w, 2)}
        for w in (0.3, 0.5, 0.6, 0.7, 0.8, 0.9)
    ),
]


def expand_grid(axes: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of `axes` values ({"rrf_k": [10, 60], ...}) as override dicts."""
    names = list(axes)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*axes.values())]


@dataclass
class TuningResult:
    """Everything a tuning run found; DataFrames for the notebook."""

    metric: str
    train_queries: int
    test_queries: int
    grid: pd.DataFrame  # one row per combination, its train score
    ranx_weights: dict[str, float]  # optimize_fusion's weights for (lexical, vector)
    ranx_train_score: float
    chosen: dict[str, Any]  # the overrides kept
    chosen_method: str  # "grid" or "ranx.optimize_fusion"
    train_score: float
    defaults: dict[str, Any]
    heldout: pd.DataFrame  # defaults, tuned, ranx in memory and each leg on the test split
    comparison: pd.DataFrame  # defaults vs tuned: both p-values and `significant`
    saved: bool = False
    provenance: dict[str, Any] = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)  # test-split runs by name
    legs: dict[str, Run] = field(default_factory=dict)  # test-split lexical and vector legs
    test: QuerySet | None = None

    @property
    def default_test_score(self) -> float:
        return float(self.heldout.loc["defaults", self.metric])

    @property
    def tuned_test_score(self) -> float:
        return float(self.heldout.loc["tuned", self.metric])

    @property
    def improved(self) -> bool:
        return self.tuned_test_score > self.default_test_score

    @property
    def significant(self) -> bool:
        """Tuned vs defaults on `metric` is significant under metrics.significance."""
        rows = self.comparison[self.comparison["metric"] == self.metric]
        return bool(rows["significant"].any()) if not rows.empty else False

    @property
    def p_values(self) -> tuple[float, float]:
        """(paired t-test, Fisher randomization) p of tuned vs defaults on `metric`."""
        row = self.comparison[self.comparison["metric"] == self.metric]
        if row.empty:
            return float("nan"), float("nan")
        return float(row["p_t-test"].iloc[0]), float(row["p_fisher"].iloc[0])

    def verdict(self) -> str:
        """One sentence stating whether tuning helped on the held-out queries."""
        p_t, p_f = self.p_values
        change = self.tuned_test_score - self.default_test_score
        if self.improved and self.significant:
            judgement = "beat the defaults"
        elif self.improved:
            judgement = "did not significantly beat the defaults (the gain is within noise)"
        else:
            judgement = "did not beat the defaults"
        return (
            f"Tuned parameters ({self.chosen_method}, {self.chosen}) {judgement} on the "
            f"{self.test_queries} held-out queries: {self.metric} "
            f"{self.tuned_test_score:.3f} vs {self.default_test_score:.3f} "
            f"({change:+.4f}, paired t-test p={p_t:.3g}, Fisher p={p_f:.3g})."
        )

    def summary(self) -> dict[str, Any]:
        """The headline figures (JSON-ready) for reports."""
        return {
            "metric": self.metric,
            "train_queries": self.train_queries,
            "test_queries": self.test_queries,
            "chosen_method": self.chosen_method,
            "chosen": self.chosen,
            "train_score": self.train_score,
            "ranx_weights": self.ranx_weights,
            "default_test_score": self.default_test_score,
            "tuned_test_score": self.tuned_test_score,
            "improved": self.improved,
            "p_t_test": self.p_values[0],
            "p_fisher": self.p_values[1],
            "significant": self.significant,
            "verdict": self.verdict(),
            "saved": self.saved,
        }


def grid_search(
    service: Searcher,
    train: QuerySet,
    grid: list[dict[str, Any]] | None = None,
    *,
    metric: str = "ndcg@10",
    depth: int = 100,
    base: dict[str, Any] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Train score of each hybrid parameter combination (over `base`, default: the code
    defaults), best first."""
    base = SearchParams().as_dict() if base is None else base
    rows = []
    for overrides in tqdm(
        grid or DEFAULT_GRID, desc="grid search", unit="config", disable=not progress
    ):
        result = execute_run(
            service,
            train,
            "hybrid",
            depth=depth,
            params={**base, **overrides},
            name="grid",
            progress=False,
        )
        score = evaluate_runs(train, {"grid": result.run}, [metric]).loc["grid", metric]
        rows.append({**overrides, metric: float(score)})
    frame = pd.DataFrame(rows)
    return frame.sort_values(metric, ascending=False, kind="stable").reset_index(drop=True)


def leg_runs(
    service: Searcher,
    queryset: QuerySet,
    params: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Run]:
    """The lexical and vector legs as runs at fusion depth `candidates` (for in-memory fusion)."""
    params = SearchParams().as_dict() if params is None else params
    depth = int(params.get("candidates", 100))
    return {
        mode: execute_run(
            service, queryset, mode, depth=depth, params=params, name=mode, progress=progress
        ).run
        for mode in ("lexical", "vector")
    }


def fuse_legs(
    lexical: Run,
    vector: Run,
    *,
    method: str = "wsum",
    lexical_weight: float = 0.5,
    vector_weight: float | None = None,
    rrf_k: int = 60,
    queryset: QuerySet | None = None,
    name: str = "fused",
) -> Run:
    """Fuse two leg runs in memory as the service would (wsum: min-max weighted sum).

    With `queryset`, both runs are first aligned to its judged queries (empty results
    for queries a leg did not answer), as ranx fusion needs the same query ids.
    """
    if queryset is not None:
        lexical, vector = align_run(lexical, queryset), align_run(vector, queryset)
    vector_weight = 1.0 - lexical_weight if vector_weight is None else vector_weight
    if method == "rrf":
        fused = _weighted_rrf(lexical, vector, lexical_weight, vector_weight, rrf_k)
    else:
        fused = fuse(
            [lexical, vector],
            norm="min-max",
            method="wsum",
            params={"weights": [lexical_weight, vector_weight]},
        )
        fused = make_run(
            {q: strictly_decreasing(dict(d)) for q, d in fused.to_dict().items()}, name
        )
    fused.name = name
    return fused


def _weighted_rrf(lexical: Run, vector: Run, wl: float, wv: float, k: int) -> Run:
    """RRF with per-leg weights, as the service's rrf fusion (ranx's rrf has no weights)."""
    return make_run(fused_scores(lexical.to_dict(), vector.to_dict(), "rrf", wl, wv, k), "rrf")


Scores = dict[str, dict[str, float]]


def fused_scores(
    lexical: Scores, vector: Scores, method: str, wl: float, wv: float, rrf_k: int = 60
) -> Scores:
    """Fusion of two legs given as plain dicts, in pure Python (what the sliders use).

    wsum: the weighted sum of min-max normalised scores, (s - min) / max(max - min, 1e-9)
    per leg and query, 0 for a leg that missed the doc: exactly ranx.fuse's "wsum" and
    the service's "weighted" fusion. rrf: the sum of weight / (k + rank) over the legs.
    Ties are broken by doc id (`strictly_decreasing`).
    """
    fused: Scores = {}
    for qid in sorted(set(lexical) | set(vector)):
        legs = [(lexical.get(qid) or {}, wl), (vector.get(qid) or {}, wv)]
        scores: dict[str, float] = {}
        for docs, weight in legs:
            for doc, value in _leg_values(docs, method, rrf_k).items():
                scores[doc] = scores.get(doc, 0.0) + weight * value
        if scores:
            fused[qid] = strictly_decreasing(scores)
    return fused


def _leg_values(docs: dict[str, float], method: str, rrf_k: int) -> dict[str, float]:
    if not docs:
        return {}
    if method == "rrf":
        ranked = sorted(docs.items(), key=lambda item: (-item[1], item[0]))
        return {doc: 1.0 / (rrf_k + rank) for rank, (doc, _) in enumerate(ranked, 1)}
    low, high = min(docs.values()), max(docs.values())
    spread = max(high - low, 1e-9)
    return {doc: (value - low) / spread for doc, value in docs.items()}


def optimize_legs(
    train: QuerySet, legs: dict[str, Run], metric: str = "ndcg@10", step: float = 0.1
) -> tuple[dict[str, float], float]:
    """ranx.optimize_fusion (min-max wsum) on the train legs: (weights, train score)."""
    qrels = train.to_ranx()
    aligned = [align_run(legs["lexical"], train), align_run(legs["vector"], train)]
    best = optimize_fusion(
        qrels, aligned, norm="min-max", method="wsum", metric=metric, step=step, show_progress=False
    )
    lexical_weight, vector_weight = (float(w) for w in best["weights"])
    fused = fuse_legs(
        aligned[0], aligned[1], lexical_weight=lexical_weight, vector_weight=vector_weight
    )
    score = evaluate_runs(qrels, {"fused": fused}, [metric]).loc["fused", metric]
    return {"lexical_weight": lexical_weight, "vector_weight": vector_weight}, float(score)


def align_run(run: Run, queryset: QuerySet) -> Run:
    """`run` restricted to the judged queries of `queryset`, missing ones empty."""
    qrels = queryset.to_ranx()
    data = {q: dict(d) for q, d in run.to_dict().items() if q in set(qrels.keys())}
    aligned = make_run(data, str(run.name))
    aligned.make_comparable(qrels)
    return aligned


def tune_hybrid(
    service: Any,
    queryset: QuerySet,
    *,
    metric: str = "ndcg@10",
    grid: list[dict[str, Any]] | None = None,
    train_fraction: float = 0.5,
    seed: int = 0,
    depth: int = 100,
    save: bool = False,
    dataset: str | None = None,
    progress: bool = True,
) -> TuningResult:
    """Grid search and ranx weight optimisation on train; defaults vs tuned on test."""
    train, test = queryset.judged().split(train_fraction, seed)
    defaults = SearchParams().as_dict()  # the code defaults: what tuning must beat
    previous = service.stored_params().as_dict()
    grid_frame = grid_search(
        service, train, grid, metric=metric, depth=depth, base=defaults, progress=progress
    )
    legs = leg_runs(service, train, defaults, progress=progress)
    ranx_weights, ranx_score = optimize_legs(train, legs, metric)
    best_grid = _coerce(dict(grid_frame.iloc[0].drop(metric).dropna()))
    grid_score = float(grid_frame.iloc[0][metric])
    if ranx_score > grid_score:
        chosen, method, train_score = (
            {"fusion": "weighted", **ranx_weights},
            "ranx.optimize_fusion",
            ranx_score,
        )
    else:
        chosen, method, train_score = best_grid, "grid", grid_score
    runs, legs = _heldout_runs(service, test, defaults, chosen, ranx_weights, depth, progress)
    heldout = evaluate_runs(test, runs, [metric, *_extra_metrics(metric)])
    comparison = compare_runs(
        test, {"defaults": runs["defaults"], "tuned": runs["tuned"]}, [metric]
    )
    result = TuningResult(
        metric=metric,
        train_queries=len(train),
        test_queries=len(test),
        grid=grid_frame,
        ranx_weights=ranx_weights,
        ranx_train_score=ranx_score,
        chosen=chosen,
        chosen_method=method,
        train_score=train_score,
        defaults=defaults,
        heldout=heldout,
        comparison=comparison,
        runs=runs,
        legs=legs,
        test=test,
    )
    result.provenance = _provenance(result, queryset, dataset, seed, train_fraction)
    result.provenance["previous"] = previous
    if save:
        service.save_params(SearchParams().merged(chosen), result.provenance)
        result.saved = True
    return result


def _heldout_runs(
    service: Any,
    test: QuerySet,
    defaults: dict[str, Any],
    chosen: dict[str, Any],
    ranx_weights: dict[str, float],
    depth: int,
    progress: bool,
) -> tuple[dict[str, Run], dict[str, Run]]:
    tuned = {**defaults, **chosen}
    runs = {
        "defaults": execute_run(
            service,
            test,
            "hybrid",
            depth=depth,
            params=defaults,
            name="defaults",
            progress=progress,
        ).run,
        "tuned": execute_run(
            service, test, "hybrid", depth=depth, params=tuned, name="tuned", progress=progress
        ).run,
    }
    legs = leg_runs(service, test, defaults, progress=progress)
    runs["ranx-wsum"] = fuse_legs(
        legs["lexical"], legs["vector"], queryset=test, name="ranx-wsum", **ranx_weights
    )
    runs.update(legs)  # the single legs, for reference in the held-out table
    return runs, legs


def _extra_metrics(metric: str) -> list[str]:
    extra = ["recall@10", "mrr"]
    return [m for m in extra if m != metric]


def _coerce(overrides: dict[str, Any]) -> dict[str, Any]:
    """Values from a DataFrame row (numpy scalars, floats for ints) as SearchParams types."""
    reference = SearchParams()
    coerced = {}
    for name, value in overrides.items():
        value = value.item() if hasattr(value, "item") else value
        kind = type(getattr(reference, name))
        coerced[name] = kind(value) if kind in (int, float) else value
    return coerced


def _provenance(
    result: TuningResult, queryset: QuerySet, dataset: str | None, seed: int, fraction: float
) -> dict[str, Any]:
    from dovos.evaluation.datasets import fingerprint

    return {
        "dataset": dataset or queryset.name,
        "queryset": queryset.name,
        "queryset_fingerprint": fingerprint(queryset),
        "metric": result.metric,
        "method": result.chosen_method,
        "split": {
            "train_fraction": fraction,
            "seed": seed,
            "train": result.train_queries,
            "test": result.test_queries,
        },
        "train_score": result.train_score,
        "default_test_score": result.default_test_score,
        "tuned_test_score": result.tuned_test_score,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
