"""Issue 14, helper ex: BM25 length as tokens, RM3 feedback and a date rule, out of fold.

The lexical leg is `ex_lexical.Leg` (the service's BM25 leg in memory, checked against
the service's own run first); the vector leg is exact cosine over all-MiniLM-L6-v2 bf16
vectors of what the worker embeds today (recipe 2: previous turn cut to 200 characters),
read from h2's cache; hybrid = the service's weighted min-max fusion at 0.7/0.3
(`fusion.fuse`). Every family is cross-validated with `harness.Bench` (LoCoMo dev leave
one sample out, NFCorpus dev five seeded folds) and compared with today's defaults under
the project's significance rule (t-test and Fisher, both p < 0.05).

    export DOVOS_HOME=/tmp/ex-home-lo   # a database holding LoCoMo dev only (nfcorpus: its own)
    nice -n 19 python -m eval.experiments.ex_ideas locomo check length length_b low_b prf dates combo increment
"""

from __future__ import annotations

import json
import sys
import time
from itertools import product
from pathlib import Path

import numpy as np
from ranx import Run

from dovos.evaluation.runs import make_run
from eval.experiments import harness, run_models
from eval.experiments.ex_lexical import Corpus, Leg, QueryTerms, nudge, query_terms
from eval.experiments.fusion import fuse
from eval.experiments.harness import Bench, CVResult

WORK = Path("/tmp/ex-work")
harness.CACHE = WORK / "runs"  # the service's lexical run of this database (cached)
H2_VECTORS = Path("/tmp/h2-work/vectors")  # read only: MiniLM bf16, recipe 2
MODEL = "all-MiniLM-L6-v2@bf16"
WEIGHTS = (0.7, 0.3)
FEEDBACK_DOCS = (3, 5, 10)
FEEDBACK_TERMS = (5, 10, 20)
ORIGINAL_WEIGHT = (0.9, 0.8, 0.7, 0.5)  # RM3's lambda: the original query's share


class Lab:
    """One dataset: bench, corpus, the query terms, the vector leg and the reference."""

    def __init__(self, dataset: str) -> None:
        from dovos.db import get_database

        self.bench = Bench(dataset)
        self.service_lexical = self.bench.leg("lexical", {})
        with get_database().connect() as conn:
            self.corpus = Corpus.load(conn)
            self.terms = query_terms(conn, self.corpus, self.bench.queryset,
                                     self.service_lexical.to_dict())
        self.vector = vector_run(self.bench)
        self.leg = Leg(self.corpus)
        self.lexical = self.run(self.leg, "lexical")
        self.hybrid = self.fused(self.lexical)
        self.reference = {
            "lexical": self.bench.cross_validate("today", {"today": self.lexical}),
            "hybrid": self.bench.cross_validate("today", {"today": self.hybrid}),
        }

    def run(self, leg: Leg, name: str, extra=None, boost=None) -> Run:
        """`leg` over every query; `extra(qid, terms)` and `boost(qid)` are per query."""
        data = {}
        for qid, terms in self.terms.items():
            ranked = leg.rank(terms, extra=extra(qid, terms) if extra else None,
                              boost=boost(qid) if boost else None)
            if ranked:
                data[qid] = nudge(ranked)
        return make_run(data, name)

    def fused(self, lexical: Run) -> Run:
        return fuse(lexical, self.vector, WEIGHTS)

    def rows(self, family: str, variants: dict[str, Run], leg: str) -> list[dict]:
        """Out-of-fold rows (both metrics) of a family against today's `leg`."""
        result = self.bench.cross_validate(family, variants)
        return [table_row(self.bench, result, self.reference[leg], leg, metric)
                for metric in harness.METRICS]


def vector_run(bench: Bench) -> Run:
    """Exact cosine within the question's LoCoMo sample (or the NFCorpus corpus)."""
    ids, scopes, _ = run_models.documents(bench.dataset)
    docs = np.load(H2_VECTORS / f"{bench.dataset}-docs-{MODEL}.npy")
    queries = np.load(H2_VECTORS / f"{bench.dataset}-queries-{MODEL}.npy")
    ids_arr, scopes_arr = np.array(ids), np.array(scopes)
    data = {}
    for query, qvec in zip(bench.queryset.queries, queries, strict=True):
        scope = query.id.rsplit(":", 1)[0] if bench.dataset == "locomo" else ""
        mask = scopes_arr == scope
        scores = docs[mask].astype(np.float32) @ qvec.astype(np.float32)
        top = np.argsort(-scores, kind="stable")[:harness.DEPTH]
        data[query.id] = {str(ids_arr[mask][i]): float(scores[i]) for i in top}
    return make_run(data, "vector")


