"""explore(): one query, every mode, as a DataFrame; the conversation around a hit; the
notebook view driven without a browser. The demo archive, imported and embedded once for
the module by the real worker and model."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from eval_support import truncate

from dovos.evaluation.explore import (
    COLUMNS,
    conversation_context,
    explore,
    highlight,
    make_filters,
)

QUERY = "sourdough starter smells like acetone"


@pytest.fixture(scope="module")
def service(database_session, embedder) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    from dovos.evaluation.pipeline import prepare_dataset

    prepared = prepare_dataset("demo", database_session, embedder=embedder, progress=False)
    yield prepared.service
    truncate(database_session)


def test_three_modes_side_by_side(service) -> None:  # type: ignore[no-untyped-def]
    frame = explore(QUERY, k=5, service=service)
    assert list(frame.columns) == COLUMNS
    assert frame.groupby("mode").size().to_dict() == {"hybrid": 5, "lexical": 5, "vector": 5}
    for mode in ("lexical", "vector", "hybrid"):
        ranks = frame[frame["mode"] == mode]["rank"].tolist()
        assert ranks == [1, 2, 3, 4, 5]
    assert (frame["effective_mode"] == frame["mode"]).all()  # embedded: no fallback
    hybrid = frame[frame["mode"] == "hybrid"]
    assert hybrid["lexical_rank"].notna().any() and hybrid["vector_rank"].notna().any()
    lexical = frame[frame["mode"] == "lexical"]
    assert lexical.iloc[0]["title"] == "Keeping a sourdough starter alive"
    marked = re.findall(r"<mark>([^<]+)</mark>", lexical.iloc[0]["snippet"].lower())
    assert marked and all(any(word.startswith(m) for word in QUERY.split()) for m in marked)
    assert set(frame.attrs["elapsed_ms"]) == {"lexical", "vector", "hybrid"}


def test_parameters_change_the_hybrid_ranking(service) -> None:  # type: ignore[no-untyped-def]
    lexical_only = explore(
        QUERY, modes=["hybrid"], k=10, lexical_weight=1.0, vector_weight=0.0, service=service
    )
    lexical = explore(QUERY, modes=["lexical"], k=10, service=service)
    # hybrid with the vector leg weighted 0 orders the lexical hits as the lexical leg does
    top = lexical_only.dropna(subset=["lexical_rank"])["doc_id"].tolist()[:3]
    assert top == lexical["doc_id"].tolist()[:3]
    rrf = explore(QUERY, modes=["hybrid"], k=10, fusion="rrf", rrf_k=1, service=service)
    assert rrf["score"].max() <= 2.0  # RRF scores are sums of 1/(k+rank), not min-max sums


def test_filters_source_role_date_and_conversation(service) -> None:  # type: ignore[no-untyped-def]
    users = explore(QUERY, k=10, filters=make_filters(roles="user"), service=service)
    assert set(users["role"]) == {"user"}
    claude = explore("code review", k=10, filters=make_filters(sources=["claude"]), service=service)
    assert len(claude) and set(claude["source"]) == {"claude"}
    january = make_filters(date_from=date(2024, 1, 1), date_to="2024-01-31")
    dated = explore(QUERY, k=10, filters=january, service=service)
    assert len(dated) and all(d.year == 2024 and d.month == 1 for d in dated["date"])
    conversation = explore(QUERY, modes=["lexical"], k=3, service=service).iloc[0]
    only = explore(
        "flour water",
        k=10,
        service=service,
        filters=make_filters(conversations=str(conversation["conversation_id"])),
    )
    assert set(only["conversation_id"]) == {conversation["conversation_id"]}


def test_conversation_context_around_a_hit(service, database_session) -> None:  # type: ignore[no-untyped-def]
    hit = explore("feed ratio flour water", modes=["lexical"], k=1, service=service).iloc[0]
    context = conversation_context(hit["message_id"], before=1, after=1, database=database_session)
    assert context["is_hit"].sum() == 1
    position = int(context[context["is_hit"]]["position"].iloc[0])
    assert context["position"].tolist() == [
        p for p in (position - 1, position, position + 1) if p in set(context["position"])
    ]
    assert len(context) >= 2 and context.attrs["title"] == hit["title"]
    with pytest.raises(LookupError, match="not in this archive"):
        conversation_context("00000000-0000-0000-0000-000000000000", database=database_session)
    with pytest.raises(LookupError, match="not a message id"):
        conversation_context("demo-cg01-01", database=database_session)


def test_view_without_a_browser(service, database_session) -> None:  # type: ignore[no-untyped-def]
    """The widget's controls feed explore(); a hit's button opens its conversation."""
    from dovos.evaluation.explore_view import ExploreView

    view = ExploreView(service=service, database=database_session, k=4)
    view.widget()
    view.roles.value = ("user",)
    frame = view.run(QUERY)
    assert len(frame) == 12 and set(frame["role"]) == {"user"}
    for mode in ("lexical", "vector", "hybrid"):
        html = view.columns[mode].children[1].value
        assert html.count("<tr>") == 5, mode  # header + 4 hits
    opener = view.columns["hybrid"].children[2].children[1]
    opener.click()
    assert "dovos-turn hit" in view.context.value
    view.conversation.value = "no conversation is called this"
    view.run()
    assert "no conversation id or title matches" in view.status.value


def test_query_with_no_hits(service) -> None:  # type: ignore[no-untyped-def]
    frame = explore("qqxzv zzqvx", modes=["lexical"], service=service)
    assert frame.empty and list(frame.columns) == COLUMNS


def test_highlight_escapes_html() -> None:
    assert highlight("<b>Starters</b> & more", "starter") == (
        "&lt;b&gt;<mark>Starters</mark>&lt;/b&gt; &amp; more"
    )
