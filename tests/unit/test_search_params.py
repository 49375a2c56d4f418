"""Parameter resolution (defaults < settings < call) and the SQL built for each mode."""

from __future__ import annotations

import pytest

from dovos.search import params as resolution
from dovos.search.sql import build_statement
from dovos.search.types import InvalidQueryError, SearchFilters, SearchParams


def test_settings_override_defaults_and_unknown_stored_names_are_ignored() -> None:
    stored = {"params": {"rrf_k": 20, "fusion": "rrf", "from_the_future": 1},
              "provenance": {"dataset": "locomo"}}
    params = resolution.from_setting(stored)
    assert (params.rrf_k, params.fusion, params.candidates) == (20, "rrf", 100)


@pytest.mark.parametrize("stored", [None, {}, {"params": "x"}, {"params": {"rrf_k": -5}}])
def test_unusable_settings_fall_back_to_defaults(stored: object) -> None:
    assert resolution.from_setting(stored) == SearchParams()


def test_call_overrides_settings() -> None:
    base = SearchParams(rrf_k=20, candidates=50)
    merged = resolution.merge(base, {"rrf_k": 5})
    assert (merged.rrf_k, merged.candidates) == (5, 50)
    whole = SearchParams(fusion="rrf")
    assert resolution.merge(base, whole) == whole
    assert resolution.merge(base, None) == base


@pytest.mark.parametrize(
    ("overrides", "named"),
    [({"nope": 1}, "nope"), ({"bm25_b": 2}, "bm25_b"), ({"ef_search": True}, "ef_search"),
     ({"lexical_scorer": "tfidf"}, "lexical_scorer"), ({"candidates": "10"}, "candidates")],
)
def test_bad_values_name_the_parameter(overrides: dict, named: str) -> None:
    with pytest.raises(InvalidQueryError, match=named):
        resolution.merge(SearchParams(), overrides)


def test_stored_value_carries_provenance_and_date() -> None:
    value = resolution.setting_value(SearchParams(rrf_k=7), {"dataset": "d", "metric": "m"})
    assert value["params"]["rrf_k"] == 7
    assert value["provenance"]["dataset"] == "d" and value["provenance"]["date"]


@pytest.mark.parametrize("mode", ["lexical", "vector", "hybrid"])
@pytest.mark.parametrize("fusion", ["rrf", "weighted"])
def test_statement_binds_every_value(mode: str, fusion: str) -> None:
    filters = SearchFilters(sources=("claude",), roles=("user",),
                            conversation_metadata={"sample_id": "x'; DROP TABLE messages; --"})
    sql, values = build_statement(mode, SearchParams(fusion=fusion), filters)
    assert "DROP TABLE" not in sql and "claude" not in sql
    assert values["f_sources"] == ["claude"] and values["f_roles"] == ["user"]
    assert sql.count("c.metadata @> %(f_metadata)s") >= 1
    assert ("fts AS" in sql) == (mode != "vector")
    assert ("vec_hits AS" in sql) == (mode != "lexical")
    assert ("FULL OUTER JOIN" in sql) == (mode == "hybrid")
