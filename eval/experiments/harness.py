"""Out-of-fold scoring of ranking variants from cached per-leg runs.

The search service is asked once per dataset and leg configuration (cached as TREC run
files under /tmp/ideas-runs); variants that only change fusion, or pick among cached
leg runs, are then scored in memory. Every variant family is cross-validated: its
parameter is chosen on the training folds by nDCG@10 and scored on the held-out fold,
so the figures reported are out of fold. Folds: LoCoMo leave-one-sample-out (six dev
samples), NFCorpus five folds over queries (seeded).

    from eval.experiments.harness import Bench
    bench = Bench("locomo")
    lex = bench.leg("lexical"); vec = bench.leg("vector")
    result = bench.cross_validate({"w=0.7": fused(...), ...})
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ranx import Run

from dovos.evaluation.metrics import per_query, significance
from dovos.evaluation.querysets import QuerySet
from dovos.evaluation.runs import execute_run, load_run, make_run, save_run

CACHE = Path("/tmp/ideas-runs")
DEPTH = 100  # the service's default `candidates`: each leg's depth before fusion
METRICS = ("ndcg@10", "recall@10")
TUNE_ON = "ndcg@10"
NFCORPUS_FOLDS = 5


@dataclass
class CVResult:
    """Out-of-fold per-query scores of one variant family and what each fold chose."""

    name: str
    scores: pd.DataFrame  # per query (rows), METRICS (columns), out of fold
    folds: list[dict[str, Any]]  # per fold: chosen variant, its held-out metric means

    def mean(self, metric: str = TUNE_ON) -> float:
        return float(self.scores[metric].mean())

    def spread(self, metric: str = TUNE_ON) -> tuple[float, float, float]:
        """(min, max, std) of the per-fold means."""
        values = np.array([fold[metric] for fold in self.folds])
        return float(values.min()), float(values.max()), float(values.std(ddof=1))


class Bench:
    """One dataset's query set, its folds, the service and the leg-run cache."""

    def __init__(self, dataset: str) -> None:
        self.dataset = dataset

    @cached_property
    def queryset(self) -> QuerySet:
        from eval.experiments.prepare import datasets

        data = datasets()[self.dataset]
        name = "locomo" if self.dataset == "locomo" else data.queryset.name
        return data.querysets[name].judged()

    @cached_property
    def service(self) -> Any:
        from dovos.db import get_database
        from dovos.search.service import SearchService

        return SearchService(get_database())

    @cached_property
    def folds(self) -> list[list[str]]:
        """Held-out query ids per fold."""
        ids = sorted(q.id for q in self.queryset.queries)
        if self.dataset == "locomo":
            samples = sorted({qid.rsplit(":", 1)[0] for qid in ids})
            return [[q for q in ids if q.rsplit(":", 1)[0] == s] for s in samples]
        random.Random(0).shuffle(ids)
        return [sorted(ids[i::NFCORPUS_FOLDS]) for i in range(NFCORPUS_FOLDS)]

    # -- leg runs --------------------------------------------------------------------------
    def leg(self, mode: str, params: dict[str, Any] | None = None, depth: int = DEPTH,
            query_text: Callable[[str], str] | None = None, tag: str = "") -> Run:
        """The service's run for `mode` with `params` (cached); `query_text` rewrites
        each question first (named by `tag` in the cache key)."""
        key = json.dumps([mode, params or {}, depth, tag], sort_keys=True)
        digest = hashlib.sha256(key.encode()).hexdigest()[:10]
        path = CACHE / self.dataset / f"{mode}-{digest}.trec"
        if path.is_file():
            return load_run(path, name=mode)
        queryset = self.queryset
        if query_text is not None:
            queryset = _rewritten(queryset, query_text)
        result = execute_run(self.service, queryset, mode, depth=depth, params=params,
                             progress=False)
        save_run(result.run, path)
        path.with_suffix(".json").write_text(key)
        return result.run

    # -- scoring ---------------------------------------------------------------------------
    def per_query(self, run: Run) -> pd.DataFrame:
        """METRICS per judged query (rows sorted by id)."""
        return pd.DataFrame({m: per_query(self.queryset, [run], m).iloc[:, 0] for m in METRICS})

    def cross_validate(self, name: str, variants: dict[str, Run]) -> CVResult:
        """Choose a variant on each fold's training queries, score it on the fold."""
        table = {label: self.per_query(run) for label, run in variants.items()}
        parts, folds = [], []
        for held_out in self.folds:
            train = sorted(set(next(iter(table.values())).index) - set(held_out))
            best = max(table, key=lambda label: table[label].loc[train, TUNE_ON].mean())
            fold = table[best].loc[held_out]
            parts.append(fold)
            folds.append({"chosen": best, **{m: float(fold[m].mean()) for m in METRICS}})
        return CVResult(name, pd.concat(parts).sort_index(), folds)

    def compare(self, result: CVResult, baseline: CVResult, metric: str = TUNE_ON) -> dict[str, Any]:
        """Out-of-fold mean, per-fold spread, difference and p-values against `baseline`."""
        a, b = result.scores[metric], baseline.scores[metric].loc[result.scores.index]
        test = significance(a.to_numpy(), b.to_numpy())
        low, high, std = result.spread(metric)
        return {
            "dataset": self.dataset, "idea": result.name, "metric": metric,
            "mean": round(result.mean(metric), 4), "fold_min": round(low, 4),
            "fold_max": round(high, 4), "fold_std": round(std, 4),
            "delta": round(float(a.mean() - b.mean()), 4),
            "p_t": round(test.p_t_test, 4), "p_fisher": round(test.p_fisher, 4),
            "significant": test.significant,
            "chosen": sorted({f["chosen"] for f in result.folds}),
        }


def _rewritten(queryset: QuerySet, rewrite: Callable[[str], str]) -> QuerySet:
    from dataclasses import replace

    queries = [replace(q, text=rewrite(q.text) or q.text) for q in queryset.queries]
    return replace(queryset, queries=queries)


def truncate(run: Run, depth: int, name: str | None = None) -> Run:
    """`run` cut to its top `depth` documents per query."""
    data = {}
    for qid, docs in run.to_dict().items():
        top = sorted(docs.items(), key=lambda item: -item[1])[:depth]
        data[qid] = dict(top)
    return make_run(data, name or run.name)


def cross_validate_by_group(
    bench: Bench, name: str, variants: dict[str, Run], group: Callable[[str], str]
) -> CVResult:
    """Like Bench.cross_validate, but each query group (e.g. question type) gets its own
    variant, chosen on that group's training queries of the fold."""
    table = {label: bench.per_query(run) for label, run in variants.items()}
    index = next(iter(table.values())).index
    groups = pd.Series([group(qid) for qid in index], index=index)
    parts, folds = [], []
    for held_out in bench.folds:
        train = index.difference(held_out)
        chosen = {}
        for g in groups.unique():
            members = train[groups.loc[train] == g]
            if len(members):
                chosen[g] = max(table, key=lambda label: table[label].loc[members, TUNE_ON].mean())
        fallback = max(table, key=lambda label: table[label].loc[train, TUNE_ON].mean())
        fold = pd.concat([
            table[chosen.get(groups[q], fallback)].loc[[q]] for q in held_out
        ])
        parts.append(fold)
        folds.append({"chosen": json.dumps(chosen, sort_keys=True),
                      **{m: float(fold[m].mean()) for m in METRICS}})
    return CVResult(name, pd.concat(parts).sort_index(), folds)
