"""Lexical-leg variants that need the service (BM25 k1/b, turn-context weight, question
rewriting): one cached run each, per dataset.

    DOVOS_HOME=/tmp/ideas-home python -m eval.experiments.lexical_variants locomo
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

from ranx import Run

from eval.experiments.harness import Bench

BM25_GRID: list[dict[str, Any]] = [
    {"bm25_k1": k1, "bm25_b": b} for k1, b in ((0.9, 0.5), (0.9, 0.9), (1.5, 0.5), (1.5, 0.9))
]
CONTEXT_GRID: list[dict[str, Any]] = [{"context_weight": w} for w in (0.0, 0.25, 1.0)]


def speaker_names(bench: Bench) -> set[str]:
    """LoCoMo speakers (every turn starts with one): candidates to drop from questions."""
    from eval.experiments.prepare import datasets

    names = set()
    for conversation in datasets()["locomo"].load_conversations():
        names.update(m.content.split(":", 1)[0].lower() for m in conversation.messages)
    return names


def without_names(names: set[str]) -> Callable[[str], str]:
    def rewrite(text: str) -> str:
        words = re.split(r"(\W+)", text)
        return "".join(w for w in words if re.sub(r"['’]s$", "", w.lower()) not in names)

    return rewrite


def variants(bench: Bench) -> dict[str, Run]:
    """Label -> lexical run (computed on first use, then read from the cache)."""
    runs = {"default": bench.leg("lexical")}
    for params in BM25_GRID:
        runs[f"k1={params['bm25_k1']} b={params['bm25_b']}"] = bench.leg("lexical", params)
    if bench.dataset == "locomo":
        for params in CONTEXT_GRID:
            runs[f"context {params['context_weight']}"] = bench.leg("lexical", params)
        runs["names dropped"] = bench.leg(
            "lexical", query_text=without_names(speaker_names(bench)), tag="no-names")
    return runs


if __name__ == "__main__":
    bench = Bench(sys.argv[1])
    for label, run in variants(bench).items():
        print(label, bench.per_query(run).mean().round(4).to_dict(), flush=True)
