"""The lexical leg's candidate budget (`lexical_budget`) on the real database: exact BM25
where nothing can be pruned, the rare term found among many common ones, the fallback
for queries of common terms only, and writes reflected at once (no side structure)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from dovos.importers.parsed import ParsedConversation, ParsedMessage
from dovos.ingest import ingest
from dovos.search.service import SearchService
from dovos.search.types import SearchParams

COMMON = 200  # messages holding "alpha" (every other one "beta" too)
NO_CONTEXT = {"context_weight": 0.0, "candidates": 1000}


def _conversations(source_id: str, texts: list[str]) -> list[ParsedConversation]:
    day = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        ParsedConversation("chatgpt", f"{source_id}-{start}", f"{source_id} {start}",
                           [ParsedMessage("user", text) for text in texts[start:start + 20]],
                           created_at=day)
        for start in range(0, len(texts), 20)
    ]


def _store(database: Any, source_id: str, texts: list[str]) -> None:
    with database.connect() as conn:
        ingest(conn, _conversations(source_id, texts))


@pytest.fixture
def archive(database):  # type: ignore[no-untyped-def]
    """COMMON messages with a common word, one with a rare word, a few others."""
    texts = [f"alpha {'beta ' if i % 2 else ''}note {'gamma ' * (i % 3)}item{i}"
             for i in range(COMMON)]  # distinct contents: the tests key scores by content
    texts[57] = "alpha zygote sighting in the lab notes"
    texts += ["delta epsilon only", "gamma ray zygote long long long long long story"]
    _store(database, "budget", texts)
    return SearchService(database, None)


def _bm25(database: Any, query: str, k1: float = SearchParams().bm25_k1,
          b: float = SearchParams().bm25_b) -> dict[str, float]:
    """BM25 of every message holding a query lexeme, computed here from the tsvectors
    (with the default k1 and b the service uses)."""
    with database.connect() as conn:
        lexemes = {row[0] for row in conn.execute(
            "SELECT unnest(tsvector_to_array(to_tsvector('english', %s)))", (query,))}
        rows = conn.execute(
            "SELECT m.content, length(m.search_vector), u.lexeme, cardinality(u.positions) "
            "FROM messages m, unnest(m.search_vector) AS u").fetchall()
    lengths = {content: length for content, length, _, _ in rows}
    n, avgdl = len(lengths), sum(lengths.values()) / len(lengths)
    df: dict[str, int] = {}
    for _, _, lexeme, _ in rows:
        df[lexeme] = df.get(lexeme, 0) + 1
    scores: dict[str, float] = {}
    for content, length, lexeme, tf in rows:
        if lexeme in lexemes:
            idf = math.log(1 + (n - df[lexeme] + 0.5) / (df[lexeme] + 0.5))
            norm = tf + k1 * (1 - b + b * length / avgdl)
            scores[content] = scores.get(content, 0.0) + idf * tf * (k1 + 1) / norm
    return scores


def _scores(service: SearchService, query: str, **params: Any) -> dict[str, float]:
    response = service.search(query, mode="lexical", k=1000, params={**NO_CONTEXT, **params})
    return {hit.content: hit.lexical_score for hit in response.hits}


def test_budget_equals_exact_bm25_where_nothing_is_pruned(archive, database) -> None:  # type: ignore[no-untyped-def]
    for query in ("zygote gamma", "alpha zygote", "delta ray story"):
        budgeted = _scores(archive, query)  # default budget: far above this archive's df sums
        exact = _scores(archive, query, lexical_budget=0)
        expected = _bm25(database, query)
        assert budgeted == exact
        assert budgeted.keys() == expected.keys()
        for content, score in expected.items():
            assert budgeted[content] == pytest.approx(score, rel=1e-9)


def test_rare_term_is_found_among_many_common_ones(archive) -> None:  # type: ignore[no-untyped-def]
    exact = _scores(archive, "alpha zygote", lexical_budget=0)
    budgeted = _scores(archive, "alpha zygote", lexical_budget=50)
    assert len(exact) == COMMON + 1  # every "alpha" message was scored
    # Only the rare term selects candidates; the common one still adds its BM25 share.
    assert list(budgeted) == ["alpha zygote sighting in the lab notes",
                              "gamma ray zygote long long long long long story"]
    for content, score in budgeted.items():
        assert score == pytest.approx(exact[content], rel=1e-9)
    assert next(iter(exact)) == next(iter(budgeted))


def test_common_terms_only_fall_back_to_all_terms_capped(archive) -> None:  # type: ignore[no-untyped-def]
    exact = _scores(archive, "alpha beta", lexical_budget=0)
    budgeted = _scores(archive, "alpha beta", lexical_budget=30)
    assert len(exact) == COMMON
    assert 0 < len(budgeted) <= 30  # both terms exceed the budget: AND of them, 30 rows read
    assert all("alpha" in c and "beta" in c for c in budgeted)
    for content, score in budgeted.items():
        assert score == pytest.approx(exact[content], rel=1e-9)


def test_new_and_changed_messages_are_reflected(archive, database) -> None:  # type: ignore[no-untyped-def]
    query, rare = "alpha zygote", {"lexical_budget": 50}
    before = _scores(archive, query, **rare)
    _store(database, "later", ["a zygote again, later", "nothing here"])
    with database.connect() as conn:
        conn.execute("UPDATE messages SET content = 'alpha without it now' "
                     "WHERE content LIKE 'alpha zygote sighting%%'")
        conn.execute("UPDATE messages SET content = 'alpha note zygote too' "
                     "WHERE content = 'alpha note item0'")
        conn.commit()
    after = _scores(archive, query, **rare)
    assert "alpha zygote sighting in the lab notes" in before
    assert set(after) == {"alpha note zygote too", "a zygote again, later",
                          "gamma ray zygote long long long long long story"}
    assert after == pytest.approx({c: s for c, s in _bm25(database, query).items() if c in after})