def table_row(bench: Bench, result: CVResult, reference: CVResult, leg: str,
              metric: str) -> dict:
    row = bench.compare(result, reference, metric)
    row["leg"] = leg
    row["per_fold"] = [round(f[metric], 3) for f in result.folds]
    row["today"] = round(reference.mean(metric), 4)
    counts: dict[str, int] = {}
    for fold in result.folds:
        counts[fold["chosen"]] = counts.get(fold["chosen"], 0) + 1
    row["chosen"] = "; ".join(f"{k} ×{v}" for k, v in counts.items())
    return row


# -- check ----------------------------------------------------------------------------------
def check(lab: Lab) -> list[dict]:
    """The in-memory leg against the service's run: same top 10 and same figures."""
    mine, theirs = lab.lexical.to_dict(), lab.service_lexical.to_dict()
    same_top10 = same_top100 = 0
    for qid in theirs:
        a = list(mine.get(qid, {}))
        b = list(theirs[qid])
        same_top10 += a[:10] == b[:10]
        same_top100 += a == b
    means = {
        "in-memory lexical": lab.bench.per_query(lab.lexical).mean().round(4).to_dict(),
        "service lexical": lab.bench.per_query(lab.service_lexical).mean().round(4).to_dict(),
        "vector (MiniLM bf16, exact)": lab.bench.per_query(lab.vector).mean().round(4).to_dict(),
        "hybrid 0.7/0.3 (in-memory legs)": lab.bench.per_query(lab.hybrid).mean().round(4).to_dict(),
        "hybrid 0.7/0.3 (service lexical + vector)":
            lab.bench.per_query(lab.fused(lab.service_lexical)).mean().round(4).to_dict(),
    }
    per_fold = {name: [round(f["ndcg@10"], 3) for f in
                       lab.bench.cross_validate(name, {name: run}).folds]
                for name, run in (("lexical", lab.lexical), ("vector", lab.vector),
                                  ("hybrid", lab.hybrid))}
    return [{"queries": len(theirs), "same_top10": same_top10, "same_top100": same_top100,
             "means": means, "ndcg_per_fold": per_fold,
             "avgdl_distinct": round(Leg(lab.corpus).avgdl, 2),
             "avgdl_tokens": round(Leg(lab.corpus, length="tokens").avgdl, 2),
             "messages": lab.corpus.n}]


# -- 1. length as tokens ----------------------------------------------------------------------
def length(lab: Lab) -> list[dict]:
    runs = {f"tokens b={b}": lab.run(Leg(lab.corpus, b=b, length="tokens"), f"tok{b}")
            for b in (0.3, 0.5, 0.75)}
    swap = {"tokens b=0.5": runs["tokens b=0.5"]}
    rows = []
    for leg, wrap in (("lexical", lambda r: r), ("hybrid", lab.fused)):
        rows += lab.rows("tokens, k1 0.9 b 0.5 (plain swap)", {k: wrap(v) for k, v in swap.items()}, leg)
        rows += lab.rows("tokens, b in fold", {k: wrap(v) for k, v in runs.items()}, leg)
        both = {**{k: wrap(v) for k, v in runs.items()},
                "today": lab.lexical if leg == "lexical" else lab.hybrid}
        rows += lab.rows("tokens (b in fold) or today", both, leg)
    return rows


def length_b(lab: Lab) -> list[dict]:
    """Controls for `length`: is it the token length or the lower b? Both lengths over
    a finer b grid, each chosen in fold, and the fixed settings LoCoMo chose."""
    bs = (0.1, 0.2, 0.3, 0.4, 0.5, 0.75)
    runs = {f"{kind} b={b}": (lab.lexical if (kind, b) == ("distinct", 0.5) else
                              lab.run(Leg(lab.corpus, b=b, length=kind), f"{kind}{b}"))
            for kind in ("distinct", "tokens") for b in bs}
    rows = []
    for leg, wrap in (("lexical", lambda r: r), ("hybrid", lab.fused)):
        wrapped = {k: wrap(v) for k, v in runs.items()}
        for kind in ("distinct", "tokens"):
            rows += lab.rows(f"{kind}, b in fold (0.1-0.75)",
                             {k: v for k, v in wrapped.items() if k.startswith(kind)}, leg)
        rows += lab.rows("length and b in fold", wrapped, leg)
        for label in ("tokens b=0.3", "distinct b=0.3", "tokens b=0.2", "distinct b=0.2"):
            rows += lab.rows(f"{label} (fixed)", {label: wrapped[label]}, leg)
    return rows


