"""Champion lists (migration 0007, dovos.repositories.champions) on the real database:
the lists hold each common lexeme's best messages by BM25 weight, the lexical leg
reads its common-term candidates from them, finds what was written after the build
through the full-text index, never returns a deleted or no longer matching message,
and ranks exactly as without lists when the lists cover every posting."""

from __future__ import annotations

import math
from typing import Any

import pytest

from dovos.repositories import champions
from dovos.search.service import SearchService
from dovos.search.types import SearchParams
from tests.integration.test_search_lexical_budget import _bm25, _store

NO_CONTEXT = {"context_weight": 0.0, "candidates": 1000}
COMMON = 120  # messages holding "alpha"


@pytest.fixture
def archive(database):  # type: ignore[no-untyped-def]
    """COMMON "alpha" messages of growing length (alpha repeated in some), a few others;
    the lists are dropped afterwards (the shared fixture empties only the core tables)."""
    texts = [f"alpha {'alpha ' * (i % 4)}{'beta ' if i % 2 else ''}{'word ' * (i % 9)}item{i}"
             for i in range(COMMON)]
    texts += ["delta epsilon only", "zygote alpha story", "gamma ray zygote"]
    _store(database, "champions", texts)
    yield SearchService(database, None)
    with database.connect() as conn:
        champions.drop(conn)
        conn.commit()


def _rebuild(database: Any, min_df: int, depth: int) -> champions.ChampionState:
    with database.connect() as conn:
        state = champions.rebuild(conn, min_df=min_df, depth=depth, k1=SearchParams().bm25_k1, b=SearchParams().bm25_b)
        conn.commit()
    return state


def _lists(database: Any) -> dict[str, list[tuple[float, str]]]:
    with database.connect() as conn:
        rows = conn.execute(
            "SELECT c.lexeme, c.impact, m.content FROM lexeme_champions c "
            "JOIN messages m ON m.id = c.message_id ORDER BY c.lexeme, c.impact DESC").fetchall()
    lists: dict[str, list[tuple[float, str]]] = {}
    for lexeme, impact, content in rows:
        lists.setdefault(lexeme, []).append((impact, content))
    return lists


def _weights(database: Any, lexeme: str) -> dict[str, float]:
    """BM25 weight without idf of `lexeme` in every message holding it, computed here
    (with the k1 and b the lists are built with: the search defaults)."""
    k1, b = SearchParams().bm25_k1, SearchParams().bm25_b
    with database.connect() as conn:
        rows = conn.execute(
            "SELECT m.content, length(m.search_vector), u.lexeme, cardinality(u.positions) "
            "FROM messages m, unnest(m.search_vector) AS u").fetchall()
    lengths = {content: length for content, length, _, _ in rows}
    avgdl = sum(lengths.values()) / len(lengths)
    return {content: tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avgdl))
            for content, length, lex, tf in rows if lex == lexeme}


def _scores(service: SearchService, query: str, **params: Any) -> dict[str, float]:
    response = service.search(query, mode="lexical", k=1000, params={**NO_CONTEXT, **params})
    return {hit.content: hit.lexical_score for hit in response.hits}


def test_lists_hold_the_best_messages_of_common_lexemes(archive, database) -> None:  # type: ignore[no-untyped-def]
    state = _rebuild(database, min_df=50, depth=10)
    lists = _lists(database)
    assert set(lists) == {"alpha", "beta", "word"}  # df 123, 60, 106; the rest <= 50
    assert state.lists == 3 and state.entries == 30
    weights = _weights(database, "alpha")
    best = sorted(weights.values(), reverse=True)
    kept = [impact for impact, _ in lists["alpha"]]
    assert kept == pytest.approx(best[:10], rel=1e-6)  # the 10 highest weights, in order
    for impact, content in lists["alpha"]:
        assert impact == pytest.approx(weights[content], rel=1e-6)


def test_common_terms_are_seeded_from_the_lists(archive, database) -> None:  # type: ignore[no-untyped-def]
    _rebuild(database, min_df=50, depth=10)
    listed = {content for _, content in _lists(database)["alpha"]}
    # "alpha" alone: 123 matches without lists, the 10 of its list with them.
    found = _scores(archive, "alpha", champion_candidates=10)
    assert set(found) == listed
    exact = _scores(archive, "alpha", lexical_budget=0)
    assert len(exact) == COMMON + 1
    assert list(found) == list(exact)[:10]  # the list holds exactly the top 10
    # A rare term is still read whole from the full-text index and scored exactly.
    with_rare = _scores(archive, "alpha zygote", champion_candidates=10)
    assert {"zygote alpha story", "gamma ray zygote"} <= set(with_rare)
    expected = _bm25(database, "alpha zygote")
    for content, score in with_rare.items():
        assert score == pytest.approx(expected[content], rel=1e-9)


