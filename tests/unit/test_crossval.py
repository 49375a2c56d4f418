"""Fold construction and cross-validation on synthetic query sets and runs (no database):
leave-one-sample-out never puts a sample on both sides, k-fold holds each query out
exactly once, and the tuned run is scored only on folds it was not tuned on."""

from __future__ import annotations

import pytest
from ranx import Run

from dovos.evaluation.crossval import (
    Fold,
    best_of,
    check_folds,
    cross_validate,
    group_folds,
    k_folds,
    make_folds,
)
from dovos.evaluation.querysets import Query, QuerySet, QuerySetError


def _queryset(n: int, samples: int = 0, categories: int = 3) -> QuerySet:
    queries = [
        Query(
            f"q{i:03d}",
            f"question {i}",
            category=f"c{i % categories}",
            metadata={"sample_id": f"conv-{i % samples}"} if samples else {},
        )
        for i in range(n)
    ]
    qrels = {q.id: {f"d{q.id}": 1} for q in queries}
    return QuerySet("synthetic", queries, qrels)


def test_leave_one_sample_out_never_leaks_a_sample() -> None:
    queryset = _queryset(60, samples=6)
    sample = {q.id: q.metadata["sample_id"] for q in queryset.queries}
    folds = make_folds(queryset)
    assert [f.name for f in folds] == [f"conv-{i}" for i in range(6)]
    check_folds(folds, queryset)
    for fold in folds:
        assert {sample[q] for q in fold.test} == {fold.name}
        assert fold.name not in {sample[q] for q in fold.train}
        assert len(fold.train) + len(fold.test) == 60


def test_k_fold_holds_each_query_out_once_seeded_and_stratified() -> None:
    queryset = _queryset(53)
    folds = k_folds(queryset, k=5, seed=3)
    check_folds(folds, queryset)
    held = sorted(q for fold in folds for q in fold.test)
    assert held == sorted(q.id for q in queryset.queries)  # each exactly once
    assert {len(f.test) for f in folds} <= {10, 11}  # balanced
    for fold in folds:  # every category in every fold (stratified)
        assert {int(q[1:]) % 3 for q in fold.test} == {0, 1, 2}
    assert k_folds(queryset, k=5, seed=3) == folds  # reproducible
    assert k_folds(queryset, k=5, seed=4) != folds
    # a query's fold depends on its id, not on the order of the set
    reordered = QuerySet("r", list(reversed(queryset.queries)), queryset.qrels)
    assert {f.name: set(f.test) for f in k_folds(reordered, 5, 3)} == {
        f.name: set(f.test) for f in folds
    }


def test_make_folds_falls_back_to_k_fold_and_small_sets_to_leave_one_out() -> None:
    assert [f.name for f in make_folds(_queryset(20))] == [f"fold-{i}" for i in range(1, 6)]
    assert len(make_folds(_queryset(20, samples=1))) == 5  # one sample: nothing to leave out
    assert len(k_folds(_queryset(3), k=5)) == 3
    with pytest.raises(QuerySetError, match="two judged queries"):
        k_folds(_queryset(1))
    with pytest.raises(QuerySetError, match="two groups"):
        group_folds(_queryset(10, samples=1))
    leaky = [Fold("a", ("q000", "q001"), ("q001",)), Fold("b", ("q001",), ("q000",))]
    with pytest.raises(QuerySetError, match="trains on queries it tests on"):
        check_folds(leaky, _queryset(2))


def _run(name: str, hits: dict[str, bool]) -> Run:
    """A run that ranks the relevant doc first for the queries marked True, else 2nd."""
    data = {
        qid: {f"d{qid}": 1.0, "x": 2.0} if not hit else {f"d{qid}": 2.0, "x": 1.0}
        for qid, hit in hits.items()
    }
    return Run.from_dict(data, name=name)


def test_tuned_run_is_scored_out_of_fold_with_the_paired_test() -> None:
    queryset = _queryset(60, samples=6)
    ids = [q.id for q in queryset.queries]
    good = _run("good", dict.fromkeys(ids, True))
    bad = _run("bad", dict.fromkeys(ids, False))
    # "overfit" is perfect on conv-0 only: picked when conv-0 trains, useless held out
    overfit = _run("overfit", {q: q.endswith(("0", "6")) for q in ids})
    tuner = best_of(queryset, {"bad": bad, "good": good}, "ndcg@10")
    cv = cross_validate(queryset, tuner, {"defaults": bad, "lexical": overfit})
    assert list(cv.choices["label"]) == ["good"] * 6
    table = cv.table("ndcg@10")
    assert list(table.index) == [*(f"conv-{i}" for i in range(6)), "mean", "std", "pooled"]
    assert table.loc["pooled", "tuned"] == pytest.approx(1.0)
    assert table.loc["mean", "defaults"] < 1.0 and table.loc["std", "tuned"] == 0.0
    assert cv.beats_baseline and cv.significant
    assert (
        "beats defaults" in cv.verdict()
        and "leave-one-group-out (6 groups: conv-0, conv-1," in cv.verdict()
    )
    assert set(cv.out_of_fold["recall@10"].columns) == {"fold", "defaults", "lexical", "tuned"}
    assert len(cv.out_of_fold["ndcg@10"]) == 60
    assert cv.as_dict()["per_fold"]["ndcg@10"][-1]["fold"] == "pooled"


def test_a_choice_that_only_wins_in_sample_does_not_win_out_of_fold() -> None:
    queryset = _queryset(60, samples=6)
    ids = [q.id for q in queryset.queries]
    sample = {q.id: q.metadata["sample_id"] for q in queryset.queries}
    # a is right on the first three samples, b on the last three: in sample they tie, but
    # each fold's tuner sees one sample fewer of one side and picks the other run, which
    # is wrong on exactly the held-out sample (the tuner may only look at train).
    a = _run("a", {q: sample[q] in ("conv-0", "conv-1", "conv-2") for q in ids})
    b = _run("b", {q: sample[q] in ("conv-3", "conv-4", "conv-5") for q in ids})
    cv = cross_validate(queryset, best_of(queryset, {"a": a, "b": b}), {"defaults": a})
    chosen = cv.choices["label"].to_dict()
    assert chosen == {f"conv-{i}": ("b" if i < 3 else "a") for i in range(6)}
    # every held-out sample gets the run that misses it: out of fold, tuned loses
    assert cv.tuned_score < cv.baseline_score and not cv.beats_baseline
    assert "does not beat defaults" in cv.verdict()
