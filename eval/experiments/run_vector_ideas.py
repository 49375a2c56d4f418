"""Vector-leg ideas out of fold on LoCoMo dev and NFCorpus dev (helper h2, issue 14).

Two families, each scored for the vector leg alone and fused into the hybrid with the
service's lexical leg (BM25 k1 0.9, b 0.5) at the default fusion (weighted min-max,
0.7 / 0.3, depth 100), and compared with today's vector leg (the service's run) under
the one significance rule (`Bench.compare`: t-test AND Fisher):

1. What a LoCoMo turn embeds (`vector_context.VARIANTS`, encoded in memory) and a
   two-vector variant, score = max(cosine to the turn alone, cosine to previous 500 +
   turn); the variant is chosen in fold. NFCorpus documents are single messages: no
   variant changes them.
2. Rocchio pseudo-relevance feedback in embedding space,
   q' = normalize(q + beta * mean(top-m document vectors)), the top m taken from the
   vector leg itself ("vector") or from the hybrid ranking ("hybrid"); beta and m are
   chosen in fold. The document vectors are today's (LoCoMo: previous 500 + turn,
   encoded in memory; NFCorpus: read from message_embeddings in $DOVOS_HOME).

Ranking is exact cosine within the question's sample (LoCoMo) or the whole corpus
(NFCorpus); the "exact (today's input)" row shows what exact search gives against the
service's HNSW leg, so a gain cannot come from exact-versus-approximate alone.

    export DOVOS_HOME=/tmp/h2-ideas-home
    nice -n 10 .venv/bin/python -m eval.experiments.run_vector_ideas dump     # vectors -> /tmp/h2-vectors
    nice -n 10 .venv/bin/python -m eval.experiments.run_vector_ideas locomo nfcorpus [prf|texts]
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from ranx import Run

from dovos.evaluation.runs import make_run
from dovos.search.query import parse_query
from eval.experiments.fusion import fuse
from eval.experiments.harness import DEPTH, Bench, CVResult
from eval.experiments.run_fusion import RESULTS

VECTORS = Path("/tmp/h2-vectors")
LEXICAL = {"bm25_k1": 0.9, "bm25_b": 0.5}  # today's defaults, explicit (cache key)
WEIGHTS = (0.7, 0.3)
CURRENT = "previous 500 chars (current)"
TEXT_VARIANTS = ("turn alone", CURRENT, "previous 200 chars", "previous 1000 chars",
                 "session date + previous", "speaker said + previous")
BETAS = (0.25, 0.5, 1.0)
TOP_M = (3, 5, 10)
FIXED = "beta=0.25 m=5"  # what every LoCoMo fold chose for the hybrid (vector top m)


@dataclass
class Space:
    """One dataset's documents (unit vectors by variant), groups and query vectors."""

    bench: Bench

    @cached_property
    def ids(self) -> np.ndarray:
        return self._layout[0]

    @cached_property
    def groups(self) -> np.ndarray:
        return self._layout[1]

    @cached_property
    def _layout(self) -> tuple[np.ndarray, np.ndarray]:
        if self.bench.dataset == "locomo":
            from eval.experiments.vector_context import turns

            ids, samples, _ = turns()
            return np.array(ids), np.array(samples)
        ids = np.load(VECTORS / "nfcorpus_ids.npy")
        return ids, np.array(["all"] * len(ids))

    @cached_property
    def row(self) -> dict[str, int]:
        return {str(doc): i for i, doc in enumerate(self.ids)}

    def docs(self, variant: str = CURRENT) -> np.ndarray:
        """Unit document vectors in `ids` order: today's input is read from the
        database's message_embeddings (dumped by `dump_vectors`), the others encoded."""
        if self.bench.dataset != "locomo" or variant == CURRENT:
            vectors = np.load(VECTORS / f"{self.bench.dataset}_docs.npy")
            order = {str(d): i for i, d in enumerate(np.load(VECTORS / f"{self.bench.dataset}_ids.npy"))}
            return vectors[[order[str(d)] for d in self.ids]]
        from eval.experiments.vector_context import VARIANTS, encoded, turns

        return encoded(variant, [VARIANTS[variant](c) for c in turns()[2]])

    @cached_property
    def query_ids(self) -> list[str]:
        return [q.id for q in self.bench.queryset.queries]

    @cached_property
    def queries(self) -> np.ndarray:
        from eval.experiments.vector_context import encoded

        texts = [parse_query(q.text).embedding_text for q in self.bench.queryset.queries]
        if self.bench.dataset == "locomo":
            return encoded("questions", texts)
        path = VECTORS / "nfcorpus_questions.npy"
        if not path.is_file():
            from dovos.embeddings import get_embedder

            np.save(path, get_embedder().encode(texts, batch_size=64))
        return np.load(path)

    @cached_property
    def masks(self) -> dict[str, np.ndarray]:
        return {g: np.flatnonzero(self.groups == g) for g in np.unique(self.groups)}

    def group_of(self, qid: str) -> str:
        return qid.rsplit(":", 1)[0] if self.bench.dataset == "locomo" else "all"

    def rank(self, name: str, queries: np.ndarray, *doc_sets: np.ndarray) -> Run:
        """Exact cosine ranking (top DEPTH within each query's group); with several
        document matrices a document scores its best cosine over them (multi-vector max)."""
        data = {}
        for qid, qvec in zip(self.query_ids, queries, strict=True):
            rows = self.masks[self.group_of(qid)]
            scores = np.max([d[rows] @ qvec for d in doc_sets], axis=0)
            top = np.argsort(-scores, kind="stable")[:DEPTH]
            data[qid] = {str(self.ids[rows[i]]): float(scores[i]) for i in top}
        return make_run(data, name)

    def rocchio(self, source: Run, beta: float, m: int, docs: np.ndarray) -> np.ndarray:
        """q' = normalize(q + beta * mean of the top-m documents of `source`) per query."""
        ranked = source.to_dict()
        out = self.queries.copy()
        for i, qid in enumerate(self.query_ids):
            top = sorted(ranked.get(qid, {}).items(), key=lambda kv: (-kv[1], kv[0]))[:m]
            rows = [self.row[d] for d, _ in top if d in self.row]
            if rows:
                out[i] = out[i] + beta * docs[rows].mean(axis=0)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def dump_vectors() -> None:
    """Today's document vectors (message_embeddings of $DOVOS_HOME) as .npy per dataset:
    LoCoMo turns' ids start with their sample id ("conv-26:D1:3"), NFCorpus's with MED-."""
    from dovos.db import get_database

    with get_database().connect() as conn:
        rows = conn.execute(
            "SELECT m.source_message_id, e.embedding::text FROM message_embeddings e"
            " JOIN messages m ON m.id = e.message_id").fetchall()
    VECTORS.mkdir(parents=True, exist_ok=True)
    for dataset, keep in (("locomo", True), ("nfcorpus", False)):
        part = [r for r in rows if r[0].startswith("conv-") == keep]
        np.save(VECTORS / f"{dataset}_ids.npy", np.array([r[0] for r in part]))
        np.save(VECTORS / f"{dataset}_docs.npy", np.array(
            [np.array(json.loads(r[1]), dtype=np.float32) for r in part]))


