"""Fusion variants, out of fold, from the cached lexical and vector legs.

    DOVOS_HOME=/tmp/ideas-home python -m eval.experiments.run_fusion locomo

Each family's parameter is chosen on the training folds (nDCG@10) and scored on the
held-out fold; every family is compared with the current default (weighted min-max,
0.7/0.3, both legs at depth 100) under the project's significance rule.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ranx import Run

from eval.experiments.fusion import fuse, reciprocal_rank, zscore
from eval.experiments.harness import Bench, CVResult, cross_validate_by_group

WEIGHTS = [round(0.3 + 0.05 * i, 2) for i in range(14)]  # lexical share 0.3 .. 0.95
RESULTS = Path("/tmp/ideas-results")


def question_type(bench: Bench):
    """First word of the question (what/when/who/how/...), other types pooled."""
    text = {q.id: q.text.strip().lower() for q in bench.queryset.queries}

    def group(qid: str) -> str:
        first = (text[qid].split() or [""])[0].strip("?,.")
        return first if first in ("what", "when", "who", "how", "where", "which", "why",
                                  "did", "is", "would") else "other"

    return group


def families(lex: Run, vec: Run) -> dict[str, dict[str, Run]]:
    """Variant family -> {label: fused run}."""
    w = {f"w={x}": (x, round(1 - x, 2)) for x in WEIGHTS}
    return {
        "weights (min-max)": {k: fuse(lex, vec, v) for k, v in w.items()},
        "z-score, weights": {k: fuse(lex, vec, v, norm=zscore) for k, v in w.items()},
        "CombMNZ min-max, weights": {k: fuse(lex, vec, v, mnz=True) for k, v in w.items()},
        "RRF k and weights": {
            f"k={k} w={x}": fuse(lex, vec, (x, 1 - x), norm=reciprocal_rank(k))
            for k in (1, 5, 10, 20, 60) for x in (0.5, 0.6, 0.7, 0.8)
        },
        "leg depth (min-max 0.7)": {
            f"depth {a}/{b}": fuse(lex, vec, (0.7, 0.3), depth=(a, b))
            for a in (20, 50, 100) for b in (10, 20, 50, 100)
        },
        "weights and leg depth": {
            f"w={x} depth {a}/{b}": fuse(lex, vec, (x, 1 - x), depth=(a, b))
            for x in (0.6, 0.7, 0.8) for a in (50, 100) for b in (20, 50, 100)
        },
    }


def main(dataset: str) -> list[dict]:
    bench = Bench(dataset)
    lex, vec = bench.leg("lexical"), bench.leg("vector")
    default = bench.cross_validate("current default", {"w=0.7": fuse(lex, vec, (0.7, 0.3))})
    results: list[CVResult] = [
        bench.cross_validate("lexical leg", {"lexical": lex}),
        bench.cross_validate("vector leg", {"vector": vec}),
        default,
    ]
    fams = families(lex, vec)
    for name, variants in fams.items():
        results.append(bench.cross_validate(name, variants))
    if dataset == "locomo":  # NFCorpus queries are titles: no question word to group by
        results.append(cross_validate_by_group(
            bench, "weights per question type", fams["weights (min-max)"], question_type(bench)))
    rows = []
    for result in results:
        for metric in ("ndcg@10", "recall@10"):
            rows.append(bench.compare(result, default, metric))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"fusion-{dataset}.json").write_text(json.dumps(rows, indent=1))
    for row in rows:
        print(json.dumps(row))
    return rows


if __name__ == "__main__":
    main(sys.argv[1])
