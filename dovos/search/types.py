"""The search service's public types: parameters, filters, hits, responses.

These names are shared by the search service, the API adapter and the evaluation
workbench. Add fields freely; do not rename or remove existing ones.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Literal

Mode = Literal["lexical", "vector", "hybrid"]
Fusion = Literal["rrf", "weighted"]
LexicalScorer = Literal["bm25", "ts_rank_cd"]
LexicalOperator = Literal["or", "and"]
MODES: tuple[str, ...] = ("lexical", "vector", "hybrid")


@dataclass(frozen=True)
class SearchParams:
    """Tunable ranking parameters.

    Resolution order: these defaults, then the values stored in the `settings` table
    (key `search.params`, written by the tuning notebook), then per-call overrides.
    """

    # Weighted sum of min-max scores beat RRF on LoCoMo dev by ~0.08 recall@10 (docs/search.md).
    fusion: Fusion = "weighted"
    rrf_k: int = 60
    lexical_weight: float = 0.7
    vector_weight: float = 0.3
    candidates: int = 100  # depth of each leg before fusion
    ef_search: int = 100  # hnsw.ef_search; raised to at least `candidates`
    lexical_scorer: LexicalScorer = "bm25"  # or PostgreSQL's ts_rank_cd
    lexical_operator: LexicalOperator = "or"  # how plain words combine in the tsquery
    # k1 0.9 (chosen in every fold of LoCoMo dev and NFCorpus dev); b 0.2: measured with
    # each dataset in a database of its own (its own avgdl), b 0.5 -> 0.2 gains LoCoMo dev
    # hybrid nDCG@10 +0.015 (6/6 folds, p < 0.05) and leaves NFCorpus dev within noise
    # (docs/generalization.md, "BM25 b with each dataset's own statistics").
    bm25_k1: float = 0.9
    bm25_b: float = 0.2
    context_weight: float = 0.5  # share of the previous turn's BM25 a message inherits
    lexical_pool: int = 1000  # full-text matches scored before turn context is added
    common_term_share: float = 0.1  # terms in more messages do not select candidates alone
    common_term_min_docs: int = 1000  # ... nor terms in fewer messages than this: small
    # archives keep exact BM25 candidates (the skip only matters for speed at scale)
    lexical_budget: int = 20_000  # candidate messages BM25 scores at most (rarest terms
    # first; 0 = every match of the seed terms, the exact leg; docs/search.md)
    champion_depth: int = 2_000  # per common query term, messages read from its champion
    # list (migration 0007, built by `dovos db champions`; 0 = lists unused)
    champion_candidates: int = 5_000  # of those, the best by list weight BM25 scores
    # (5,000: at 1M as much of the exact top 10 as the budget, 2-3x faster; docs/search.md)
    champion_floor_weight: float = 0.0  # champion candidates rank by sum(idf x (list
    # weight - this x list floor)): 0 = the lower bound (a term's list missing a message
    # counts 0), 1 = the upper bound (it counts the list's floor, the most it can weigh)
    fuzzy_below: int = 3  # typo tolerance (pg_trgm) when full text finds fewer hits
    fuzzy_threshold: float = 0.5  # pg_trgm similarity a vocabulary correction needs

    def merged(self, overrides: dict[str, Any] | None) -> SearchParams:
        """A copy with `overrides` applied; unknown names raise ValueError naming them."""
        if not overrides:
            return self
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown search parameter(s): {', '.join(unknown)}")
        return replace(self, **overrides)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SearchFilters:
    """Restrict the candidate messages. Every given filter must hold (AND)."""

    sources: tuple[str, ...] | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    conversation_ids: tuple[uuid.UUID, ...] | None = None
    roles: tuple[str, ...] | None = None
    # JSON containment on conversations.metadata, e.g. {"sample_id": "conv-26"}.
    conversation_metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class SearchHit:
    """One ranked message with the evidence of each leg."""

    message_id: uuid.UUID
    conversation_id: uuid.UUID
    conversation_title: str
    conversation_source_id: str
    source_message_id: str | None
    role: str
    source: str
    created_at: datetime
    content: str
    snippet: str
    score: float  # fused score in hybrid mode, else the leg's own score
    rank: int  # 1-based position in this response
    lexical_score: float | None = None
    lexical_rank: int | None = None
    vector_score: float | None = None  # cosine similarity in [-1, 1]
    vector_rank: int | None = None
    message_metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchResponse:
    """What a search returns: the hits and how they were obtained."""

    query: str
    mode: Mode  # what was asked for
    effective_mode: Mode  # what ran (hybrid/vector fall back to lexical without embeddings)
    hits: list[SearchHit]
    params: SearchParams
    notes: list[str] = field(default_factory=list)  # e.g. why a fallback happened
    elapsed_ms: float = 0.0


class InvalidQueryError(ValueError):
    """The query or a parameter cannot be searched; the message names what is wrong."""


# The service (dovos/search/service.py) has this shape; the API and evaluation use only it:
#
#   class SearchService:
#       def __init__(self, database: Database, embedder: Embedder | None = None) -> None
#       def search(self, query: str, mode: Mode = "hybrid", k: int = 10,
#                  filters: SearchFilters | None = None,
#                  params: SearchParams | dict[str, Any] | None = None) -> SearchResponse
#       def stored_params(self) -> SearchParams            # defaults + settings table
#       def save_params(self, params: SearchParams, provenance: dict[str, Any]) -> None
#
# Stored parameters live in settings under SEARCH_PARAMS_KEY as
# {"params": {...SearchParams fields...}, "provenance": {"dataset", "metric", "date", ...}}.
SEARCH_PARAMS_KEY = "search.params"
