"""Embedding models out of fold: all-mpnet-base-v2 (bf16) against all-MiniLM-L6-v2 (fp32,
and bf16) on LoCoMo dev (six samples) and NFCorpus dev (324 queries).

    export DOVOS_HOME=/tmp/h1-ideas-home OMP_NUM_THREADS=1
    nice -n 10 python -m eval.experiments.run_models encode locomo all-mpnet-base-v2@bf16 \
        all-MiniLM-L6-v2 all-MiniLM-L6-v2@bf16
    python -m eval.experiments.run_models locomo      # the tables (cached vectors and legs)
    nice -n 10 python -m eval.experiments.run_models encode nfcorpus all-mpnet-base-v2@bf16
    python -m eval.experiments.run_models nfcorpus
    DOVOS_HOME=/tmp/h1-ideas-home nice -n 10 python -m eval.experiments.run_models speed

Each model encodes exactly what the worker embeds (the last PREVIOUS_TURN_CHARS of the
previous turn, then the turn; an NFCorpus document is a one-message conversation) and
the questions as the search service does (`parse_query(...).embedding_text`), in memory,
texts sorted by length (vectors cached under /tmp/h1-vectors). The vector leg ranks by
exact cosine within the question's LoCoMo sample, or over the NFCorpus corpus, to the
service's depth; the hybrid fuses it with the cached lexical leg (BM25 k1 0.9, b 0.5,
the defaults, passed explicitly) the way the service does (`fusion.fuse`). Per model:
vector leg, hybrid at the default 0.7/0.3, hybrid with the lexical share chosen in fold.
Every model is compared with the service's own vector leg (all-MiniLM-L6-v2 fp32, HNSW,
the cached run: today's figures) and the hybrid with the lexical leg; exact cosine
rather than HNSW is checked by the in-memory all-MiniLM-L6-v2 rows, which give the
service's figures exactly on LoCoMo dev. Models whose vectors are not cached are left
out of the table: `encode DATASET MODEL...` fills the cache (chunk by chunk, so it can
be stopped and resumed).

`speed` encodes the same sample of texts with each model in alternation (same run, so
the ratio holds on a loaded machine).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from ranx import Run
from tqdm.auto import tqdm

from dovos.embeddings import SentenceTransformerEmbedder
from dovos.evaluation.runs import make_run
from dovos.search.document_text import PREVIOUS_TURN_CHARS
from dovos.search.query import parse_query
from eval.experiments import harness
from eval.experiments.fusion import fuse
from eval.experiments.harness import DEPTH, Bench, CVResult
from eval.experiments.run_fusion import WEIGHTS

MODELS = ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2@bf16", "all-mpnet-base-v2@bf16")
REFERENCE = "all-MiniLM-L6-v2"
REFERENCE_NAME = "service (MiniLM fp32, HNSW)"  # the product's vector leg today
VECTORS = Path("/tmp/h1-vectors")
RESULTS = Path("/tmp/h1-results")
LEXICAL = {"bm25_k1": 0.9, "bm25_b": 0.5}  # the kept defaults, explicit for the run cache
BATCH = 32
CHUNK = 128  # texts per encode call (one tqdm step, cached)

harness.CACHE = Path("/tmp/h1-runs")  # a private copy of the leg-run cache


# -- what is embedded ---------------------------------------------------------------------
def documents(dataset: str) -> tuple[list[str], list[str], list[str]]:
    """(doc ids, scope per doc (LoCoMo sample, '' for NFCorpus), embedded text)."""
    from eval.experiments.prepare import datasets

    ids, scopes, texts = [], [], []
    for conversation in datasets()[dataset].load_conversations():
        previous = ""
        for message in conversation.messages:
            ids.append(message.source_message_id or "")
            scopes.append(conversation.metadata.get("sample_id", "") if dataset == "locomo" else "")
            context = previous[-PREVIOUS_TURN_CHARS:] + "\n" if previous else ""
            texts.append(context + message.content)
            previous = message.content
    return ids, scopes, texts


ChunkEncoder = Callable[[list[str]], np.ndarray]


def sentence_transformer(model: str) -> ChunkEncoder:
    """`model` through sentence-transformers, loaded and warmed up (encode's default)."""
    embedder = SentenceTransformerEmbedder(model)
    embedder.warm_up()
    return lambda chunk: embedder.encode(chunk, batch_size=BATCH)


def encode(model: str, texts: list[str], label: str, *,
           encoder: Callable[[], ChunkEncoder] | None = None,
           chunk_size: int = CHUNK) -> tuple[np.ndarray, float]:
    """Unit vectors of `texts` in their order and the seconds it took (cached), encoded
    in chunks of texts sorted by length so batches pad little.

    `encoder` makes the function that encodes one chunk (default: `model` through
    sentence-transformers); it is called only once a chunk is not cached, so a cached
    run loads no model. The chunk files are numbered by `chunk_size`: keep the size a
    cache was written with."""
    path = VECTORS / f"{label}-{model}.npy"
    meta = path.with_suffix(".json")
    if path.is_file() and meta.is_file():
        return np.load(path), json.loads(meta.read_text())["seconds"]
    encode_chunk: ChunkEncoder | None = None
    order = np.argsort([len(t) for t in texts], kind="stable")
    parts = []
    seconds = 0.0  # encoding time of the chunks encoded now or before (stoppable: the
    # chunks are cached, a restart continues where the last run stopped)
    for i in tqdm(range(0, len(texts), chunk_size), desc=f"{label} {model}", unit="chunk"):
        part = VECTORS / "parts" / f"{label}-{model}-{i // chunk_size:03d}.npz"
        if part.is_file():
            cached = np.load(part)
            parts.append(cached["vectors"])
            seconds += float(cached["seconds"])
            continue
        if encode_chunk is None:
            encode_chunk = encoder() if encoder is not None else sentence_transformer(model)
        chunk = [texts[j] for j in order[i:i + chunk_size]]
        start = time.perf_counter()
        parts.append(encode_chunk(chunk))
        took = time.perf_counter() - start
        seconds += took
        part.parent.mkdir(parents=True, exist_ok=True)
        np.savez(part, vectors=parts[-1], seconds=took)
    sorted_vectors = np.concatenate(parts)
    out = np.empty_like(sorted_vectors)
    out[order] = sorted_vectors
    VECTORS.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    meta.write_text(json.dumps({"seconds": seconds, "texts": len(texts),
                                "chars": sum(len(t) for t in texts)}))
    return out, seconds


def vector_run(bench: Bench, model: str) -> Run:
    """Exact-cosine vector leg of `model` (each LoCoMo question within its sample)."""
    ids, scopes, texts = documents(bench.dataset)
    docs, _ = encode(model, texts, f"{bench.dataset}-docs")
    questions = bench.queryset.queries
    queries, _ = encode(model, [parse_query(q.text).embedding_text for q in questions],
                        f"{bench.dataset}-queries")
    return exact_run(bench, (ids, scopes), (docs, queries), model)


def exact_run(bench: Bench, where: tuple[list[str], list[str]],
              vectors: tuple[np.ndarray, np.ndarray], name: str, depth: int = DEPTH) -> Run:
    """Rank by exact cosine: `where` is (doc ids, scope per doc) as `documents` gives
    them, `vectors` (document vectors, one per question of `bench`); each LoCoMo
    question is ranked within its sample."""
    ids_arr, scopes_arr = np.array(where[0]), np.array(where[1])
    docs, queries = vectors
    masks = {s: scopes_arr == s for s in set(where[1])}
    data = {}
    for query, qvec in zip(bench.queryset.queries, queries, strict=True):
        scope = query.id.rsplit(":", 1)[0] if bench.dataset == "locomo" else ""
        mask = masks[scope]
        scores = docs[mask] @ qvec
        top = np.argsort(-scores, kind="stable")[:depth]
        data[query.id] = {str(ids_arr[mask][i]): float(scores[i]) for i in top}
    return make_run(data, name)


# -- the tables ---------------------------------------------------------------------------
def families(bench: Bench, lex: Run, vec: Run, name: str) -> dict[str, CVResult]:
    """Vector leg, hybrid at the default 0.7/0.3 and hybrid with the share tuned in fold."""
    return {
        "vector": bench.cross_validate(f"{name} vector", {"vector": vec}),
        "hybrid 0.7": bench.cross_validate(f"{name} hybrid 0.7",
                                           {"w=0.7": fuse(lex, vec, (0.7, 0.3))}),
        "hybrid tuned": bench.cross_validate(
            f"{name} hybrid tuned",
            {f"w={x}": fuse(lex, vec, (x, round(1 - x, 2))) for x in WEIGHTS}),
    }


def encoded(dataset: str, model: str) -> bool:
    """True when `model`'s documents and queries of `dataset` are in the vector cache."""
    return all((VECTORS / f"{dataset}-{label}-{model}.json").is_file()
               for label in ("docs", "queries"))


def encode_all(dataset: str, models: list[str]) -> None:
    """Encode (and cache) `dataset`'s documents and questions with each of `models`."""
    bench = Bench(dataset)
    texts = documents(dataset)[2]
    questions = [parse_query(q.text).embedding_text for q in bench.queryset.queries]
    for model in models:
        encode(model, questions, f"{dataset}-queries")
        encode(model, texts, f"{dataset}-docs")


def main(dataset: str) -> dict:
    """Every encoded model against the service's vector leg (all-MiniLM-L6-v2 fp32, HNSW:
    today's figures) and against the lexical leg, out of fold."""
    bench = Bench(dataset)
    lex = bench.leg("lexical", LEXICAL)
    lexical = bench.cross_validate("lexical", {"lexical": lex})
    reference = families(bench, lex, bench.leg("vector"), REFERENCE_NAME)
    results = {REFERENCE_NAME: reference}
    results.update({model: families(bench, lex, vector_run(bench, model), model)
                    for model in MODELS if encoded(dataset, model)})
    out: dict = {"dataset": dataset, "folds": [len(f) for f in bench.folds],
                 "encode": {}, "rows": []}
    for model in results:
        for label in ("docs", "queries"):
            meta = VECTORS / f"{dataset}-{label}-{model}.json"
            if meta.is_file():
                out["encode"][f"{label} {model}"] = json.loads(meta.read_text())
    for metric in ("ndcg@10", "recall@10"):
        out["rows"].append(_row("lexical (BM25 k1 0.9, b 0.5)", lexical, metric))
        for model, fams in results.items():
            for family, result in fams.items():
                row = _row(f"{model} {family}", result, metric)
                if model != REFERENCE_NAME:
                    test = bench.compare(result, reference[family], metric)
                    row.update(delta_ref=test["delta"], p_ref=(test["p_t"], test["p_fisher"]),
                               significant_ref=bool(test["significant"]))
                if family != "vector":
                    test = bench.compare(result, lexical, metric)
                    row.update(delta_lex=test["delta"], p_lex=(test["p_t"], test["p_fisher"]),
                               significant_lex=bool(test["significant"]))
                out["rows"].append(row)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"models-{dataset}.json").write_text(json.dumps(out, indent=1))
    print(markdown(out))
    return out