def _encoded(variant: str) -> bool:
    """Whether `variant` is already encoded (the script only ranks cached encodings: on
    the loaded machine one LoCoMo encoding took 10+ minutes; encode them beforehand with
    `vector_context.encoded`)."""
    from eval.experiments.vector_context import CACHE

    name = variant.replace(" ", "_").replace("(", "").replace(")", "")
    return (CACHE / f"{name}.npy").is_file()


def _legs(bench: Bench, name: str, variants: dict[str, Run], lex: Run
          ) -> tuple[CVResult, CVResult]:
    """(vector leg, hybrid) of a family, each cross-validated on its own metric."""
    vector = bench.cross_validate(f"{name} (vector)", variants)
    hybrid = bench.cross_validate(
        f"{name} (hybrid)", {k: fuse(lex, v, WEIGHTS) for k, v in variants.items()})
    return vector, hybrid


def families(bench: Bench, space: Space, lex: Run, vec: Run, parts: tuple[str, ...]
             ) -> dict[str, dict[str, Run]]:
    """Every family: label -> vector run (the labels are what a fold chooses among);
    `parts` names what to run ("prf", "texts")."""
    docs = space.docs()
    exact = space.rank("exact", space.queries, docs)
    out: dict[str, dict[str, Run]] = {"exact (today's input)": {"exact": exact}}
    hybrid = fuse(lex, vec, WEIGHTS)
    for source_name, source in (("vector", exact), ("hybrid", hybrid)) * ("prf" in parts):
        grid = {f"beta={b} m={m}": space.rank("prf", space.rocchio(source, b, m, docs), docs)
                for b in BETAS for m in TOP_M}
        out[f"Rocchio PRF from the {source_name} top m"] = grid
        out[f"Rocchio PRF from the {source_name} top m, fixed {FIXED}"] = {FIXED: grid[FIXED]}
    if bench.dataset == "locomo" and "texts" in parts:
        texts = {CURRENT: exact}
        texts.update({v: space.rank(v, space.queries, space.docs(v))
                      for v in TEXT_VARIANTS if v != CURRENT and _encoded(v)})
        texts["max(turn, previous 500 + turn)"] = space.rank(
            "max", space.queries, space.docs("turn alone"), docs)
        for label, run in texts.items():
            out[f"text: {label}"] = {label: run}
        out["text: variant chosen in fold"] = texts
    return out


