"""Tune the hybrid parameters, cross-validated: every claim is out of fold.

Two searches, both scored on training queries only:

- the grid (`grid_runs`): each combination of hybrid parameters is run through the
  search service, i.e. fused in the database exactly as production ranks;
- `optimize_legs`: the lexical and vector legs are exported once as runs (at the
  fusion depth, `candidates`) and `ranx.optimize_fusion` searches the weighted sum of
  their min-max normalised scores in memory. The service's "weighted" fusion computes
  that same sum, so ranx's weights become `lexical_weight`/`vector_weight` directly.

`tune_hybrid` runs every combination, the defaults and both legs ONCE over all judged
queries, then cross-validates (`dovos.evaluation.crossval`: leave-one-sample-out on
LoCoMo, seeded k-fold over queries elsewhere): per fold, `fusion_tuner` keeps whichever
search scored higher on the training queries, and that choice is scored on the held-out
fold only. Tuned and defaults are compared on the pooled out-of-fold per-query scores
under the one significance rule (`dovos.evaluation.metrics.significance`: paired t-test
and Fisher's randomization test both below 0.05); "tuned beats defaults" is said only
then. The final parameters are tuned on all judged queries; only `save=True` stores
them (with provenance: dataset, folds, metric, out-of-fold scores, date) through
`SearchService.save_params`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from ranx import Run, fuse, optimize_fusion
from tqdm.auto import tqdm

from dovos.evaluation.crossval import (
    DEFAULT_K,
    DEFAULT_SEED,
    TUNED,
    CrossValidation,
    Fold,
    Selection,
    Tuner,
    best_of,
    cross_validate,
    make_folds,
)
from dovos.evaluation.metrics import evaluate_runs
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
    """Everything a cross-validated tuning run found; DataFrames for the notebook.

    `cv` holds the claim: per-fold and pooled out-of-fold scores of the defaults, the
    tuned choice and each leg, and the paired test of tuned vs defaults out of fold.
    `grid`, `ranx_weights`, `chosen` and `train_score` are the final choice, tuned on all
    judged queries (in sample: what `save` stores, never what is claimed).
    """

    metric: str
    queries: int  # judged queries, each held out exactly once
    cv: CrossValidation
    grid: pd.DataFrame  # one row per combination, its mean on all judged queries
    ranx_weights: dict[str, float]  # optimize_fusion's weights on all judged queries
    ranx_train_score: float
    chosen: dict[str, Any]  # the overrides kept (tuned on all judged queries)
    chosen_method: str  # "grid" or "ranx.optimize_fusion"
    train_score: float  # the final choice's in-sample score
    defaults: dict[str, Any]
    saved: bool = False
    provenance: dict[str, Any] = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)  # defaults, lexical, vector, grid-N
    legs: dict[str, Run] = field(default_factory=dict)  # lexical and vector at fusion depth
    queryset: QuerySet | None = None  # the judged queries tuned and scored

    @property
    def out_of_fold(self) -> pd.DataFrame:
        """Pooled out-of-fold mean per run (rows) and metric (columns)."""
        return pd.DataFrame(
            {m: self.cv.out_of_fold[m][self.cv.runs].mean() for m in self.cv.metrics}
        )

    @property
    def comparison(self) -> pd.DataFrame:
        """Tuned vs each reference on the pooled out-of-fold per-query scores."""
        return self.cv.comparison

    @property
    def default_test_score(self) -> float:
        """The defaults' pooled out-of-fold `metric` (what tuning must beat)."""
        return self.cv.baseline_score

    @property
    def tuned_test_score(self) -> float:
        """The tuned choice's pooled out-of-fold `metric` (each fold tuned without it)."""
        return self.cv.tuned_score

    @property
    def improved(self) -> bool:
        return self.cv.improved

    @property
    def significant(self) -> bool:
        """Tuned vs defaults on `metric`, out of fold, under metrics.significance."""
        return self.cv.significant

    @property
    def p_values(self) -> tuple[float, float]:
        """(paired t-test, Fisher randomization) p of tuned vs defaults, out of fold."""
        test = self.cv.test("defaults", TUNED)
        return float(test["p_t-test"]), float(test["p_fisher"])

    @property
    def fold_sizes(self) -> tuple[int, int]:
        """(training, held-out) queries of an average fold; they add up to `queries`."""
        train = round(sum(len(f.train) for f in self.cv.folds) / len(self.cv.folds))
        return train, self.queries - train

    def verdict(self) -> str:
        """The out-of-fold verdict, then what the final choice is."""
        return (
            f"{self.cv.verdict()} Final choice on all {self.queries} queries "
            f"({self.chosen_method}): {self.chosen}."
        )

    def summary(self) -> dict[str, Any]:
        """The headline figures (JSON-ready) for reports; scores are out of fold."""
        train, test = self.fold_sizes
        return {
            "metric": self.metric,
            "queries": self.queries,
            "scheme": self.cv.scheme,
            "folds": len(self.cv.folds),
            "train_queries": train,  # per fold, on average
            "test_queries": test,  # per fold, on average
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


def grid_runs(
    service: Searcher,
    queryset: QuerySet,
    grid: list[dict[str, Any]] | None = None,
    *,
    depth: int = 100,
    base: dict[str, Any] | None = None,
    progress: bool = True,
) -> list[tuple[dict[str, Any], Run]]:
    """Each hybrid parameter combination (over `base`, default: the code defaults) run
    through the search service on every query of `queryset`: fused in the database
    exactly as production ranks. Folds then only pick among these runs."""
    base = SearchParams().as_dict() if base is None else base
    results = []
    for index, overrides in enumerate(
        tqdm(grid or DEFAULT_GRID, desc="grid search", unit="config", disable=not progress)
    ):
        run = execute_run(
            service,
            queryset,
            "hybrid",
            depth=depth,
            params={**base, **overrides},
            name=f"grid-{index + 1}",
            progress=False,
        ).run
        results.append((dict(overrides), run))
    return results


def grid_frame(
    queryset: QuerySet, runs: list[tuple[dict[str, Any], Run]], metric: str = "ndcg@10"
) -> pd.DataFrame:
    """Each combination and its mean `metric` on `queryset`, best first."""
    rows = []
    for overrides, run in runs:
        score = evaluate_runs(queryset, {"grid": run}, [metric]).loc["grid", metric]
        rows.append({**overrides, metric: float(score)})
    frame = pd.DataFrame(rows)
    return frame.sort_values(metric, ascending=False, kind="stable").reset_index(drop=True)


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
    """Score of each hybrid parameter combination on `train`, best first."""
    runs = grid_runs(service, train, grid, depth=depth, base=base, progress=progress)
    return grid_frame(train, runs, metric)


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


def check_grid(grid: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`grid` itself; ValueError naming any parameter SearchParams does not know."""
    for overrides in grid:
        SearchParams().merged(overrides)
    return grid


LegWeights = Callable[[QuerySet], tuple[dict[str, float], float]]


def leg_weights(legs: dict[str, Run], metric: str = "ndcg@10") -> LegWeights:
    """`optimize_legs` on given training queries, remembered per query set, so the final
    tuning on all judged queries and the report of ranx's weights share one optimisation."""
    known: dict[tuple[str, ...], tuple[dict[str, float], float]] = {}

    def weights_for(train: QuerySet) -> tuple[dict[str, float], float]:
        key = tuple(sorted(train.qrels))
        if key not in known:
            known[key] = optimize_legs(train, legs, metric)
        return known[key]

    return weights_for


def fusion_tuner(
    queryset: QuerySet,
    grid: list[tuple[dict[str, Any], Run]],
    legs: dict[str, Run],
    metric: str = "ndcg@10",
    weights_for: LegWeights | None = None,
) -> Tuner:
    """The tuner cross-validation calls per fold: the best grid combination on the
    training queries, or ranx.optimize_fusion's weights on the training legs when those
    score higher there. Its run covers every query; only the held-out fold is scored."""
    runs = {run.name: run for _, run in grid}
    params = {run.name: overrides for overrides, run in grid}
    pick = best_of(queryset, runs, metric, params)
    weights_for = weights_for or leg_weights(legs, metric)

    def tune(train: QuerySet) -> Selection:
        best = pick(train)
        weights, score = weights_for(train)
        if score > best.train_score:
            fused = fuse_legs(
                legs["lexical"], legs["vector"], queryset=queryset, name="ranx-wsum", **weights
            )
            chosen = {"fusion": "weighted", **weights}
            return Selection("ranx.optimize_fusion", chosen, score, fused)
        return Selection("grid", _coerce(best.params), best.train_score, best.run)

    return tune


def tune_hybrid(
    service: Any,
    queryset: QuerySet,
    *,
    metric: str = "ndcg@10",
    grid: list[dict[str, Any]] | None = None,
    k: int = DEFAULT_K,
    seed: int = DEFAULT_SEED,
    folds: list[Fold] | None = None,
    depth: int = 100,
    save: bool = False,
    dataset: str | None = None,
    progress: bool = True,
) -> TuningResult:
    """Cross-validated tuning of the hybrid parameters (see the module doc).

    Folds: `folds`, else `make_folds(queryset, k, seed)` (leave-one-sample-out on LoCoMo,
    k-fold over queries otherwise). Every grid combination, the defaults and both legs
    run once over all judged queries; each fold then tunes on its training queries and
    is scored on its held-out ones. The final choice is tuned on all judged queries.
    """
    grid = check_grid(grid or DEFAULT_GRID)  # a bad name fails before any search runs
    judged = queryset.judged()
    folds = folds if folds is not None else make_folds(judged, k, seed)
    defaults = SearchParams().as_dict()  # the code defaults: what tuning must beat
    previous = service.stored_params().as_dict()
    combinations = grid_runs(service, judged, grid, depth=depth, base=defaults, progress=progress)
    legs = leg_runs(service, judged, defaults, progress=progress)
    default_run = execute_run(
        service, judged, "hybrid", depth=depth, params=defaults, name="defaults", progress=progress
    ).run
    weights_for = leg_weights(legs, metric)
    tuner = fusion_tuner(judged, combinations, legs, metric, weights_for)
    cv = cross_validate(
        judged,
        tuner,
        {**legs, "defaults": default_run},
        folds=folds,
        metric=metric,
        metrics=[metric, *_extra_metrics(metric)],
        baseline="defaults",
    )
    final = tuner(judged)
    ranx_weights, ranx_score = weights_for(judged)  # computed by tuner(judged) above
    result = TuningResult(
        metric=metric,
        queries=len(judged),
        cv=cv,
        grid=grid_frame(judged, combinations, metric),
        ranx_weights=ranx_weights,
        ranx_train_score=ranx_score,
        chosen=final.params,
        chosen_method=final.label,
        train_score=final.train_score,
        defaults=defaults,
        runs={"defaults": default_run, **legs, **{run.name: run for _, run in combinations}},
        legs=legs,
        queryset=judged,
    )
    result.provenance = _provenance(result, queryset, dataset, seed)
    result.provenance["previous"] = previous
    if save:
        service.save_params(SearchParams().merged(result.chosen), result.provenance)
        result.saved = True
    return result


def tune_dataset(
    spec: str,
    *,
    queryset: str | None = None,
    max_queries: int = 0,
    database: Any = None,
    drain: bool = True,
    progress: bool = True,
    **options: Any,
) -> TuningResult:
    """`dovos tune` as a Python call: prepare dataset `spec` (import, embed), then
    `tune_hybrid` on its query set `queryset` (default: the primary one); `options` go
    to tune_hybrid (metric, grid, k, seed, save, ...). `drain=False` skips running the
    worker (when this dataset is embedded but other jobs are queued)."""
    from dovos.evaluation.pipeline import prepare_dataset

    check_grid(options.get("grid") or DEFAULT_GRID)  # before anything is imported
    prepared = prepare_dataset(spec, database, drain=drain, progress=progress)
    sets = prepared.dataset.querysets
    if queryset and queryset not in sets:
        raise ValueError(
            f"dataset {prepared.dataset.name!r} has no query set {queryset!r}; "
            f"it has {', '.join(sets)}"
        )
    target = (sets[queryset] if queryset else prepared.dataset.queryset).judged()
    if max_queries:
        target = target.head(max_queries)
    return tune_hybrid(prepared.service, target, dataset=spec, progress=progress, **options)


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
    result: TuningResult, queryset: QuerySet, dataset: str | None, seed: int
) -> dict[str, Any]:
    from dovos.evaluation.datasets import fingerprint

    train, test = result.fold_sizes
    return {
        "dataset": dataset or queryset.name,
        "queryset": queryset.name,
        "queryset_fingerprint": fingerprint(queryset),
        "metric": result.metric,
        "method": result.chosen_method,
        "cross_validation": {
            "scheme": result.cv.scheme,
            "folds": [f.name for f in result.cv.folds],
            "seed": seed,
            "queries": result.queries,
            "train_per_fold": train,
            "test_per_fold": test,
        },
        "train_score": result.train_score,
        "default_test_score": result.default_test_score,
        "tuned_test_score": result.tuned_test_score,
        "significant": result.significant,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