def test_a_message_added_after_the_build_is_found(archive, database) -> None:  # type: ignore[no-untyped-def]
    _rebuild(database, min_df=50, depth=10)
    _store(database, "later", ["alpha alpha alpha", "nothing relevant"])
    found = _scores(archive, "alpha", champion_candidates=10)
    assert "alpha alpha alpha" in found  # in no list: found as newer than the watermark
    assert found["alpha alpha alpha"] == pytest.approx(_bm25(database, "alpha")["alpha alpha alpha"])


def test_deleted_and_edited_entries_do_not_leak(archive, database) -> None:  # type: ignore[no-untyped-def]
    _rebuild(database, min_df=50, depth=10)
    listed = [content for _, content in _lists(database)["alpha"]]
    deleted, edited = listed[0], listed[1]
    with database.connect() as conn:
        conn.execute("DELETE FROM messages WHERE content = %s", (deleted,))
        conn.execute("UPDATE messages SET content = 'omega now' WHERE content = %s", (edited,))
        conn.commit()
    found = _scores(archive, "alpha", champion_candidates=10)
    assert deleted not in found and edited not in found and "omega now" not in found
    assert set(found) == set(listed[2:])  # the other entries, rescored from live text
    live = _bm25(database, "alpha")
    for content, score in found.items():
        assert score == pytest.approx(live[content], rel=1e-9)


def test_lists_covering_everything_rank_as_without_lists(archive, database) -> None:  # type: ignore[no-untyped-def]
    queries = ("alpha beta", "alpha word item7", "beta zygote", "word", "delta alpha")
    without = {q: archive.search(q, mode="lexical", k=20) for q in queries}
    _rebuild(database, min_df=1, depth=1000)  # every lexeme, every posting
    for query in queries:
        with_lists = archive.search(query, mode="lexical", k=20,
                                    params={"champion_candidates": 100_000})
        assert [h.message_id for h in with_lists.hits] == [h.message_id for h in without[query].hits]
        for a, b in zip(with_lists.hits, without[query].hits, strict=True):
            assert math.isclose(a.score, b.score, rel_tol=1e-9)


def test_without_lists_or_when_switched_off_nothing_changes(archive, database) -> None:  # type: ignore[no-untyped-def]
    before = _scores(archive, "alpha")
    assert len(before) == COMMON + 1
    with database.connect() as conn:
        assert champions.state(conn) is None
    _rebuild(database, min_df=50, depth=10)
    assert _scores(archive, "alpha", champion_depth=0) == before
    assert len(_scores(archive, "alpha")) < len(before)  # the lists are used by default


def test_lists_built_with_other_bm25_weights_are_named_in_the_notes(archive, database) -> None:  # type: ignore[no-untyped-def]
    """Lists ordered by another k1/b still give exact scores, but the search says they
    are stale and how to rebuild them; rebuilt with the search's weights, it says nothing."""
    defaults = SearchParams()
    with database.connect() as conn:
        champions.rebuild(conn, min_df=50, depth=10, k1=defaults.bm25_k1, b=0.75)
        conn.commit()
    stale = archive.search("alpha", mode="lexical", params=NO_CONTEXT)
    note = [n for n in stale.notes if "champion lists" in n]
    assert note and "b 0.75" in note[0] and f"b {defaults.bm25_b:g}" in note[0]
    assert "dovos db champions" in note[0]
    exact = _bm25(database, "alpha")
    assert all(hit.lexical_score == pytest.approx(exact[hit.content]) for hit in stale.hits)
    _rebuild(database, min_df=50, depth=10)
    fresh = archive.search("alpha", mode="hybrid", params=NO_CONTEXT)
    assert not [n for n in fresh.notes if "champion lists" in n]
    # A search that reads no lists (a filter, or lists switched off) never mentions them.
    with database.connect() as conn:
        champions.rebuild(conn, min_df=50, depth=10, k1=1.5, b=defaults.bm25_b)
        conn.commit()
    off = archive.search("alpha", mode="lexical", params={**NO_CONTEXT, "champion_depth": 0})
    assert not [n for n in off.notes if "champion lists" in n]
    on = archive.search("alpha", mode="hybrid", params=NO_CONTEXT)
    assert [n for n in on.notes if "k1 1.5" in n]


