"""Query sets: JSONL + TREC qrels round trip (read back by ranx too), clear errors on bad
files, reproducible stratified splits, filters; the demo query set and its generator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ranx import Qrels

from dovos.evaluation.demo import demo_queryset, write_demo
from dovos.evaluation.querysets import Query, QuerySet, QuerySetError, read_qrels
from dovos.resources import demo_archive_dir, demo_queryset_dir


def _sample() -> QuerySet:
    queries = [
        Query("q1", "sourdough starter", "keyword"),
        Query("q2", "refresh my levain", "paraphrase", {"roles": ["assistant"]}, {"note": "x"}),
        Query("q3", "no judgments here", "keyword"),
    ]
    qrels = {"q1": {"m1": 2, "m2": 1}, "q2": {"m2": 1, "m3": 0}, "q3": {"m9": 0}}
    return QuerySet(
        "sample",
        queries,
        qrels,
        "message",
        "a sample",
        {"conversation_metadata": {"dataset": "demo"}},
    )


def test_round_trip_through_trec_and_jsonl(tmp_path: Path) -> None:
    original = _sample()
    original.save(tmp_path / "set")
    loaded = QuerySet.load(tmp_path / "set")
    assert loaded.queries == original.queries
    assert loaded.qrels == original.qrels
    assert (loaded.name, loaded.level, loaded.filters) == ("sample", "message", original.filters)
    lines = (tmp_path / "set" / "qrels.trec").read_text().splitlines()
    assert lines[0] == "q1 0 m1 2"  # TREC qrels: query, iteration, doc, relevance
    # The file is what ranx (and trec_eval) read as is.
    ranx_qrels = Qrels.from_file(str(tmp_path / "set" / "qrels.trec"), kind="trec")
    assert ranx_qrels.to_dict()["q1"] == {"m1": 2, "m2": 1}


def test_judged_drops_queries_without_positive_judgments() -> None:
    judged = _sample().judged()
    assert [q.id for q in judged.queries] == ["q1", "q2"]
    assert set(judged.to_ranx().keys()) == {"q1", "q2"}


def test_search_filters_merge_set_and_query_filters() -> None:
    sample = _sample()
    filters = sample.search_filters(sample.queries[1])
    assert filters.conversation_metadata == {"dataset": "demo"}
    assert filters.roles == ("assistant",)
    assert sample.search_filters(sample.queries[0]).roles is None


def test_split_is_reproducible_stratified_and_disjoint() -> None:
    queryset = demo_queryset()
    train, test = queryset.split(0.5, seed=3)
    again_train, _ = queryset.split(0.5, seed=3)
    other_train, _ = queryset.split(0.5, seed=4)
    assert [q.id for q in train.queries] == [q.id for q in again_train.queries]
    assert [q.id for q in train.queries] != [q.id for q in other_train.queries]
    assert not {q.id for q in train.queries} & {q.id for q in test.queries}
    assert len(train) + len(test) == len(queryset.judged())
    for category in set(queryset.categories.values()):
        in_train = sum(1 for q in train.queries if q.category == category)
        assert in_train >= 1 and any(q.category == category for q in test.queries)


@pytest.mark.parametrize(
    ("queries", "qrels", "message"),
    [
        ('{"id": "q1", "text": "a"}\n{"id": "q2"}\n', "q1 0 d 1\n", ":2: field 'text'"),
        ('{"id": "q1", "text": "a"\n', "q1 0 d 1\n", ":1: invalid JSON"),
        ('{"id": "q 1", "text": "a"}\n', "", "holds whitespace"),
        ('{"id": "q1", "text": "a", "filters": {"colour": 1}}\n', "", "unknown filter"),
        ('{"id": "q1", "text": "a"}\n', "q1 0 d\n", "qrels.trec:1: expected"),
        ('{"id": "q1", "text": "a"}\n', "q1 0 d high\n", "relevance 'high'"),
        ('{"id": "q1", "text": "a"}\n', "q7 0 d 1\n", "unknown query ids ['q7']"),
    ],
)
def test_bad_files_name_the_file_line_and_field(
    tmp_path: Path, queries: str, qrels: str, message: str
) -> None:
    (tmp_path / "queries.jsonl").write_text(queries)
    (tmp_path / "qrels.trec").write_text(qrels)
    with pytest.raises(QuerySetError, match=message.replace("[", r"\[").replace("]", r"\]")):
        QuerySet.load(tmp_path)


def test_missing_directory_and_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(QuerySetError, match="does not exist"):
        QuerySet.load(tmp_path / "absent")
    with pytest.raises(QuerySetError, match="qrels file .* does not exist"):
        read_qrels(tmp_path / "qrels.trec")


def test_committed_demo_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    written = write_demo(tmp_path / "data", tmp_path / "eval")
    for path in written:
        relative = path.relative_to(tmp_path)
        committed = demo_archive_dir() if relative.parts[0] == "data" else demo_queryset_dir()
        committed = committed.joinpath(*relative.parts[1:])
        assert path.read_bytes() == committed.read_bytes(), f"{committed} is stale"


def test_demo_queryset_is_labeled_and_varied() -> None:
    queryset = QuerySet.load(demo_queryset_dir())
    assert len(queryset) >= 100
    categories = set(queryset.categories.values())
    assert {"keyword", "paraphrase", "typo", "quoted", "question"} <= categories
    assert all(any(r == 2 for r in queryset.qrels[q.id].values()) for q in queryset.queries)
    exports = [
        json.loads((demo_archive_dir() / p).read_text())
        for p in (
            "chatgpt/conversations.json",
            "claude/conversations.json",
            "openwebui/chat-export.json",
        )
    ]
    assert [len(export) for export in exports] == [17, 15, 12]
