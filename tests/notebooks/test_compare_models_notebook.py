"""The compare_rankings notebook with `models` set: two embedding models (fp32 and the
bf16 variant of all-MiniLM-L6-v2, two model names) embed the demo archive side by side
and their vector and hybrid runs are compared with the significance rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from dovos.evaluation.report import run_notebook

MODELS = ["all-MiniLM-L6-v2", "all-MiniLM-L6-v2@bf16"]


@pytest.mark.slow
def test_compare_rankings_compares_two_models(database_session, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    parameters = {"dataset": "demo", "results_path": str(tmp_path / "compare.json"),
                  "max_queries": 8, "depth": 20, "modes": ["lexical", "vector", "hybrid"],
                  "models": MODELS}
    try:
        outcome = run_notebook("compare_rankings", tmp_path, parameters, cell_timeout=900)
        assert outcome.ok, outcome.error
        results = json.loads((tmp_path / "compare.json").read_text())["models"]
        with database_session.engine.connect() as conn:
            counts = dict(conn.execute(text(
                "SELECT model, count(*) FROM message_embeddings GROUP BY model")).all())
    finally:
        database_session.engine.dispose()
        with database_session.engine.begin() as conn:
            conn.execute(text("TRUNCATE conversations, messages, message_embeddings, jobs, "
                              "settings RESTART IDENTITY CASCADE"))
    assert counts[MODELS[0]] == counts[MODELS[1]] > 0  # every message by both models
    runs = results["metrics"]["demo"]
    assert set(runs) == {f"{mode}:{model}" for mode in ("vector", "hybrid") for model in MODELS}
    assert all(0.0 <= values["ndcg@10"] <= 1.0 for values in runs.values())
    tests = results["tests"]
    assert {(t["mode"], t["metric"]) for t in tests} == {
        (mode, metric) for mode in ("vector", "hybrid") for metric in ("ndcg@10", "recall@10")}
    for test in tests:  # the one rule: both tests below 0.05
        assert test["significant"] == (test["p_t-test"] < 0.05 and test["p_fisher"] < 0.05)