def _row(name: str, result: CVResult, metric: str) -> dict:
    low, high, std = result.spread(metric)
    return {"run": name, "metric": metric, "mean": round(result.mean(metric), 4),
            "folds": [round(f[metric], 4) for f in result.folds],
            "chosen": [f["chosen"] for f in result.folds],
            "fold_min": round(low, 4), "fold_max": round(high, 4), "fold_std": round(std, 4)}


def markdown(out: dict) -> str:
    """The per-fold table of `main`'s output."""
    n = len(out["folds"])
    head = ("| run | metric | " + " | ".join(f"fold {i + 1} ({k})" for i, k in
                                            enumerate(out["folds"]))
            + " | mean | Δ vs service MiniLM (p t / Fisher) | Δ vs lexical (p t / Fisher) |")
    lines = [head, "|" + "---|" * (n + 5)]
    for row in out["rows"]:
        ref = (f"{row['delta_ref']:+.3f} ({row['p_ref'][0]:.3f} / {row['p_ref'][1]:.3f})"
               + (" *" if row["significant_ref"] else "")) if "delta_ref" in row else "–"
        lex = (f"{row['delta_lex']:+.3f} ({row['p_lex'][0]:.3f} / {row['p_lex'][1]:.3f})"
               + (" *" if row["significant_lex"] else "")) if "delta_lex" in row else "–"
        folds = " | ".join(f"{v:.3f}" for v in row["folds"])
        lines.append(f"| {row['run']} | {row['metric']} | {folds} | **{row['mean']:.3f}** "
                     f"| {ref} | {lex} |")
    chosen = {r["run"]: r["chosen"] for r in out["rows"] if "tuned" in r["run"]}
    lines.append("")
    lines.extend(f"- {run}: chosen per fold {', '.join(c)}" for run, c in chosen.items())
    return "\n".join(lines)


