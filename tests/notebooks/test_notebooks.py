"""Every notebook executed by papermill (kernel python3) with small parameters on the
demo archive in the session's database; each must write numbers to its results JSON."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from json_numbers import numbers_in
from sqlalchemy import text

from dovos.evaluation.report import NOTEBOOK_DIR, NOTEBOOKS, render_html, run_notebook

SMALL = {
    "worker": {"reembed": True, "poll_seconds": 0.2},
    "compare_rankings": {"max_queries": 12, "depth": 20},
    "tune_hybrid_weights": {
        "max_queries": 24,
        "interactive": True,
        "grid": [
            {"fusion": "rrf"},
            {"fusion": "weighted", "lexical_weight": 0.4, "vector_weight": 0.6},
        ],
    },
    "latency_vs_golden": {"max_queries": 8, "include_api": True, "api_requests": 50},
}


@pytest.fixture(scope="module")
def demo_database(database_session, embedder):  # type: ignore[no-untyped-def]
    """The demo imported and embedded once for all notebooks; tables emptied afterwards."""
    from dovos.evaluation.pipeline import prepare_dataset

    prepare_dataset("demo", database_session, embedder=embedder, progress=False)
    yield database_session
    database_session.engine.dispose()
    with database_session.engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE conversations, messages, message_embeddings, jobs, settings "
                "RESTART IDENTITY CASCADE"
            )
        )


def test_every_notebook_has_literal_parameters_and_no_outputs() -> None:
    for name in NOTEBOOKS:
        book = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
        tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, name
        assert "results_path" in tagged[0].source and "dataset" in tagged[0].source
        values = _literal_assignments(tagged[0].source)
        assert values["dataset"] == "demo" and values["results_path"].endswith(f"{name}.json")
        assert all(not c.get("outputs") for c in book.cells if c.cell_type == "code"), name
        assert book.metadata["kernelspec"]["name"] == "python3"


def _literal_assignments(source: str) -> dict[str, Any]:
    """name -> value of each assignment; ast.literal_eval fails on anything but a literal."""
    values = {}
    for node in ast.parse(source).body:
        assert isinstance(node, ast.Assign | ast.AnnAssign), ast.dump(node)
        target = node.targets[0] if isinstance(node, ast.Assign) else node.target
        values[target.id] = ast.literal_eval(node.value)
    return values


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_writes_its_results(demo_database, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    parameters = {"dataset": "demo", "results_path": str(tmp_path / f"{name}.json"), **SMALL[name]}
    outcome = run_notebook(name, tmp_path, parameters, cell_timeout=600)
    assert outcome.ok, outcome.error
    results = json.loads((tmp_path / f"{name}.json").read_text())
    assert numbers_in(results), f"{name} wrote no numbers"
    assert "data:image/png;base64," in render_html(tmp_path / f"{name}.ipynb")
    check = CHECKS[name]
    check(results)


def _worker(results: dict) -> None:  # type: ignore[type-arg]
    assert results["requeued"] == 208 and results["pending_before"] == 208
    assert results["coverage_percent"] == 100.0 and results["messages_embedded"] == 208


def _compare(results: dict) -> None:  # type: ignore[type-arg]
    metrics = results["metrics"]["demo"]
    assert set(metrics) == {"lexical", "vector", "hybrid"}
    assert all(0.0 <= values["ndcg@10"] <= 1.0 for values in metrics.values())
    assert set(results["tests"]["demo"]) == {"hybrid_vs_lexical", "hybrid_vs_vector"}
    assert "hybrid ndcg@10" in results["verdicts"]["demo"]
    for test in results["tests"]["demo"].values():  # the one rule: both tests below 0.05
        assert test["significant"] == (test["p_t_test"] < 0.05 and test["p_fisher"] < 0.05)
    assert results["queries"]["demo"] == 12


def _tune(results: dict) -> None:  # type: ignore[type-arg]
    assert results["train_queries"] + results["test_queries"] == 24  # per fold, on average
    assert 0.0 <= results["tuned_test_score"] <= 1.0 and not results["saved"]
    assert set(results["sweep"]) == {"wsum", "rrf"}
    # Cross-validated: five folds over the 24 queries, each held out once, per-fold table
    # with mean, spread and the pooled out-of-fold row; the claim is out of fold.
    cv = results["cv"]
    assert results["scheme"] == cv["scheme"] == "5-fold over queries"
    assert sum(fold["test"] for fold in cv["folds"]) == 24
    rows = cv["per_fold"]["ndcg@10"]
    assert [row["fold"] for row in rows] == [*(f"fold-{i}" for i in range(1, 6)), "mean", "std", "pooled"]
    assert rows[-1]["tuned"] == pytest.approx(results["tuned_test_score"])
    assert rows[-1]["defaults"] == pytest.approx(results["default_test_score"])
    assert results["verdict"].startswith("Out of fold (5-fold over queries, 24 queries)")
    # Tuning judges significance by the same rule as the report: both tests below 0.05.
    assert results["significant"] == (results["p_t_test"] < 0.05 and results["p_fisher"] < 0.05)


def _latency(results: dict) -> None:  # type: ignore[type-arg]
    endpoints = {row["endpoint"] for row in results["rows"]}
    assert {
        "search (lexical)",
        "search (vector)",
        "search (hybrid)",
        "GET /api/search (distinct q)",
        "GET /api/conversations",
    } <= endpoints
    assert all(
        row["p95_ms"] >= row["p50_ms"] > 0 and row["legacy_ms"] > 0 for row in results["rows"]
    )


CHECKS = {
    "worker": _worker,
    "compare_rankings": _compare,
    "tune_hybrid_weights": _tune,
    "latency_vs_golden": _latency,
}
