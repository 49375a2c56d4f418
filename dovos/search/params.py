"""Search parameters: code defaults < the `settings` table < per-call overrides.

The tuning notebook stores what it found (with where it came from) under
SEARCH_PARAMS_KEY; the service and the API read it on every search, so a tuned value
takes effect without a restart. Values are checked here so that a bad setting or
override is an InvalidQueryError naming the parameter, never a PostgreSQL error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

from dovos.search.types import (
    SEARCH_PARAMS_KEY,
    Fusion,
    InvalidQueryError,
    LexicalOperator,
    LexicalScorer,
    SearchParams,
)

LIMITS: dict[str, tuple[float, float]] = {
    "rrf_k": (0, 100_000),
    "lexical_weight": (0, 1_000),
    "vector_weight": (0, 1_000),
    "candidates": (1, 10_000),
    "ef_search": (1, 1_000),
    "bm25_k1": (0, 100),
    "bm25_b": (0, 1),
    "context_weight": (0, 10),
    "lexical_pool": (1, 100_000),
    "common_term_share": (0, 1),
    "common_term_min_docs": (0, 1_000_000_000),
    "lexical_budget": (0, 1_000_000_000),
    "champion_depth": (0, 1_000_000),
    "champion_candidates": (1, 1_000_000),
    "champion_floor_weight": (0, 1),
    "fuzzy_below": (0, 10_000),
    "fuzzy_threshold": (0, 1),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "fusion": get_args(Fusion),
    "lexical_scorer": get_args(LexicalScorer),
    "lexical_operator": get_args(LexicalOperator),
}


def validate(params: SearchParams) -> SearchParams:
    """`params` if every value is usable; InvalidQueryError naming the first that is not."""
    for name, allowed in CHOICES.items():
        if getattr(params, name) not in allowed:
            raise InvalidQueryError(
                f"search parameter {name}={getattr(params, name)!r} is not one of {', '.join(allowed)}"
            )
    for name, (low, high) in LIMITS.items():
        value = getattr(params, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise InvalidQueryError(
                f"search parameter {name}={value!r} must be a number in [{low:g}, {high:g}]"
            )
    if params.lexical_weight == 0 and params.vector_weight == 0:
        raise InvalidQueryError("search parameters lexical_weight and vector_weight are both 0")
    return params


def merge(base: SearchParams, overrides: SearchParams | dict[str, Any] | None) -> SearchParams:
    """`base` with `overrides` applied (a SearchParams replaces it whole)."""
    if overrides is None:
        return validate(base)
    if isinstance(overrides, SearchParams):
        return validate(overrides)
    if not isinstance(overrides, dict):
        raise InvalidQueryError(f"search params must be a dict, got {type(overrides).__name__}")
    try:
        return validate(base.merged(overrides))
    except ValueError as error:
        if isinstance(error, InvalidQueryError):
            raise
        raise InvalidQueryError(str(error)) from error


def from_setting(value: Any) -> SearchParams:
    """Defaults overridden by a stored settings value; unknown stored names are ignored
    (a newer notebook may store parameters this code does not know yet)."""
    defaults = SearchParams()
    stored = value.get("params") if isinstance(value, dict) else None
    if not isinstance(stored, dict):
        return defaults
    known = {k: v for k, v in stored.items() if k in defaults.as_dict()}
    try:
        return validate(defaults.merged(known))
    except (ValueError, TypeError):
        return defaults


def setting_value(params: SearchParams, provenance: dict[str, Any]) -> dict[str, Any]:
    """What save_params stores: the parameters and where they came from."""
    validate(params)
    stamped = {"date": datetime.now(UTC).isoformat(timespec="seconds"), **provenance}
    return {"params": params.as_dict(), "provenance": stamped}


__all__ = ["SEARCH_PARAMS_KEY", "from_setting", "merge", "setting_value", "validate"]
