"""Search quality on LoCoMo: turn-level evidence retrieval per mode, with ablations.

Protocol of the dataset README: every question is searched within its own sample (the
"locomo" query set of `dovos.evaluation.datasets.locomo_dataset`); the whole-archive
variant searches all samples at once ("locomo-archive"). A question's relevant documents
are its evidence turns (doc id = `source_message_id`). The figures come from the
evaluation pipeline (`evaluate_querysets`: the same runs, deterministic ties and ranx
metrics as `dovos eval` and `dovos bench`); this module only chooses the variants and
prints recall@5, recall@10 and nDCG@10 beside the README's reference figures (bm25s BM25,
MiniLM exact, their fusion).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dovos.evaluation.datasets import Dataset, locomo_dataset
from dovos.evaluation.pipeline import evaluate_querysets
from dovos.evaluation.querysets import QuerySet
from dovos.search.service import SearchService

METRICS = ("recall@5", "recall@10", "ndcg@10")
DEPTH = 10
PROTOCOLS = {"per-sample": "locomo", "whole-archive": "locomo-archive"}  # -> query set name
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


def measure(
    service: Any,
    queryset: QuerySet,
    variants: Iterable[Variant] = DEFAULT_VARIANTS,
    *,
    progress: bool = True,
) -> dict[str, dict[str, float]]:
    """recall@5, recall@10 and nDCG@10 per variant label, through the evaluation pipeline."""
    figures = {}
    for variant in variants:
        table, _, _, _ = evaluate_querysets(
            service, {queryset.name: queryset}, [variant.mode], depth=DEPTH,
            params=variant.params, metrics=list(METRICS), compare=False, progress=progress)
        row = table.loc[(queryset.name, variant.mode)]
        figures[variant.label] = {metric: float(row[metric]) for metric in METRICS}
    return figures


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
    dataset: Dataset | str | Path,
    *,
    variants: Iterable[Variant] = DEFAULT_VARIANTS,
    ablations: Iterable[Variant] = ABLATIONS,
    embedder: Any = None,
    progress: bool = True,
) -> dict[str, dict[str, dict[str, float]]]:
    """Both protocols for `variants` (plus `ablations`, per-sample only) on an archive
    holding LoCoMo (`dataset`: its evaluation Dataset or the path of its JSON file),
    already embedded; prints the tables and returns {protocol: {label: {metric: value}}}."""
    if not isinstance(dataset, Dataset):
        dataset = locomo_dataset(Path(dataset))
    service = SearchService(database, embedder)
    variants = list(variants)
    figures = {}
    for protocol, name in PROTOCOLS.items():
        runs = variants + (list(ablations) if protocol == "per-sample" else [])
        figures[protocol] = measure(service, dataset.querysets[name], runs, progress=progress)
        print(format_table(figures[protocol], protocol), end="\n\n")
    info = dataset.info
    print(
        f"{info.get('questions')} questions; skipped without evidence: "
        f"{info.get('skipped_questions')}; dropped evidence ids: {info.get('dropped_evidence')}"
    )
    per_sample = figures["per-sample"]
    for mode, aim in AIMS.items():
        got = per_sample[mode]["recall@10"]
        print(f"aim {mode} recall@10 >= {aim}: {got:.3f} ({'met' if got >= aim else 'NOT met'})")
    return figures
