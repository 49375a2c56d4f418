"""Metrics and significance on hand-built ranx runs whose values can be checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dovos.evaluation.metrics import (
    compare_runs,
    evaluate_runs,
    fisher_randomization,
    per_category,
    per_query,
    recall_curve,
    significance,
    significance_table,
)
from dovos.evaluation.querysets import Query, QuerySet
from dovos.evaluation.runs import make_run

QRELS = {f"q{i}": {f"rel{i}": 1} for i in range(20)}
QUERYSET = QuerySet(
    "synthetic",
    [Query(qid, f"query {qid}", "even" if int(qid[1:]) % 2 == 0 else "odd") for qid in QRELS],
    QRELS,
)


def _run(name: str, rank_of_relevant: dict[str, int | None]) -> object:
    """A run where query q's relevant doc sits at the given rank (None: not retrieved)."""
    data = {}
    for qid, rank in rank_of_relevant.items():
        docs = [f"noise{j}" for j in range(10)]
        if rank is not None:
            docs.insert(rank - 1, f"rel{qid[1:]}")
        data[qid] = {doc: 100.0 - position for position, doc in enumerate(docs)}
    return make_run(data, name)


PERFECT = _run("perfect", dict.fromkeys(QRELS, 1))
SECOND = _run("second", dict.fromkeys(QRELS, 2))
MIXED = _run("mixed", {qid: (1 if int(qid[1:]) % 2 == 0 else None) for qid in QRELS})


def test_metric_values_match_hand_computation() -> None:
    table = evaluate_runs(QUERYSET, [PERFECT, SECOND, MIXED])
    assert list(table.columns) == ["ndcg@10", "recall@10", "mrr", "map"]
    assert table.loc["perfect"].tolist() == pytest.approx([1.0, 1.0, 1.0, 1.0])
    assert table.loc["second", "mrr"] == pytest.approx(0.5)
    assert table.loc["second", "ndcg@10"] == pytest.approx(1 / math.log2(3))
    assert table.loc["mixed", "recall@10"] == pytest.approx(0.5)


def test_queries_missing_from_a_run_count_as_zero_and_runs_stay_untouched() -> None:
    partial = make_run({"q0": {"rel0": 1.0}}, "partial")
    table = evaluate_runs(QUERYSET, {"partial": partial}, ["mrr"])
    assert table.loc["partial", "mrr"] == pytest.approx(1 / 20)
    assert list(partial.keys()) == ["q0"]  # ranx's make_comparable worked on a copy


def test_compare_reports_both_tests_and_wins() -> None:
    comparison = compare_runs(QUERYSET, [PERFECT, SECOND, MIXED], ["mrr"])
    assert {
        "p_t-test",
        "p_fisher",
        "significant",
        "wins_a",
        "ties",
        "wins_b",
        "delta",
    } <= set(comparison.columns)
    row = comparison[(comparison.run_a == "perfect") & (comparison.run_b == "second")].iloc[0]
    assert (row.wins_a, row.ties, row.wins_b) == (20, 0, 0)
    assert row.delta == pytest.approx(-0.5)
    assert row["p_fisher"] < 0.001 and row["p_t-test"] < 0.001 and bool(row["significant"])
    identical = compare_runs(QUERYSET, {"a": PERFECT, "b": PERFECT}, ["mrr"]).iloc[0]
    assert identical["p_t-test"] == 1.0 and not identical["significant"]


def test_one_significance_rule_needs_both_tests() -> None:
    rng = np.random.default_rng(3)
    base = rng.random(40)
    shifted = significance(base, base + 0.2 + rng.normal(0.0, 0.05, 40))
    assert shifted.significant and shifted.p_t_test < 0.05 and shifted.p_fisher < 0.05
    noise = significance(base, base + rng.normal(0.0, 0.3, 40))
    assert not noise.significant
    assert significance(base, base + 0.2) == significance(base, base + 0.2)  # seeded Fisher
    # The rule itself: both p-values below the threshold, nothing else.
    from dovos.evaluation.metrics import Significance

    assert not Significance(0.01, 0.2).significant and not Significance(0.2, 0.01).significant
    assert Significance(0.01, 0.02).significant


def test_fisher_randomization_is_reproducible_and_sensible() -> None:
    rng = np.random.default_rng(0)
    a = rng.random(50)
    b = a + rng.normal(0.0, 0.3, 50)
    first = fisher_randomization(a, b, 2000, seed=7)
    assert first == fisher_randomization(a, b, 2000, seed=7)
    assert 0.05 < first <= 1.0  # pure noise: not significant
    assert fisher_randomization(a, a + 0.2, 2000) < 0.001  # a constant shift is


def test_significance_table_names_the_runs_beaten() -> None:
    evaluation = evaluate_runs(QUERYSET, [PERFECT, SECOND, MIXED], ["mrr"])
    comparison = compare_runs(QUERYSET, [PERFECT, SECOND, MIXED], ["mrr"])
    table = significance_table(evaluation, comparison)
    assert table.loc["perfect", "mrr"].startswith("1.000 > ")
    assert "second" in table.loc["perfect", "mrr"] and "mixed" in table.loc["perfect", "mrr"]
    assert table.loc["mixed", "mrr"] == "0.500"  # beats nobody significantly


def test_per_category_and_per_query_and_recall_curve() -> None:
    categories = per_category(QUERYSET, [PERFECT, MIXED], ["mrr"])
    assert categories.loc[("even", "mixed"), "mrr"] == pytest.approx(1.0)
    assert categories.loc[("odd", "mixed"), "mrr"] == pytest.approx(0.0)
    assert categories.loc[("odd", "mixed"), "queries"] == 10
    queries = per_query(QUERYSET, [MIXED], "mrr")
    assert queries.loc["q2", "mixed"] == 1.0 and queries.loc["q3", "mixed"] == 0.0
    curve = recall_curve(QUERYSET, [SECOND], ks=(1, 2, 5))
    assert isinstance(curve, pd.DataFrame)
    assert curve["second"].tolist() == pytest.approx([0.0, 1.0, 1.0])
