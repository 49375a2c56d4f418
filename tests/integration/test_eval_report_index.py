"""The report's index page and trend plot, from real summary files on disk (no notebooks
run: `build_report` writes these summaries; the end-to-end run is in test_eval_cli)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd

from dovos.evaluation.plots import plot_trend
from dovos.evaluation.report import (
    RUN_TIME,
    change_class,
    figure_direction,
    load_history,
    write_index,
)

DATASET = "beir:<script>alert('x')</script>"


def _write_report(
    out: Path,
    run: str,
    date: str,
    seconds: float,
    headline: dict[str, Any],
    details: dict[str, Any] | None = None,
) -> None:
    run_dir = out / run
    run_dir.mkdir(parents=True)
    (run_dir / "compare_rankings.html").write_text("<html></html>")
    notebook = {
        "name": "compare_rankings",
        "ok": True,
        "seconds": 3.0,
        "notebook": "compare_rankings.ipynb",
        "html": "compare_rankings.html",
        "error": None,
    }
    summary = {
        "run": run,
        "date": date,
        "dataset": DATASET,
        "ok": True,
        "seconds": seconds,
        "notebooks": {"compare_rankings": notebook},
        "headline": headline,
        "details": details or {},
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))


def _row_class(page: str, figure: str) -> str:
    """The change cell's class in the headline row of `figure` (escaped as the page has it)."""
    escaped = figure.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    match = re.search(
        rf"<tr><td>{re.escape(escaped)}</td>(?:<td>[^<]*</td>){{3}}<td class=\"([^\"]*)\">", page
    )
    assert match, f"no headline row for {figure!r} in the index"
    return match.group(1)


