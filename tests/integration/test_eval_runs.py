"""Runs through the real search service on the demo archive (imported by the real
importers, embedded by the real worker): deterministic TREC files, tie-breaking, the
three modes genuinely differ, and `evaluate_dataset` returns the tables `dovos eval` prints."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from eval_support import prepared_demo
from ranx import Run

from dovos.evaluation.pipeline import evaluate_querysets, hybrid_tests, hybrid_verdict
from dovos.evaluation.runs import (
    execute_run,
    load_run,
    ranked_scores,
    save_run,
    strictly_decreasing,
)


@pytest.fixture(scope="module")
def demo(database_session, embedder):  # type: ignore[no-untyped-def]
    with prepared_demo(database_session, embedder) as prepared:
        yield prepared


def test_demo_is_imported_once_and_fully_embedded(demo) -> None:  # type: ignore[no-untyped-def]
    from dovos.evaluation.datasets import ensure_imported, stored_counts

    assert stored_counts(demo.database, "demo") == (44, 208)
    assert demo.drain.final.percent == 100.0 and demo.drain.final.pending == 0
    again = ensure_imported(demo.database, demo.dataset, progress=False)
    assert not again.imported and again.found_messages == 208


def test_runs_are_deterministic_byte_for_byte(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    queryset = demo.dataset.queryset.head(15)
    for mode in ("lexical", "vector", "hybrid"):
        first = execute_run(demo.service, queryset, mode, depth=20, progress=False)
        second = execute_run(demo.service, queryset, mode, depth=20, progress=False)
        save_run(first.run, tmp_path / f"{mode}-1.trec")
        save_run(second.run, tmp_path / f"{mode}-2.trec")
        assert (tmp_path / f"{mode}-1.trec").read_bytes() == (
            tmp_path / f"{mode}-2.trec"
        ).read_bytes()
        assert first.effective_modes == {mode: 15}
    lines = (tmp_path / "hybrid-1.trec").read_text().splitlines()
    qid, q0, doc, rank, _score, name = lines[0].split()
    assert (q0, rank, name) == ("Q0", "1", "hybrid") and doc.startswith("demo-")
    # Any TREC reader gets the same ranking back (ranx here).
    reread = Run.from_file(str(tmp_path / "hybrid-1.trec"), kind="trec")
    assert list(reread[qid]) == list(load_run(tmp_path / "hybrid-1.trec")[qid])


def test_ties_are_broken_by_doc_id_and_scores_stay_strictly_decreasing() -> None:
    ordered = strictly_decreasing({"b": 1.0, "a": 1.0, "c": 2.0, "d": 1.0})
    assert list(ordered) == ["c", "a", "b", "d"]
    values = list(ordered.values())
    assert all(x > y for x, y in itertools.pairwise(values))
    assert values[1] == 1.0 and values[2] < 1.0 and values[2] > 0.999999


def test_conversation_level_keeps_each_conversations_best_message(demo) -> None:  # type: ignore[no-untyped-def]
    response = demo.service.search("sourdough starter hooch", mode="lexical", k=20)
    scores = ranked_scores(response.hits, "conversation")
    assert next(iter(scores)) == "demo-cg01"
    assert len(scores) == len({hit.conversation_source_id for hit in response.hits})


def test_modes_differ_and_tables_hold_significance(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    metrics, comparison, categories, _runs = evaluate_querysets(
        demo.service,
        demo.dataset.querysets,
        ["lexical", "vector", "hybrid"],
        k=10,
        runs_dir=tmp_path,
    )
    table = metrics.loc["demo"]
    assert set(table.index) == {"lexical", "vector", "hybrid"}
    assert table["ndcg@10"].between(0.3, 1.0).all()
    assert table["ndcg@10"].nunique() == 3  # the legs rank differently
    assert len(comparison) == 3 * 4  # 3 pairs x 4 metrics
    assert comparison["p_t-test"].between(0, 1).all() and comparison["p_fisher"].between(0, 1).all()
    paraphrase = categories.loc[("demo", "paraphrase")]
    assert paraphrase.loc["vector", "ndcg@10"] > paraphrase.loc["lexical", "ndcg@10"]
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == [
        "hybrid.trec",
        "lexical.trec",
        "vector.trec",
    ]
    verdict = hybrid_verdict(hybrid_tests(comparison, "ndcg@10"))
    assert "t-test p=" in verdict and "Fisher p=" in verdict
