"""How much faster the fusion sliders are than re-ranking in the database.

The tuning widget re-fuses cached leg runs in memory on every slider move. The
reference, measured in the same run, is what the move would cost otherwise: the same
weighted fusion run through the search service (one hybrid SQL statement per query) and
scored by the evaluation pipeline (`evaluate_querysets`). Both must give the same
nDCG@10 (the widget shows what the database would rank); the benchmark prints the time
per slider position of each and their ratio.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from dovos.evaluation.pipeline import evaluate_querysets, prepare_dataset
from dovos.evaluation.tuning import leg_runs
from dovos.evaluation.widgets import FusionExplorer
from dovos.search.types import SearchParams


@dataclass(frozen=True)
class FusionBenchmark:
    """Figures of one run (milliseconds per slider position)."""

    dataset: str
    queries: int
    positions: int
    memory_ms: float  # in-memory re-fusion and scoring, per position
    database_ms: float  # the same fusion through the service, per position (reference)
    speedup: float  # database / memory
    max_ndcg_difference: float  # between the two, over all positions

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_fusion_benchmark(
    database: Any, embedder: Any = None, dataset: str = "demo", positions: int = 6
) -> FusionBenchmark:
    """Time `positions` lexical weights in memory and through the database; print both."""
    prepared = prepare_dataset(dataset, database, embedder=embedder, progress=False)
    queryset = prepared.dataset.queryset.judged()
    base = SearchParams().as_dict()
    legs = leg_runs(prepared.service, queryset, base, progress=False)
    explorer = FusionExplorer(queryset, legs["lexical"], legs["vector"], metrics=["ndcg@10"])
    explorer.score("wsum", 0.5)  # compile ranx's numba functions before timing
    weights = [round(0.05 + 0.9 * i / max(positions - 1, 1), 3) for i in range(positions)]
    memory, started = {}, time.perf_counter()
    for weight in weights:
        memory[weight] = float(explorer._compute("wsum", weight, 60)["ndcg@10"])
    memory_ms = (time.perf_counter() - started) * 1000.0 / len(weights)
    in_database, started = {}, time.perf_counter()
    for weight in weights:
        params = {**base, "fusion": "weighted", "lexical_weight": weight, "vector_weight": 1 - weight}
        table, _, _, _ = evaluate_querysets(  # the evaluation pipeline's own path
            prepared.service, {queryset.name: queryset}, ["hybrid"], params=params,
            metrics=["ndcg@10"], compare=False, progress=False)
        in_database[weight] = float(table.loc[(queryset.name, "hybrid"), "ndcg@10"])
    database_ms = (time.perf_counter() - started) * 1000.0 / len(weights)
    result = FusionBenchmark(
        dataset=prepared.dataset.name,
        queries=len(queryset),
        positions=len(weights),
        memory_ms=round(memory_ms, 1),
        database_ms=round(database_ms, 1),
        speedup=round(database_ms / memory_ms, 1),
        max_ndcg_difference=max(abs(memory[w] - in_database[w]) for w in weights),
    )
    print_fusion_benchmark(result)
    return result


def print_fusion_benchmark(result: FusionBenchmark) -> None:
    print(
        f"\nFusion slider on {result.dataset} ({result.queries} queries, "
        f"{result.positions} weights):\n"
        f"  in memory (fusion + ranx evaluate)    {result.memory_ms:>9.1f} ms per position\n"
        f"  through the database (reference)      {result.database_ms:>9.1f} ms per position\n"
        f"  speed-up                              {result.speedup:>9.1f}x\n"
        f"  largest nDCG@10 difference            {result.max_ndcg_difference:>9.2g}"
    )
