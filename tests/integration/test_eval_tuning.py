"""Tuning on the demo archive through the real service: train/test split, grid search in
the database, ranx.optimize_fusion on exported legs, held-out comparison, parameters
saved with provenance; and the in-memory fusion explorer behind the sliders."""

from __future__ import annotations

import pytest
from eval_support import prepared_demo

from dovos.evaluation.tuning import expand_grid, fuse_legs, leg_runs, tune_hybrid
from dovos.evaluation.widgets import FusionExplorer
from dovos.repositories import settings
from dovos.repositories.unit_of_work import UnitOfWork
from dovos.search.types import SEARCH_PARAMS_KEY, SearchParams

GRID = [
    {"fusion": "rrf", "rrf_k": 60, "lexical_weight": 1.0, "vector_weight": 1.0},
    {"fusion": "weighted", "lexical_weight": 0.3, "vector_weight": 0.7},
]


@pytest.fixture(scope="module")
def demo(database_session, embedder):  # type: ignore[no-untyped-def]
    with prepared_demo(database_session, embedder) as prepared:
        yield prepared


@pytest.fixture(scope="module")
def tuned(demo):  # type: ignore[no-untyped-def]
    return tune_hybrid(
        demo.service,
        demo.dataset.queryset,
        grid=GRID,
        seed=1,
        save=True,
        dataset="demo",
        progress=False,
    )


def test_grid_and_ranx_are_scored_on_train_only(tuned) -> None:  # type: ignore[no-untyped-def]
    assert tuned.train_queries + tuned.test_queries == 104
    assert len(tuned.grid) == 2 and tuned.grid["ndcg@10"].is_monotonic_decreasing
    assert set(tuned.ranx_weights) == {"lexical_weight", "vector_weight"}
    assert tuned.ranx_weights["lexical_weight"] + tuned.ranx_weights[
        "vector_weight"
    ] == pytest.approx(1.0)
    assert tuned.chosen_method in ("grid", "ranx.optimize_fusion")
    assert tuned.train_score == pytest.approx(
        max(tuned.grid["ndcg@10"].max(), tuned.ranx_train_score)
    )
    assert tuned.test is not None and len(tuned.test) == tuned.test_queries


def test_heldout_compares_defaults_and_tuned_and_says_which_won(tuned) -> None:  # type: ignore[no-untyped-def]
    assert {"defaults", "tuned", "ranx-wsum", "lexical", "vector"} == set(tuned.heldout.index)
    row = tuned.comparison.iloc[0]
    assert (row["run_a"], row["run_b"]) == ("defaults", "tuned")
    assert 0 <= row["p_t-test"] <= 1 and 0 <= row["p_fisher"] <= 1
    verdict = tuned.verdict()
    assert ("beat the defaults on" in verdict) == (tuned.improved and tuned.significant)
    assert f"{tuned.tuned_test_score:.3f}" in verdict and "p=" in verdict


def test_chosen_parameters_are_saved_with_provenance(demo, tuned) -> None:  # type: ignore[no-untyped-def]
    assert tuned.saved
    with UnitOfWork(demo.database) as uow:
        stored = settings.get(uow.connection, SEARCH_PARAMS_KEY)
    expected = SearchParams().merged(tuned.chosen).as_dict()
    assert stored["params"] == expected
    provenance = stored["provenance"]
    assert provenance["dataset"] == "demo" and provenance["metric"] == "ndcg@10"
    assert provenance["method"] == tuned.chosen_method
    assert provenance["split"] == {
        "train_fraction": 0.5,
        "seed": 1,
        "train": tuned.train_queries,
        "test": tuned.test_queries,
    }
    assert provenance["tuned_test_score"] == pytest.approx(tuned.tuned_test_score)
    assert "date" in provenance and len(provenance["queryset_fingerprint"]) == 12
    assert demo.service.stored_params() == SearchParams().merged(tuned.chosen)


def test_fusion_explorer_refuses_in_memory_like_the_service(demo, tuned) -> None:  # type: ignore[no-untyped-def]
    legs = tuned.legs
    explorer = FusionExplorer(tuned.test, legs["lexical"], legs["vector"])
    weights = tuned.ranx_weights
    share = weights["lexical_weight"]
    # The in-memory wsum at ranx's weights is the "ranx-wsum" run of the held-out table.
    assert explorer.score("wsum", share)["ndcg@10"] == pytest.approx(
        tuned.heldout.loc["ranx-wsum", "ndcg@10"]
    )
    # lexical weight 1 is the lexical leg alone (up to how its ties are ordered)
    assert explorer.score("wsum", 1.0)["ndcg@10"] == pytest.approx(
        explorer.legs().loc["lexical", "ndcg@10"], abs=0.02
    )
    sweep = explorer.sweep(steps=5)
    assert list(sweep.columns) == ["wsum", "rrf"] and len(sweep) == 5
    widget = explorer.widget()
    weight, table = widget.children[1], widget.children[3]
    before = table.value
    weight.value = 0.8  # moving the slider re-fuses and redraws the table
    assert "wsum (lexical 0.80)" in table.value and table.value != before
    assert explorer._score.cache_info().currsize >= 6
    with pytest.raises(ValueError, match="lexical_weight"):
        explorer.score("wsum", 1.5)


def test_in_memory_weighted_fusion_matches_the_database(demo) -> None:  # type: ignore[no-untyped-def]
    from dovos.evaluation.metrics import evaluate_runs
    from dovos.evaluation.runs import execute_run

    queryset = demo.dataset.queryset.head(30)
    params = {
        **SearchParams().as_dict(),
        "fusion": "weighted",
        "lexical_weight": 0.4,
        "vector_weight": 0.6,
    }
    legs = leg_runs(demo.service, queryset, params, progress=False)
    in_memory = fuse_legs(legs["lexical"], legs["vector"], lexical_weight=0.4, queryset=queryset)
    in_database = execute_run(demo.service, queryset, "hybrid", params=params, progress=False).run
    scores = evaluate_runs(queryset, {"memory": in_memory, "database": in_database}, ["ndcg@10"])
    assert scores.loc["memory", "ndcg@10"] == pytest.approx(
        scores.loc["database", "ndcg@10"], abs=1e-6
    )


def test_expand_grid() -> None:
    assert expand_grid({"rrf_k": [10, 60], "lexical_weight": [0.5]}) == [
        {"rrf_k": 10, "lexical_weight": 0.5},
        {"rrf_k": 60, "lexical_weight": 0.5},
    ]
