"""The in-database fusion agrees with `ranx.fuse` given the same two leg runs.

Each question is searched three times: lexical and vector (each to the candidate
depth: exactly the legs the hybrid statement fuses) and hybrid. ranx fuses the two leg
runs with the same method and parameters; the top-10 order must be the same. On LoCoMo
dev questions (one sample, per-sample protocol) when ../shared is present, on a
generated archive and generated questions otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SHARED_DIR
from ranx import Run, fuse
from search_support import truncate

from dovos.benchmarks.search_setup import embed_missing
from dovos.benchmarks.search_synthetic import generated_conversations, generated_queries
from dovos.evaluation.locomo import load_locomo
from dovos.ingest import ingest
from dovos.search.service import SearchService
from dovos.search.types import SearchFilters, SearchParams

LOCOMO = SHARED_DIR / "datasets" / "locomo" / "locomo10_dev.json"
SAMPLE = "conv-26"
MAX_QUESTIONS = 60

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(database_session, embedder) -> Iterator[tuple[SearchService, list[str], SearchFilters | None]]:  # type: ignore[no-untyped-def]
    truncate(database_session)
    if Path(LOCOMO).is_file():
        data = load_locomo(LOCOMO)
        parsed = [c for c in data.conversations if c.metadata["sample_id"] == SAMPLE]
        questions = [q.text for q in data.questions if q.sample_id == SAMPLE][:MAX_QUESTIONS]
        filters = SearchFilters(conversation_metadata={"sample_id": SAMPLE})
    else:
        parsed = generated_conversations(400)[0]
        questions = [q.text for q in generated_queries(MAX_QUESTIONS)]
        filters = None
    with database_session.connect() as conn:
        ingest(conn, parsed)
    embed_missing(database_session, embedder, progress=False)
    yield SearchService(database_session, embedder), questions, filters
    truncate(database_session)


def _legs(service, questions, filters, params):  # type: ignore[no-untyped-def]
    """Each leg's run. For RRF the run is the leg's ranking (scores = depth - rank + 1):
    a leg's equal scores (BM25 ties are common) are ordered by message id in the
    database, and ranx must see that same order, not its own sort of the tie."""
    lexical, vector = {}, {}
    for index, question in enumerate(questions):
        qid = f"q{index}"
        for mode, into, leg in (("lexical", lexical, "lexical"), ("vector", vector, "vector")):
            response = service.search(question, mode=mode, k=params.candidates,
                                      filters=filters, params=params)
            into[qid] = {
                str(h.message_id): (
                    float(params.candidates + 1 - getattr(h, f"{leg}_rank"))
                    if params.fusion == "rrf" else getattr(h, f"{leg}_score")
                )
                for h in response.hits
            }
    usable = [q for q in lexical if lexical[q] and vector[q]]
    return usable, lexical, vector


def _top10(run: Run, qid: str) -> list[str]:
    scores = run.to_dict()[qid]
    return [doc for doc, _ in sorted(scores.items(), key=lambda item: (-item[1], item[0]))][:10]


@pytest.mark.parametrize(
    ("params", "method", "norm", "ranx_params"),
    [
        (SearchParams(fusion="weighted", lexical_weight=0.7, vector_weight=0.3),
         "wsum", "min-max", {"weights": [0.7, 0.3]}),
        (SearchParams(fusion="weighted", lexical_weight=0.5, vector_weight=0.5, candidates=40),
         "wsum", "min-max", {"weights": [0.5, 0.5]}),
        (SearchParams(fusion="rrf", rrf_k=60, lexical_weight=1.0, vector_weight=1.0),
         "rrf", None, {"k": 60}),
    ],
    ids=["wsum-0.7", "wsum-0.5-depth40", "rrf-60"],
)
def test_database_fusion_matches_ranx(setup, params, method, norm, ranx_params) -> None:  # type: ignore[no-untyped-def]
    service, questions, filters = setup
    usable, lexical, vector = _legs(service, questions, filters, params)
    assert len(usable) >= 0.8 * len(questions)
    fused = fuse(
        [Run({q: lexical[q] for q in usable}), Run({q: vector[q] for q in usable})],
        norm=norm, method=method, params=ranx_params,
    )
    mismatches = []
    for qid in usable:
        question = questions[int(qid[1:])]
        response = service.search(question, mode="hybrid", k=10, filters=filters, params=params)
        ours = [str(h.message_id) for h in response.hits]
        if ours != _top10(fused, qid):
            mismatches.append(question)
    assert not mismatches, f"{len(mismatches)}/{len(usable)} differ, e.g. {mismatches[:3]}"
