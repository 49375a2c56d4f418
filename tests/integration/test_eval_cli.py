"""`dovos eval --json` and `dovos report` as a user runs them: real subprocesses, the
session's embedded database, the real worker and model, notebooks run by papermill."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from eval_support import truncate, write_tiny_beir
from json_numbers import numbers_in

DOVOS = str(Path(sys.executable).parent / "dovos")


def _dovos(
    *args: str, cwd: Path | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DOVOS, *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_eval_json_imports_drains_and_reports_significance(database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = _dovos(
        "eval",
        "--dataset",
        "demo",
        "--modes",
        "lexical,hybrid",
        "--k",
        "5",
        "--max-queries",
        "20",
        "--json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["dataset"] == "demo" and result["k"] == 5
    assert (
        result["info"]["import"]["imported"]
        and result["info"]["drain"]["coverage_percent"] == 100.0
    )
    assert {(m["queryset"], m["run"]) for m in result["metrics"]} == {
        ("demo", "lexical"),
        ("demo", "hybrid"),
    }
    assert all(0.0 <= m["ndcg@5"] <= 1.0 for m in result["metrics"])
    (pair,) = {(c["run_a"], c["run_b"]) for c in result["comparison"]}
    assert pair == ("lexical", "hybrid")
    assert all(
        0.0 <= c["p_t-test"] <= 1.0 and 0.0 < c["p_fisher"] <= 1.0 for c in result["comparison"]
    )
    assert "hybrid_vs_lexical" in result["headline"]["querysets"]["demo"]["tests"]
    assert {c["category"] for c in result["categories"]} >= {"keyword", "paraphrase"}
    assert sorted(p.name for p in (tmp_path / "eval/runs/demo/demo").iterdir()) == [
        "hybrid.trec",
        "lexical.trec",
    ]
    # A second run finds the dataset in the database and imports nothing.
    again = _dovos(
        "eval",
        "--dataset",
        "demo",
        "--modes",
        "lexical",
        "--max-queries",
        "5",
        "--json",
        cwd=tmp_path,
    )
    assert json.loads(again.stdout)["info"]["import"]["imported"] is False


def test_eval_names_bad_input(database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = _dovos("eval", "--dataset", "nope")
    assert done.returncode == 1 and "unknown dataset 'nope'" in done.stderr
    done = _dovos("eval", "--dataset", "demo", "--modes", "lexical,bm25")
    assert done.returncode == 1 and "unknown mode(s) ['bm25']" in done.stderr
    done = _dovos("eval", "--dataset", f"beir:{tmp_path / 'absent'}")
    assert done.returncode == 1 and "does not exist" in done.stderr
    done = _dovos("report", "--out", str(tmp_path), "-p", "compare.k=3")
    assert done.returncode == 1 and "no notebook 'compare'" in done.stderr


@pytest.mark.slow
def test_report_end_to_end_and_history(database_session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from dovos.evaluation.report import build_report

    beir = write_tiny_beir(tmp_path / "tiny")
    out = tmp_path / "reports"
    small = [
        "-p",
        "latency_vs_golden.include_api=false",
        "-p",
        "latency_vs_golden.max_queries=6",
        "-p",
        (
            'tune_hybrid_weights.grid=[{"fusion": "rrf"}, {"fusion": "weighted", '
            '"lexical_weight": 0.5, "vector_weight": 0.5}]'
        ),
    ]
    try:
        done = _dovos("report", "--dataset", f"beir:{beir}", "--out", str(out), *small)
        assert done.returncode == 0, done.stdout + done.stderr
        (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
        for name in ("worker", "compare_rankings", "tune_hybrid_weights", "latency_vs_golden"):
            page = (run_dir / f"{name}.html").read_text()
            assert "data:image/png;base64," in page, f"{name} has no plot"
            assert "prepare_dataset(" not in page  # code cells are hidden
            assert numbers_in(json.loads((run_dir / f"{name}.json").read_text()))
        summary = json.loads((out / "summary.json").read_text())
        assert summary["ok"] and summary["dataset"] == f"beir:{beir}"
        headline = summary["headline"]
        for key in (
            "ndcg@10 hybrid",
            "ndcg@10 lexical",
            "ndcg@10 vector",
            "tuned ndcg@10 (held-out)",
            "p95 ms search (hybrid)",
            "coverage %",
        ):
            assert isinstance(headline[key], float | int), key
        assert headline["coverage %"] == 100.0
        index = (out / "index.html").read_text()
        assert f'href="{run_dir.name}/compare_rankings.html"' in index
        assert index.count("data:image/png;base64,") == 1  # the trend plot, inline
        # A second report in the same root shows the first one in its history.
        second = build_report(f"beir:{beir}", out, notebooks=["compare_rankings"], progress=False)
        assert second.ok and second.run_dir != run_dir
        index = (out / "index.html").read_text()
        trend = index[index.index("<h2>Trend</h2>") :]
        assert run_dir.name in trend and second.run_dir.name in trend
        assert re.search(r"<td>previous report</td>|previous report</th>", index)
        assert f"{run_dir.name}/worker.html" in index  # earlier report still linked
        assert (out / "trend.png").stat().st_size > 1000
    finally:
        truncate(database_session)
