"""Search quality on LoCoMo: turn-level evidence retrieval per mode.

Protocol of the dataset README: every question is searched within its own sample
(`conversation_metadata={"sample_id": ...}`); the whole-archive variant searches all
samples at once. A question's relevant documents are its evidence turns (doc id =
`source_message_id`). Metrics are ranx's recall@5, recall@10 and nDCG@10, printed as a
table beside the README's reference figures (bm25s BM25, MiniLM exact, their fusion).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ranx import Qrels, Run, evaluate
from tqdm.auto import tqdm

from dovos.evaluation.locomo import LocomoDataset, LocomoQuestion
from dovos.search.service import SearchService
from dovos.search.types import SearchFilters

METRICS = ("recall@5", "recall@10", "ndcg@10")
DEPTH = 10
# From ../shared/datasets/locomo/README.md (measured on the same dev file).
REFERENCE = {
    "per-sample": {
        "BM25 (bm25s)": {"recall@10": 0.579, "ndcg@10": 0.427},
        "MiniLM exact": {"recall@10": 0.451, "ndcg@10": 0.299},
        "weighted sum 0.7 lexical": {"recall@10": 0.632, "ndcg@10": 0.460},
        "RRF k=60": {"recall@10": 0.568},
        "DRAGON (paper, full LoCoMo)": {"recall@5": 0.588, "recall@10": 0.675},
    },
    "whole-archive": {
        "BM25 (bm25s)": {"recall@10": 0.496},
        "MiniLM exact": {"recall@10": 0.417},
        "weighted sum 0.7 lexical": {"recall@10": 0.565},
    },
}
AIMS = {"lexical": 0.579, "vector": 0.48, "hybrid": 0.70}


@dataclass
class Variant:
    """One row of the table: a mode with its parameter overrides."""

    label: str
    mode: str
    params: dict[str, Any] | None = None


DEFAULT_VARIANTS = (
    Variant("lexical", "lexical"),
    Variant("vector", "vector"),
    Variant("hybrid", "hybrid"),
)
# What the defaults were chosen against (per-sample protocol only: they cost time).
ABLATIONS = (
    Variant("lexical, no turn context", "lexical", {"context_weight": 0.0}),
    Variant("lexical, ts_rank_cd", "lexical", {"lexical_scorer": "ts_rank_cd"}),
    Variant("lexical, AND of words", "lexical", {"lexical_operator": "and"}),
    Variant("hybrid, RRF k=60", "hybrid",
            {"fusion": "rrf", "rrf_k": 60, "lexical_weight": 1.0, "vector_weight": 1.0}),
)


def run_queries(
    service: SearchService,
    questions: Iterable[LocomoQuestion],
    variant: Variant,
    *,
    per_sample: bool = True,
    depth: int = DEPTH,
    progress: bool = False,
) -> dict[str, dict[str, float]]:
    """A ranx-shaped run {query_id: {source_message_id: score}} for one variant."""
    run: dict[str, dict[str, float]] = {}
    questions = list(questions)
    for question in tqdm(questions, desc=variant.label, disable=not progress):
        filters = (
            SearchFilters(conversation_metadata={"sample_id": question.sample_id})
            if per_sample
            else None
        )
        response = service.search(
            question.text, mode=variant.mode, k=depth, filters=filters, params=variant.params
        )
        # Scores from ranks: ranx re-sorts by score, and ties must not reorder the list.
        run[question.query_id] = {
            hit.source_message_id or str(hit.message_id): float(depth + 1 - hit.rank)
            for hit in response.hits
        } or {"<none>": 0.0}
    return run


def score_run(
    dataset: LocomoDataset, run: dict[str, dict[str, float]], questions: Iterable[LocomoQuestion]
) -> dict[str, float]:
    """recall@5, recall@10, nDCG@10 of `run` over `questions`."""
    ids = [q.query_id for q in questions]
    qrels = Qrels({qid: dataset.message_qrels[qid] for qid in ids})
    result = evaluate(qrels, Run({qid: run[qid] for qid in ids}), list(METRICS))
    return {name: float(result[name]) for name in METRICS}


def measure(
    service: SearchService,
    dataset: LocomoDataset,
    variants: Iterable[Variant] = DEFAULT_VARIANTS,
    *,
    per_sample: bool = True,
    questions: list[LocomoQuestion] | None = None,
    progress: bool = True,
) -> dict[str, dict[str, float]]:
    """Metrics per variant label."""
    questions = questions if questions is not None else dataset.questions
    return {
        v.label: score_run(
            dataset,
            run_queries(service, questions, v, per_sample=per_sample, progress=progress),
            questions,
        )
        for v in variants
    }


def format_table(results: dict[str, dict[str, float]], protocol: str) -> str:
    """Our rows, then the README's reference rows, one metric per column."""
    lines = [f"LoCoMo dev, turn-level evidence retrieval, {protocol}",
             f"{'run':<34}" + "".join(f"{m:>11}" for m in METRICS)]
    for label, values in results.items():
        lines.append(f"{label:<34}" + "".join(f"{values[m]:>11.3f}" for m in METRICS))
    for label, values in REFERENCE.get(protocol, {}).items():
        cells = "".join(
            f"{values[m]:>11.3f}" if m in values else f"{'-':>11}" for m in METRICS
        )
        lines.append(f"{'ref: ' + label:<34}" + cells)
    return "\n".join(lines)


def search_quality(
    database: Any,
    dataset: LocomoDataset,
    *,
    variants: Iterable[Variant] = DEFAULT_VARIANTS,
    ablations: Iterable[Variant] = ABLATIONS,
    embedder: Any = None,
    progress: bool = True,
) -> dict[str, dict[str, dict[str, float]]]:
    """Both protocols for `variants` (plus `ablations`, per-sample only) on an archive
    holding `dataset` (already embedded); prints the tables and returns
    {protocol: {label: {metric: value}}}."""
    service = SearchService(database, embedder)
    variants = list(variants)
    figures = {}
    for protocol, per_sample in (("per-sample", True), ("whole-archive", False)):
        runs = variants + (list(ablations) if per_sample else [])
        figures[protocol] = measure(
            service, dataset, runs, per_sample=per_sample, progress=progress
        )
        print(format_table(figures[protocol], protocol), end="\n\n")
    print(
        f"{len(dataset.questions)} questions; skipped without evidence: "
        f"{dataset.skipped_questions}; dropped evidence ids: {len(dataset.dropped_evidence)}"
    )
    per_sample = figures["per-sample"]
    for mode, aim in AIMS.items():
        got = per_sample[mode]["recall@10"]
        print(f"aim {mode} recall@10 >= {aim}: {got:.3f} ({'met' if got >= aim else 'NOT met'})")
    return figures


def locomo_path(shared: Path) -> Path:
    return shared / "datasets" / "locomo" / "locomo10_dev.json"