def main(dataset: str, parts: tuple[str, ...] = ("prf", "texts")) -> list[dict]:
    bench = Bench(dataset)
    space = Space(bench)
    lex, vec = bench.leg("lexical", LEXICAL), bench.leg("vector")
    base_vec, base_hyb = _legs(bench, "today", {"service": vec}, lex)
    rows = []
    for metric in ("ndcg@10", "recall@10"):
        for base in (base_vec, base_hyb):
            rows.append({**bench.compare(base, base, metric), "per_fold": _per_fold(base, metric)})
    for name, variants in families(bench, space, lex, vec, parts).items():
        for result, base in zip(_legs(bench, name, variants, lex), (base_vec, base_hyb),
                                strict=True):
            for metric in ("ndcg@10", "recall@10"):
                row = bench.compare(result, base, metric)
                row["per_fold"] = _per_fold(result, metric)
                row["chosen_per_fold"] = [f["chosen"] for f in result.folds]
                rows.append(row)
                print(json.dumps(row), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"vector-ideas-{dataset}-{'-'.join(parts)}.json").write_text(json.dumps(rows, indent=1))
    return rows


def _per_fold(result: CVResult, metric: str) -> list[float]:
    return [round(f[metric], 4) for f in result.folds]


def markdown(dataset: str) -> str:
    """The results of every run of `dataset` as one Markdown table (for the docs)."""
    lines = ["| idea | leg | metric | mean | per fold | Δ vs today | p t / Fisher | chosen per fold |",
             "|---|---|---|---|---|---|---|---|"]
    seen = set()
    for path in sorted(RESULTS.glob(f"vector-ideas-{dataset}-*.json")):
        for r in json.loads(path.read_text()):
            idea, _, leg = r["idea"].rpartition(" (")
            key = (idea, leg, r["metric"])
            if key in seen:
                continue
            seen.add(key)
            folds = " ".join(f"{v:.3f}" for v in r["per_fold"])
            chosen = ", ".join(r.get("chosen_per_fold", [])) if len(r["chosen"]) > 1 else r["chosen"][0]
            p = f"{r['p_t']:.3f} / {r['p_fisher']:.3f}" + (" *" if r["significant"] else "")
            p = "–" if idea == "today" else p
            lines.append(f"| {idea} | {leg.rstrip(')')} | {r['metric']} | {r['mean']:.3f} | {folds} "
                         f"| {r['delta']:+.3f} | {p} | {chosen} |")
    return "\n".join(lines)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["table"]:
        print(markdown(args[1]))
        sys.exit()
    if "dump" in args:
        dump_vectors()
    chosen = tuple(a for a in args if a in ("prf", "texts")) or ("prf", "texts")
    for name in [a for a in args if a in ("locomo", "nfcorpus")]:
        main(name, chosen)
