"""Fusion of two cached leg runs in memory, the way dovos/search/sql.py fuses in SQL.

`weighted` with min-max normalisation over each leg's top `depth` is the service's
"weighted" fusion (a leg that missed a document adds 0), `rrf` its "rrf"; z-score
normalisation and CombMNZ are the alternatives tried. Ranks, not ties, decide order:
ties are broken by doc id as the SQL does.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ranx import Run

from dovos.evaluation.runs import make_run, strictly_decreasing

Scores = dict[str, float]


def _top(docs: Scores, depth: int) -> Scores:
    return dict(sorted(docs.items(), key=lambda item: (-item[1], item[0]))[:depth])


def minmax(docs: Scores) -> Scores:
    if not docs:
        return {}
    low, high = min(docs.values()), max(docs.values())
    return {d: (s - low) / max(high - low, 1e-9) for d, s in docs.items()}


def zscore(docs: Scores) -> Scores:
    if not docs:
        return {}
    values = np.array(list(docs.values()))
    mean, std = values.mean(), values.std()
    return {d: (s - mean) / max(std, 1e-9) for d, s in docs.items()}


def reciprocal_rank(k: float) -> Callable[[Scores], Scores]:
    def norm(docs: Scores) -> Scores:
        ordered = sorted(docs.items(), key=lambda item: (-item[1], item[0]))
        return {d: 1.0 / (k + rank) for rank, (d, _) in enumerate(ordered, 1)}

    return norm


def fuse(
    lexical: Run,
    vector: Run,
    weights: tuple[float, float] | Callable[[str], tuple[float, float]],
    norm: Callable[[Scores], Scores] = minmax,
    depth: tuple[int, int] = (100, 100),
    mnz: bool = False,
    name: str = "fused",
) -> Run:
    """Weighted sum of the normalised legs per query; `weights` may depend on the query
    id (query-type-aware weights); `mnz` multiplies by the number of legs that found a
    document (CombMNZ)."""
    lex, vec = lexical.to_dict(), vector.to_dict()
    data = {}
    for qid in set(lex) | set(vec):
        wl, wv = weights(qid) if callable(weights) else weights
        a = norm(_top(lex.get(qid, {}), depth[0]))
        b = norm(_top(vec.get(qid, {}), depth[1]))
        fused = {}
        for doc in set(a) | set(b):
            score = wl * a.get(doc, 0.0) + wv * b.get(doc, 0.0)
            if mnz:
                score *= (doc in a) + (doc in b)
            fused[doc] = score
        data[qid] = strictly_decreasing(_top(fused, 100))
    return make_run(data, name)