def low_b(lab: Lab) -> list[dict]:
    """LoCoMo chose b = 0.1, the grid's edge: b 0.1 and 0 (no length normalisation)
    fixed, distinct-lexeme length (today's), on both datasets."""
    rows = []
    runs = {f"distinct b={b}": lab.run(Leg(lab.corpus, b=b), f"d{b}") for b in (0.0, 0.1)}
    for leg, wrap in (("lexical", lambda r: r), ("hybrid", lab.fused)):
        for label, run in runs.items():
            rows += lab.rows(f"{label} (fixed)", {label: wrap(run)}, leg)
    return rows


# -- 2. RM3 pseudo-relevance feedback ---------------------------------------------------------
def expansion(lab: Lab, terms: QueryTerms, feedback: list[tuple[str, float]], m: int, n: int,
              original: float) -> tuple[list[str], list[float]]:
    """RM3: P(t|R) = sum over the top m of P(t|d) P(d|q) (P(t|d) = the lexeme's share of
    d's tokens, P(d|q) = d's share of the top m's scores), the query's own lexemes left
    out; the top n, normalised, get (1 - lambda) of the query model against lambda for
    the original terms (expressed on the original BM25's scale)."""
    c = lab.corpus
    index = lab.doc_index
    top = [(index[d], s) for d, s in feedback[:m] if s > 0]
    if not top:
        return [], []
    total = sum(s for _, s in top)
    own = set(terms.lexemes)
    weights: dict[str, float] = {}
    for i, s in top:
        length = c.tokens[i]
        for lexeme, tf in c.tfs[i].items():
            if lexeme not in own:
                weights[lexeme] = weights.get(lexeme, 0.0) + tf / length * s / total
    best = sorted(weights.items(), key=lambda item: (-item[1], item[0]))[:n]
    mass = sum(w for _, w in best) or 1.0
    known = max(sum(1 for t in terms.lexemes if c.df(t) > 0), 1)
    scale = (1.0 - original) / original * known
    return [t for t, _ in best], [scale * w / mass for _, w in best]


def prf_runs(lab: Lab) -> dict[str, Run]:
    lab.doc_index = {d: i for i, d in enumerate(lab.corpus.docs)}
    feedback = {qid: list(docs.items()) for qid, docs in lab.lexical.to_dict().items()}
    runs = {}
    for m, n, original in product(FEEDBACK_DOCS, FEEDBACK_TERMS, ORIGINAL_WEIGHT):
        label = f"m={m} n={n} λ={original}"
        runs[label] = lab.run(lab.leg, label, extra=lambda qid, terms, m=m, n=n, o=original:
                              expansion(lab, terms, feedback.get(qid, []), m, n, o))
    return runs


def prf(lab: Lab) -> list[dict]:
    runs = prf_runs(lab)
    rows = []
    for leg, wrap in (("lexical", lambda r: r), ("hybrid", lab.fused)):
        variants = {k: wrap(v) for k, v in runs.items()}
        rows += lab.rows("RM3 m×n×λ in fold (feedback forced)", variants, leg)
        variants["none"] = lab.lexical if leg == "lexical" else lab.hybrid
        rows += lab.rows("RM3 m×n×λ in fold (or none)", variants, leg)
        fixed = {"m=10 n=10 λ=0.7": variants["m=10 n=10 λ=0.7"]}
        rows += lab.rows("RM3 fixed m=10 n=10 λ=0.7 (Anserini-like)", fixed, leg)
    return rows


def markdown(rows: list[dict]) -> str:
    head = ("| leg | idea | metric | per fold | mean | today | Δ | p t / Fisher | chosen in folds |\n"
            "|---|---|---|---|---|---|---|---|---|\n")
    lines = [
        f"| {r['leg']} | {r['idea']} | {r['metric']} | {' / '.join(f'{x:.3f}' for x in r['per_fold'])}"
        f" | {r['mean']:.4f} | {r['today']:.4f} | {r['delta']:+.4f} | {r['p_t']:.3f} / "
        f"{r['p_fisher']:.3f}{' **sig**' if r['significant'] else ''} | {r['chosen']} |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n"


FAMILIES = {"check": check, "length": length, "length_b": length_b, "low_b": low_b, "prf": prf}


def main(dataset: str, families: list[str]) -> None:
    out = WORK / "results"
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    lab = Lab(dataset)
    print(f"{dataset}: loaded in {time.perf_counter() - start:.0f} s", flush=True)
    for name in families:
        if name in ("dates", "combo", "increment"):
            from eval.experiments import ex_dates
            rows = getattr(ex_dates, name)(lab)
        else:
            rows = FAMILIES[name](lab)
        (out / f"{name}-{dataset}.json").write_text(json.dumps(rows, indent=1, default=str))
        text = json.dumps(rows, indent=1, default=str) if name == "check" else markdown(rows)
        (out / f"{name}-{dataset}.md").write_text(text)
        print(f"## {name}-{dataset} ({time.perf_counter() - start:.0f} s)\n{text}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