# -- speed --------------------------------------------------------------------------------
def speed(rounds: int = 2, short: int = 64, long: int = 8) -> dict:
    """texts/s of each model (and mpnet fp32) on the same LoCoMo turns and NFCorpus
    abstracts, alternated `rounds` times in one process; medians and ratios to MiniLM fp32."""
    rng = np.random.default_rng(0)
    sets = {}
    for dataset, size in (("locomo", short), ("nfcorpus", long)):
        texts = documents(dataset)[2]
        sets[dataset] = [texts[i] for i in rng.choice(len(texts), size, replace=False)]
    models = (*MODELS, "all-mpnet-base-v2@fp32")
    embedders = {m: SentenceTransformerEmbedder(m) for m in models}
    for embedder in embedders.values():
        embedder.warm_up()
    rates: dict[str, dict[str, list[float]]] = {d: {m: [] for m in models} for d in sets}
    for _ in tqdm(range(rounds), desc="speed rounds"):
        for dataset, texts in sets.items():
            for model, embedder in embedders.items():
                start = time.perf_counter()
                embedder.encode(texts, batch_size=BATCH)
                rates[dataset][model].append(len(texts) / (time.perf_counter() - start))
    out = {}
    for dataset, per_model in rates.items():
        ref = statistics.median(per_model[REFERENCE])
        out[dataset] = {
            "texts": len(sets[dataset]),
            "mean_chars": round(float(np.mean([len(t) for t in sets[dataset]])), 1),
            **{m: {"texts_per_s": round(statistics.median(r), 2),
                   "vs_minilm_fp32": round(statistics.median(r) / ref, 3),
                   "all": [round(x, 2) for x in r]} for m, r in per_model.items()},
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "models-speed.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    if sys.argv[1] == "speed":
        speed()
    elif sys.argv[1] == "encode":  # encode DATASET MODEL...
        encode_all(sys.argv[2], sys.argv[3:])
    else:
        main(sys.argv[1])
