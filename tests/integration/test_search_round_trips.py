"""A search reads the champion lists' watermark only when its statement can use the
lists, and then in the same round trip as the transaction's knobs (issue 16): a
filtered search, `lexical_budget=0`, `champion_depth=0` or the vector mode send no
statement about the lists, and the lexical leg's results are those of the lists read
as before."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dovos.repositories import champions
from dovos.search.service import SearchService
from dovos.search.sql import uses_champion_lists
from dovos.search.types import SearchFilters, SearchParams
from tests.integration.test_search_lexical_budget import _store

SINCE_2000 = SearchFilters(date_from=datetime(2000, 1, 1, tzinfo=UTC))  # keeps every message


@pytest.fixture
def archive(database):  # type: ignore[no-untyped-def]
    """Common "alpha" messages with lists built over them; dropped afterwards."""
    texts = [f"alpha {'alpha ' * (i % 3)}{'word ' * (i % 5)}item{i}" for i in range(80)]
    texts += ["zygote alpha story", "gamma ray zygote"]
    _store(database, "round trips", texts)
    with database.connect() as conn:
        champions.rebuild(conn, min_df=20, depth=10, k1=SearchParams().bm25_k1, b=SearchParams().bm25_b)
        conn.commit()
    yield SearchService(database, None)
    with database.connect() as conn:
        champions.drop(conn)
        conn.commit()


def _about_lists(sent: list[str]) -> list[str]:
    return [s for s in sent if "lexeme_champion_state" in s]


@pytest.mark.parametrize("params, filters", [
    ({"lexical_budget": 0}, None),
    ({"champion_depth": 0}, None),
    ({}, SINCE_2000),
    ({"lexical_scorer": "ts_rank_cd"}, None),
])
def test_no_watermark_read_when_the_lists_are_off(archive: SearchService, statements: list[str],
                                                  params: dict[str, Any],
                                                  filters: SearchFilters | None) -> None:
    response = archive.search("alpha zygote", mode="lexical", filters=filters, params=params)
    assert response.hits
    assert not uses_champion_lists("lexical", SearchParams(**params), filters)
    assert _about_lists(statements) == []
    assert not any("__WATERMARK__" in s for s in statements)


def test_with_lists_the_watermark_comes_with_the_knobs(archive: SearchService,
                                                       statements: list[str]) -> None:
    archive.search("alpha zygote", mode="lexical", params={"champion_candidates": 10})
    read = _about_lists(statements)
    assert len(read) == 1 and "set_config('hnsw.ef_search'" in read[0]
    # the statement got the real watermark, not 'infinity' (the lists are on)
    ranking = [s for s in statements if "champion_hits" in s]
    assert len(ranking) == 1 and "'infinity'::timestamptz" not in ranking[0]


def test_same_results_as_a_separate_watermark_read(archive: SearchService, database) -> None:  # type: ignore[no-untyped-def]
    """The statement built with the watermark read on its own (the code before) ranks
    the same messages with the same scores."""
    from dovos.search.query import parse_query
    from dovos.search.sql import build_statement

    params = SearchParams(champion_candidates=10, context_weight=0.0)
    for query in ("alpha", "alpha zygote", "alpha word item7"):
        parsed = parse_query(query)
        with database.connect() as conn:
            watermark = champions.watermark(conn)
            sql, values = build_statement("lexical", params, None, watermark)
            values.update(k=20, words=list(parsed.terms), qvec=None,
                          tsquery=parsed.tsquery(params.lexical_operator))
            conn.execute("SELECT set_config('pg_trgm.similarity_threshold', '0.5', true)")
            rows = conn.execute(sql, values).fetchall()
            conn.rollback()
        expected = [(row[0], pytest.approx(row[10], rel=1e-12)) for row in rows]
        got = archive.search(query, mode="lexical", k=20,
                             params={"champion_candidates": 10, "context_weight": 0.0})
        assert [(h.message_id, h.score) for h in got.hits] == expected, query
        assert expected


def test_uses_champion_lists_cases() -> None:
    on = SearchParams()
    assert uses_champion_lists("hybrid", on, None)
    assert uses_champion_lists("lexical", on, SearchFilters())  # an empty filter filters nothing
    assert not uses_champion_lists("vector", on, None)
    assert not uses_champion_lists("hybrid", on, SINCE_2000)
    assert not uses_champion_lists("hybrid", SearchParams(lexical_budget=0), None)
    assert not uses_champion_lists("hybrid", SearchParams(champion_depth=0), None)