def test_bad_build_parameters_are_refused(database) -> None:  # type: ignore[no-untyped-def]
    with database.connect() as conn, pytest.raises(ValueError, match="min_df"):
        champions.rebuild(conn, min_df=0, depth=10, k1=SearchParams().bm25_k1, b=SearchParams().bm25_b)
    assert SearchParams().champion_depth > 0


def test_the_command_rebuilds_and_drops_the_lists(archive, database) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from dovos.cli import app

    built = CliRunner().invoke(app, ["db", "champions", "--min-df", "50", "--depth", "10",
                                     "--json"])
    assert built.exit_code == 0, built.output
    report = json.loads(built.output)
    assert (report["lists"], report["entries"], report["depth"]) == (3, 30, 10)
    assert set(_lists(database)) == {"alpha", "beta", "word"}
    dropped = CliRunner().invoke(app, ["db", "champions", "--drop"])
    assert dropped.exit_code == 0, dropped.output
    with database.connect() as conn:
        assert champions.state(conn) is None
    assert _lists(database) == {}


@pytest.fixture
def floors(database):  # type: ignore[no-untyped-def]
    """Two listed lexemes (lists of 5 at min_df 20): "kappa" (25 messages, high idf), its
    list 5 equal "kappa kappa" messages, so its floor is their weight; "alpha" (60
    messages, low idf) whose list "alpha x4 kappa" tops. That message is absent from
    kappa's list (one kappa, below the floor) yet holds kappa: it is the best match of
    "alpha kappa", though its list weight alone is below every kappa entry's."""
    texts = (["alpha alpha alpha alpha kappa"]
             + [f"alpha alpha note{i}" for i in range(4)]
             + [f"alpha plain{i}" for i in range(55)]
             + [f"kappa kappa mark{i}" for i in range(5)]
             + [f"kappa single{i}" for i in range(19)]
             + [f"filler{i} words" for i in range(10)])
    _store(database, "floors", texts)
    with database.connect() as conn:
        champions.rebuild(conn, min_df=20, depth=5, k1=SearchParams().bm25_k1,
                          b=SearchParams().bm25_b)
        conn.commit()
    yield SearchService(database, None)
    with database.connect() as conn:
        champions.drop(conn)
        conn.commit()


def test_candidates_rank_by_what_missing_lists_could_add(floors, database) -> None:  # type: ignore[no-untyped-def]
    best = "alpha alpha alpha alpha kappa"
    assert set(_lists(database)) == {"alpha", "kappa"}
    assert best not in {content for _, content in _lists(database)["kappa"]}
    exact = _scores(floors, "alpha kappa", lexical_budget=0)
    assert max(exact, key=exact.get) == best
    assert exact[best] == pytest.approx(_bm25(database, "alpha kappa")[best], rel=1e-9)
    # One candidate. The lower bound (weight 0: a missing list counts nothing) keeps a
    # "kappa kappa" entry; the upper bound (weight 1: a missing list counts its floor,
    # i.e. ranking by weight above the floor) keeps the exact best, and scores it exactly.
    lower = _scores(floors, "alpha kappa", champion_candidates=1, champion_floor_weight=0.0)
    assert set(lower) != {best} and len(lower) == 1
    assert next(iter(lower)).startswith("kappa kappa")
    upper = _scores(floors, "alpha kappa", champion_candidates=1, champion_floor_weight=1.0)
    assert upper == {best: pytest.approx(exact[best], rel=1e-9)}
    # Enough candidates for every entry: the weight changes nothing.
    for weight in (0.0, 0.5, 1.0):
        every = _scores(floors, "alpha kappa", champion_candidates=10, champion_floor_weight=weight)
        assert set(every) == {content for entries in _lists(database).values()
                              for _, content in entries}


def test_the_floor_weight_is_checked(floors) -> None:  # type: ignore[no-untyped-def]
    from dovos.search.types import InvalidQueryError

    with pytest.raises(InvalidQueryError, match="champion_floor_weight"):
        floors.search("alpha", mode="lexical", params={"champion_floor_weight": 2.0})
