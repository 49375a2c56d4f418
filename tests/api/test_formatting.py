"""The adapter's pure parts: markdown stripping, word-boundary previews, transcript
labels, timestamps, timeline buckets, score normalisation, id and query checks."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from dovos.api import formatting as fmt
from dovos.api.adapter import (
    BadRequest,
    clean_query,
    hit_relevance,
    latest_heartbeat,
    parse_conversation_id,
    timeline,
)
from dovos.repositories.conversations import StartSlot
from dovos.search.types import SearchHit, SearchParams, SearchResponse


@pytest.mark.parametrize(("markdown", "plain"), [
    ("**bold** and *it* and _u_", "bold and it and u"),
    ("# Title\n\nBody text", "Title Body text"),
    ("use `x = 1` here", "use x = 1 here"),
    ("```python\nprint(1)\n```", "print(1)"),
    ("see [the docs](https://x.org) and ![a cat](cat.png)", "see the docs and a cat"),
    ("- one\n- two\n\n1. three", "one two three"),
    ("> quoted\n> text", "quoted text"),
    ("| a | b |\n|---|---|\n| 1 | 2 |", "a b 1 2"),
    ("<div>raw <b>html</b></div>", "raw html"),
    ("~~gone~~ kept", "gone kept"),
    ("line one  \nline two", "line one line two"),
    ("", ""),
    ("2 * 3 * 4 = 24", "2 * 3 * 4 = 24"),
])
def test_strip_markdown(markdown: str, plain: str) -> None:
    assert fmt.strip_markdown(markdown) == plain


def test_cut_at_word_boundary() -> None:
    text = "alpha beta gamma delta"
    assert fmt.cut_at_word(text, 100) == text
    assert fmt.cut_at_word(text, len(text)) == text
    assert fmt.cut_at_word(text, 12) == "alpha beta..."
    assert fmt.cut_at_word(text, 16) == "alpha beta gamma..."  # boundary right at the limit
    assert fmt.cut_at_word("x" * 50, 10) == "x" * 10 + "..."  # one long word: hard cut
    assert fmt.cut_at_word("one, two, three", 9) == "one, two..."  # no dangling comma


@pytest.mark.parametrize("limit", [fmt.CONVERSATION_PREVIEW_CHARS, fmt.SEARCH_PREVIEW_CHARS,
                                   fmt.RAG_PREVIEW_CHARS])
def test_previews_respect_each_limit(limit: int) -> None:
    text = " ".join(f"**word{i}**" for i in range(400))
    result = fmt.preview(text, limit)
    assert result.endswith("...") and len(result) <= limit + 3
    assert "*" not in result
    words = result[:-3].split(" ")
    assert words == [f"word{i}" for i in range(len(words))]  # only whole words


def test_preview_of_a_huge_message_parses_only_its_head() -> None:
    huge = "**start** " + "word " * 2_000_000  # 10 MB
    assert fmt.preview(huge, fmt.SEARCH_PREVIEW_CHARS).startswith("start word word")
    assert fmt.preview("short", 300) == "short"


@pytest.mark.parametrize(("role", "source", "label"), [
    ("user", "chatgpt", "You said"),
    ("assistant", "chatgpt", "ChatGPT said"),
    ("assistant", "claude", "Claude said"),
    ("assistant", "openwebui", "OpenWebUI said"),
    ("assistant", "unknown", "Assistant said"),
    ("system", "claude", "System"),
    ("tool", "openwebui", "Tool"),
])
def test_speaker_labels(role: str, source: str, label: str) -> None:
    assert fmt.speaker_label(role, source) == label


def test_transcript_turn_and_join() -> None:
    moment = datetime(2025, 12, 11, 11, 27, 3, 616816, tzinfo=UTC)
    minus6 = timezone(timedelta(hours=-6))
    turn = fmt.transcript_turn("user", "chatgpt", moment, "Hi **there**", minus6)
    assert turn == "**You said** *(on 2025-12-11 05:27:03)*:\n\nHi **there**"
    assert fmt.join_turns(["a", "b", "c"]) == "a\n\n---\n\nb\n\n---\n\nc"


def test_iso_timestamps_carry_an_offset() -> None:
    moment = datetime(2025, 3, 2, 9, 15, tzinfo=UTC)
    assert fmt.to_iso(moment, UTC) == "2025-03-02T09:15:00+00:00"
    assert fmt.to_iso(moment, timezone(timedelta(hours=-6))) == "2025-03-02T03:15:00-06:00"
    assert datetime.fromisoformat(fmt.to_iso(moment)).utcoffset() is not None  # local zone


@pytest.mark.parametrize(("days", "unit"), [(0, "day"), (30, "day"), (31, "week"),
                                            (180, "week"), (181, "month"), (900, "month")])
def test_bucket_unit_follows_the_contract(days: int, unit: str) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    assert fmt.bucket_unit(start, start + timedelta(days=days)) == unit


def test_bucket_ranges() -> None:
    assert fmt.bucket_start(date(2025, 3, 13), "week") == date(2025, 3, 10)  # Monday
    assert fmt.bucket_start(date(2025, 3, 13), "month") == date(2025, 3, 1)
    assert fmt.bucket_range(date(2024, 11, 20), date(2025, 2, 3), "month") == [
        date(2024, 11, 1), date(2024, 12, 1), date(2025, 1, 1), date(2025, 2, 1)]
    assert len(fmt.bucket_range(date(2025, 3, 1), date(2025, 3, 31), "day")) == 31


def test_timeline_counts_per_bucket_and_source_in_the_time_zone() -> None:
    slot = datetime(2025, 1, 6, 23, 30, tzinfo=UTC)  # Monday 23:30 UTC
    slots = [StartSlot(slot, "chatgpt", 2), StartSlot(slot, "claude", 1),
             StartSlot(slot + timedelta(days=100), "openwebui", 4)]  # 100 days: weekly buckets
    weekly = timeline(slots, UTC)
    assert weekly[0].date == "2025-01-06" and (weekly[0].chatgpt, weekly[0].claude) == (2, 1)
    assert weekly[-1].openwebui == 4 and len(weekly) == 15
    assert sum(b.chatgpt + b.claude + b.openwebui + b.unknown for b in weekly) == 7
    # In UTC+2 the first slot falls on Tuesday the 7th, still the week of Monday the 6th,
    # but a daily timeline moves it to the 7th.
    daily = timeline(slots[:2], timezone(timedelta(hours=2)))
    assert [(b.date, b.chatgpt) for b in daily] == [("2025-01-07", 2)]
    assert timeline([], UTC) == []


def _response(mode: str, scores: list[float], fusion: str = "rrf",
              vector: list[float] | None = None) -> SearchResponse:
    hits = [
        SearchHit(message_id=uuid.uuid4(), conversation_id=uuid.uuid4(), conversation_title="t",
                  conversation_source_id="s", source_message_id=None, role="user",
                  source="chatgpt", created_at=datetime(2025, 1, 1, tzinfo=UTC), content="c",
                  snippet="c", score=score, rank=i + 1,
                  vector_score=vector[i] if vector else None)
        for i, score in enumerate(scores)
    ]
    return SearchResponse(query="q", mode=mode, effective_mode=mode, hits=hits,  # type: ignore[arg-type]
                          params=SearchParams(fusion=fusion, rrf_k=60,  # type: ignore[arg-type]
                                              lexical_weight=1.0, vector_weight=1.0))


def test_relevance_vector_is_half_cosine_shifted() -> None:
    response = _response("vector", [0.9, 0.2, -0.4], vector=[0.9, 0.2, -0.4])
    assert [hit_relevance(h, response) for h in response.hits] == [0.95, 0.6, 0.3]


def test_relevance_hybrid_rrf_is_one_when_first_in_both_legs() -> None:
    best = 2 / 61  # rank 1 in both legs, k = 60, weights 1
    response = _response("hybrid", [best, 1 / 61, 1 / 70])
    values = [hit_relevance(h, response) for h in response.hits]
    assert values[0] == 1.0 and values == sorted(values, reverse=True)
    assert values[1] == pytest.approx(0.5)


def test_relevance_hybrid_weighted_and_lexical_stay_in_range_and_monotonic() -> None:
    weighted = _response("hybrid", [2.0, 1.2, 0.1], fusion="weighted")
    assert [hit_relevance(h, weighted) for h in weighted.hits] == [1.0, 0.6, 0.05]
    lexical = _response("lexical", [50.0, 3.0, 1.0, 0.0])
    values = [hit_relevance(h, lexical) for h in lexical.hits]
    assert values == sorted(values, reverse=True) and values[-1] == 0.0 and values[0] < 1.0


def test_latest_heartbeat() -> None:
    beats = ["2025-03-21T10:00:00+00:00", "not a time", "", "2025-03-21T12:30:00+02:00",
             "2025-03-21T09:00:00"]  # naive times are ignored: their moment is unknown
    assert latest_heartbeat(beats, UTC) == "2025-03-21T10:30:00+00:00"
    assert latest_heartbeat([], UTC) is None


def test_conversation_ids() -> None:
    value = uuid.uuid4()
    assert parse_conversation_id(str(value)) == value
    assert parse_conversation_id(value.hex) == value
    for bad in ("", "xyz", "1234", str(value) + "0"):
        with pytest.raises(BadRequest, match="Malformed conversation id"):
            parse_conversation_id(bad)


def test_queries() -> None:
    assert clean_query("  python  ") == "python"
    assert clean_query("py\x00thon") == "py thon"  # NUL counts as a space
    for empty in (None, "", "   ", "\x00\t"):
        with pytest.raises(BadRequest, match="No query provided"):
            clean_query(empty)
    with pytest.raises(BadRequest, match="Query too long"):
        clean_query("x" * 10_001)
    with pytest.raises(BadRequest, match="not valid Unicode"):
        clean_query("a\ud800b")
