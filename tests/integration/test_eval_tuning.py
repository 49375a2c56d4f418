"""Tuning on the demo archive through the real service, cross-validated: 5-fold over
queries, grid search in the database and ranx.optimize_fusion on exported legs per fold,
tuned vs defaults compared out of fold, parameters saved with provenance; and the
in-memory fusion explorer behind the sliders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eval_support import prepared_demo, write_tiny_beir

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


def test_every_fold_is_tuned_on_its_training_queries_only(tuned) -> None:  # type: ignore[no-untyped-def]
    cv = tuned.cv
    assert tuned.queries == 104 and len(cv.folds) == 5 and cv.scheme == "5-fold over queries"
    held = sorted(q for fold in cv.folds for q in fold.test)
    assert held == sorted(q.id for q in tuned.queryset.queries)  # each held out once
    assert list(cv.choices.index) == [f"fold-{i}" for i in range(1, 6)]
    assert set(cv.choices["label"]) <= {"grid", "ranx.optimize_fusion"}
    # a fold's training score is measured on its training queries, not on all of them
    grid_names = [name for name in tuned.runs if name.startswith("grid-")]
    assert len(grid_names) == 2 and len(tuned.grid) == 2
    from dovos.evaluation.metrics import per_query

    scores = per_query(tuned.queryset, {n: tuned.runs[n] for n in grid_names})
    for fold in cv.folds:
        choice = cv.choices.loc[fold.name]
        best_grid_on_train = scores.loc[list(fold.train)].mean().max()
        assert choice["train_score"] >= best_grid_on_train - 1e-12
        if choice["label"] == "grid":
            assert choice["train_score"] == pytest.approx(best_grid_on_train)


def test_per_fold_table_and_out_of_fold_verdict(tuned) -> None:  # type: ignore[no-untyped-def]
    table = tuned.cv.table("ndcg@10")
    assert list(table.columns) == ["queries", "lexical", "vector", "defaults", "tuned"]
    assert list(table.index)[-3:] == ["mean", "std", "pooled"]
    assert table["queries"].iloc[:5].sum() == 104
    # the pooled row is the mean over all 104 out-of-fold per-query scores
    assert table.loc["pooled", "tuned"] == pytest.approx(tuned.tuned_test_score)
    assert table.loc["pooled", "defaults"] == pytest.approx(tuned.default_test_score)
    assert set(tuned.out_of_fold.index) == {"lexical", "vector", "defaults", "tuned"}
    row = tuned.comparison[
        (tuned.comparison["metric"] == "ndcg@10") & (tuned.comparison["run_a"] == "defaults")
    ].iloc[0]
    assert row["run_b"] == "tuned" and 0 <= row["p_t-test"] <= 1 and 0 <= row["p_fisher"] <= 1
    assert tuned.p_values == (row["p_t-test"], row["p_fisher"])
    verdict = tuned.verdict()
    assert verdict.startswith("Out of fold (5-fold over queries, 104 queries)")
    assert ("tuned beats defaults" in verdict) == (tuned.improved and tuned.significant)
    assert f"{tuned.tuned_test_score:.3f}" in verdict and "p=" in verdict
    summary = tuned.summary()
    assert summary["train_queries"] + summary["test_queries"] == 104


def test_chosen_parameters_are_saved_with_provenance(demo, tuned) -> None:  # type: ignore[no-untyped-def]
    assert tuned.saved
    with UnitOfWork(demo.database) as uow:
        stored = settings.get(uow.connection, SEARCH_PARAMS_KEY)
    expected = SearchParams().merged(tuned.chosen).as_dict()
    assert stored["params"] == expected
    provenance = stored["provenance"]
    assert provenance["dataset"] == "demo" and provenance["metric"] == "ndcg@10"
    assert provenance["method"] == tuned.chosen_method
    assert provenance["cross_validation"]["scheme"] == "5-fold over queries"
    assert provenance["cross_validation"]["seed"] == 1
    assert provenance["cross_validation"]["queries"] == 104
    assert provenance["tuned_test_score"] == pytest.approx(tuned.tuned_test_score)
    assert provenance["significant"] == tuned.significant
    assert "date" in provenance and len(provenance["queryset_fingerprint"]) == 12
    assert demo.service.stored_params() == SearchParams().merged(tuned.chosen)


def test_fusion_explorer_refuses_in_memory_like_the_service(demo, tuned) -> None:  # type: ignore[no-untyped-def]
    legs = tuned.legs
    explorer = FusionExplorer(tuned.queryset, legs["lexical"], legs["vector"])
    weights = tuned.ranx_weights
    share = weights["lexical_weight"]
    # The in-memory wsum at ranx's weights scores what optimize_fusion found on all queries.
    assert explorer.score("wsum", share)["ndcg@10"] == pytest.approx(tuned.ranx_train_score)
    # lexical weight 1 is the lexical leg alone, up to ties: a query with one lexical hit
    # min-max normalises it to 0, level with every vector-only doc (ordered by doc id)
    assert explorer.score("wsum", 1.0)["ndcg@10"] == pytest.approx(
        explorer.legs().loc["lexical", "ndcg@10"], abs=0.05
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


def _dovos(*args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "dovos"), *args]
    return subprocess.run(
        command, capture_output=True, text=True, env=os.environ.copy(), timeout=900, check=False
    )


def test_dovos_tune_prints_folds_and_the_out_of_fold_verdict(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The command on a tiny BEIR set (6 queries, so 5 folds of 2,1,1,1,1), beside the demo;
    the module's demo fixture empties the tables afterwards."""
    beir = f"beir:{write_tiny_beir(tmp_path / 'tiny')}"
    grid = json.dumps(GRID)
    done = _dovos("tune", "--dataset", beir, "--grid", grid, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["queries"] == 6 and result["folds"] == 5 and not result["saved"]
    assert [f["test"] for f in result["cv"]["folds"]] == [2, 1, 1, 1, 1]
    pooled = result["cv"]["per_fold"]["ndcg@10"][-1]
    assert pooled["fold"] == "pooled" and pooled["tuned"] == result["tuned_test_score"]
    assert result["provenance"]["dataset"] == beir
    text = _dovos("tune", "--dataset", beir, "--grid", grid, "--seed", "2")
    assert text.returncode == 0, text.stderr
    for expected in (
        "6 queries, 5-fold over queries",
        "ndcg@10 per held-out fold",
        "pooled",
        "chosen per fold",
        "out of fold, paired tests",
        "Out of fold (5-fold",
    ):
        assert expected in text.stdout, expected
    bad = _dovos("tune", "--dataset", beir, "--grid", "[{'fusion': 1}]")
    assert bad.returncode == 1 and "--grid is not JSON" in bad.stderr
    bad = _dovos("tune", "--dataset", beir, "--grid", '[{"rrf_kk": 3}]')
    assert bad.returncode == 1 and "unknown search parameter(s): rrf_kk" in bad.stderr