def test_index_marks_changes_by_direction_and_escapes(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    _write_report(
        out,
        "2026-11-01T02-00-00Z",
        "2026-11-01T02:00:00+00:00",
        100.0,
        {
            "ndcg@10 hybrid": 0.60,
            "p95 ms search (hybrid)": 20.0,
            "p95 ms search (lexical)": 9.0,
            "worker messages/s": 40.0,
            "p t-test hybrid vs lexical": 0.01,
            "verdict": "hybrid is above <b>both</b>",
        },
    )
    _write_report(
        out,
        "2026-11-02T02-00-00Z",
        "2026-11-02T02:00:00+00:00",
        130.0,
        {
            "ndcg@10 hybrid": 0.65,
            "p95 ms search (hybrid)": 25.0,
            "p95 ms search (lexical)": 7.5,
            "worker messages/s": 30.0,
            "p t-test hybrid vs lexical": 0.02,
            "verdict": "hybrid is above <b>both</b>",
        },
    )
    page = write_index(out, "2026-11-02T02-00-00Z").read_text()
    assert _row_class(page, "p95 ms search (hybrid)") == "regressed"  # grew: worse
    assert _row_class(page, "p95 ms search (lexical)") == "improved"  # shrank: better
    assert _row_class(page, RUN_TIME) == "regressed"  # 100 s -> 130 s
    assert _row_class(page, "ndcg@10 hybrid") == "improved"
    assert _row_class(page, "worker messages/s") == "regressed"
    assert _row_class(page, "p t-test hybrid vs lexical") == "neutral"  # not judged
    # Everything from the summaries is escaped, nothing is injected.
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<b>both</b>" not in page and "&lt;b&gt;both&lt;/b&gt;" in page
    assert 'href="2026-11-02T02-00-00Z/compare_rankings.html"' in page
    assert 'href="2026-11-01T02-00-00Z/compare_rankings.html"' in page  # earlier report
    assert page.count("data:image/png;base64,") == 1
    trend = page[page.index("<h2>Trend</h2>") :]
    assert "2026-11-01T02-00-00Z" in trend and "2026-11-02T02-00-00Z" in trend


def test_directions_of_headline_figures() -> None:
    assert figure_direction("p95 ms search (hybrid)") == "lower"
    assert figure_direction(RUN_TIME) == "lower"
    assert figure_direction("tuned ndcg@10 (held-out)") == "higher"
    assert figure_direction("coverage %") == "higher"
    assert figure_direction("p fisher hybrid vs vector") is None
    assert change_class(5.0, 5.0, "lower") == "unchanged"
    assert change_class(4.0, 5.0, "lower") == "improved"
    assert change_class("text", 5.0, "lower") == ""


def _xlim(history: pd.DataFrame) -> tuple[datetime, datetime]:
    figure = plot_trend(history, ["ndcg@10 hybrid"])
    try:
        low, high = figure.axes[0].get_xlim()
    finally:
        plt.close(figure)
    return mdates.num2date(low), mdates.num2date(high)


def test_trend_axis_spans_the_reports(tmp_path: Path) -> None:
    one = pd.DataFrame({"date": ["2026-11-02T02:00:00+00:00"], "ndcg@10 hybrid": [0.6]})
    low, high = _xlim(one)
    only = datetime(2026, 11, 2, 2, tzinfo=UTC)
    assert low < only < high  # the point is on the axis...
    assert (high - low).total_seconds() <= 6 * 3600  # ...which spans hours, not years

    out = tmp_path / "reports"
    _write_report(out, "a", "2026-11-01T02:00:00+00:00", 10.0, {"ndcg@10 hybrid": 0.6})
    _write_report(out, "b", "2026-11-08T02:00:00+00:00", 10.0, {"ndcg@10 hybrid": 0.7})
    history = load_history(out)
    low, high = _xlim(history)
    first, last = datetime(2026, 11, 1, 2, tzinfo=UTC), datetime(2026, 11, 8, 2, tzinfo=UTC)
    span = last - first
    assert first - span * 0.1 <= low < first and last < high <= last + span * 0.1


def test_index_shows_the_tuning_cross_validation(tmp_path: Path) -> None:
    rows = [
        {"fold": f"conv-{i}", "queries": 10.0, "defaults": 0.5 + i / 100, "tuned": 0.6}
        for i in range(2)
    ]
    rows += [
        {"fold": "mean", "queries": None, "defaults": 0.505, "tuned": 0.6},
        {"fold": "std", "queries": None, "defaults": 0.00707, "tuned": 0.0},
        {"fold": "pooled", "queries": 20.0, "defaults": 0.505, "tuned": 0.6},
    ]
    cv = {
        "scheme": "leave-one-group-out (2 groups: conv-0, conv-1)",
        "per_fold": {"ndcg@10": rows, "mrr": rows},
        "verdict": "Out of fold (...): tuned <beats> defaults",
    }
    out = tmp_path / "reports"
    _write_report(
        out, "r1", "2026-11-01T02:00:00+00:00", 10.0, {}, {"tune_hybrid_weights": {"cv": cv}}
    )
    page = write_index(out, "r1").read_text()
    section = page[page.index("<h2>Tuning, cross-validated</h2>") : page.index("<h2>Trend</h2>")]
    assert "leave-one-group-out (2 groups: conv-0, conv-1)" in section
    assert "<caption>ndcg@10</caption>" in section and "<caption>mrr</caption>" not in section
    assert "<tr><th>fold</th><th>queries</th><th>defaults</th><th>tuned</th></tr>" in section
    assert "<tr><td>conv-1</td><td>10</td><td>0.51</td><td>0.6</td></tr>" in section
    assert "<tr><td>std</td><td></td><td>0.00707</td><td>0</td></tr>" in section
    assert "<tr><td>pooled</td><td>20</td>" in section
    assert "tuned &lt;beats&gt; defaults" in section  # escaped like everything else
    _write_report(out, "r2", "2026-11-02T02:00:00+00:00", 10.0, {})
    assert "This report has no tuning results." in write_index(out, "r2").read_text()
