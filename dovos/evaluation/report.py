"""The nightly report: every notebook run with papermill, rendered to HTML, indexed.

    from dovos.evaluation.report import build_report
    report = build_report("demo", "eval/reports")   # = dovos report --dataset demo

One report is one directory `<out>/<UTC timestamp>/` holding, per notebook, the executed
notebook, its HTML (code cells hidden, plots embedded as images) and its results JSON,
plus `summary.json` (headline figures). The output root keeps every earlier report:
`<out>/index.html` links today's notebooks, shows the headline figures next to the
previous report's, the tuning's cross-validation (per fold, mean, spread, pooled, and
the out-of-fold verdict), and a trend table and plot over all reports of the same dataset,
so a regression is visible at a glance; `<out>/summary.json` is the latest summary.
The index is rendered from the jinja2 template `templates/report_index.html.j2`
(autoescaped). Each headline figure has a direction (`figure_direction`): a change is
marked improved or regressed by it, so a p95 or a run time that grows is a regression.

Before the notebooks run, the dataset is imported into the database in use (only what
is missing) so every notebook sees the same archive; the worker notebook then rebuilds
the dataset's embeddings (`reembed`), which doubles as a nightly worker measurement,
and the queue is drained again before the ranking notebooks start. A notebook that
fails does not stop the others: its HTML shows the error and the report exits non-zero.
"""

from __future__ import annotations

import base64
import io
import json
import numbers
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from tqdm.auto import tqdm

from dovos.resources import notebooks_dir

NOTEBOOK_DIR = notebooks_dir()
NOTEBOOKS = ("worker", "compare_rankings", "tune_hybrid_weights", "latency_vs_golden")
DEFAULT_OUT = Path("eval") / "reports"
KERNEL = "python3"
CELL_TIMEOUT = 3600.0  # seconds; LoCoMo's slowest cell takes about 6 minutes
# "(held-out)" figures of the tuning are pooled out-of-fold scores (cross-validated).
TREND_COLUMNS = ["ndcg@10 hybrid", "ndcg@10 lexical", "ndcg@10 vector", "tuned ndcg@10 (held-out)"]
TEMPLATE = "report_index.html.j2"
RUN_TIME = "report run time (s)"  # the index's row for the summary's `seconds`
Direction = Literal["higher", "lower"]
# Headline figures by name: which way is better (first match wins; no match: not judged).
LOWER_IS_BETTER = (" ms", "seconds", "run time")
HIGHER_IS_BETTER = ("ndcg@", "recall@", "mrr", "map", "coverage", "messages/s")


@dataclass
class NotebookOutcome:
    """How one notebook ran."""

    name: str
    ok: bool
    seconds: float
    notebook: str
    html: str
    results: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class ReportResult:
    """Where the report went and what it found."""

    run_dir: Path
    index: Path
    summary: dict[str, Any]
    notebooks: list[NotebookOutcome]

    @property
    def ok(self) -> bool:
        return all(outcome.ok for outcome in self.notebooks)


def notebook_parameters(name: str, dataset: str, run_dir: Path, reembed: bool) -> dict[str, Any]:
    """The parameters the report gives notebook `name` (results beside its output)."""
    parameters: dict[str, Any] = {"dataset": dataset, "results_path": str(run_dir / f"{name}.json")}
    if name == "worker":
        parameters["reembed"] = reembed
    if name == "compare_rankings":
        parameters["runs_dir"] = str(run_dir / "runs")
    if name == "tune_hybrid_weights":
        parameters["interactive"] = False
    return parameters


def parse_parameters(items: list[str]) -> dict[str, dict[str, Any]]:
    """{"notebook": {"name": value}} from "notebook.name=value" strings (value JSON or text)."""
    parameters: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        notebook, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise ValueError(f"parameter {item!r} is not NOTEBOOK.NAME=VALUE")
        if notebook not in NOTEBOOKS:
            raise ValueError(
                f"parameter {item!r}: no notebook {notebook!r} (notebooks: {', '.join(NOTEBOOKS)})"
            )
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        parameters.setdefault(notebook, {})[name] = value
    return parameters


def build_report(
    dataset: str = "demo",
    out: str | Path = DEFAULT_OUT,
    *,
    notebooks: tuple[str, ...] | list[str] = NOTEBOOKS,
    parameters: dict[str, dict[str, Any]] | None = None,
    reembed: bool = True,
    database: Any = None,
    progress: bool = True,
) -> ReportResult:
    """Run `notebooks` on `dataset` into a new report under `out`; rebuild the index."""
    from dovos.evaluation.datasets import ensure_imported, resolve_dataset
    from dovos.evaluation.drain import drain_queue

    started = time.monotonic()
    out = Path(out).resolve()
    run_dir = _new_run_dir(out)
    if database is None:
        from dovos.db import get_database

        database = get_database()
    resolved = resolve_dataset(dataset, database)  # fails early on a bad spec
    ensure_imported(database, resolved, progress=progress)
    outcomes = []
    for name in tqdm(list(notebooks), desc="report", unit="notebook", disable=not progress):
        if name != "worker":
            drain_queue(database, progress=False)  # no-op unless the worker notebook failed
        given = {
            **notebook_parameters(name, dataset, run_dir, reembed),
            **(parameters or {}).get(name, {}),
        }
        outcomes.append(run_notebook(name, run_dir, given))
    summary = summarize(run_dir, dataset, outcomes, time.monotonic() - started)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    shutil.copyfile(run_dir / "summary.json", out / "summary.json")
    index = write_index(out, run_dir.name)
    return ReportResult(run_dir, index, summary, outcomes)


def _new_run_dir(out: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    run_dir, suffix = out / stamp, 1
    while run_dir.exists():
        suffix += 1
        run_dir = out / f"{stamp}-{suffix}"
    run_dir.mkdir(parents=True)
    return run_dir


def run_notebook(
    name: str,
    run_dir: Path,
    parameters: dict[str, Any],
    source_dir: Path = NOTEBOOK_DIR,
    cell_timeout: float = CELL_TIMEOUT,
) -> NotebookOutcome:
    """Execute `<source_dir>/<name>.ipynb` with papermill in `run_dir`, render its HTML.

    A cell running longer than `cell_timeout` seconds fails the notebook (a nightly job
    must end, whatever hangs)."""
    import papermill

    source = source_dir / f"{name}.ipynb"
    if not source.is_file():
        raise FileNotFoundError(f"notebook {source} does not exist")
    executed, page = run_dir / f"{name}.ipynb", run_dir / f"{name}.html"
    started = time.monotonic()
    error = None
    try:
        papermill.execute_notebook(
            str(source),
            str(executed),
            parameters=parameters,
            kernel_name=KERNEL,
            cwd=str(run_dir),
            progress_bar=False,
            log_output=False,
            execution_timeout=cell_timeout,
        )
    except Exception as failure:  # noqa: BLE001 - recorded; the report goes on
        error = f"{type(failure).__name__}: {str(failure).strip().splitlines()[-1][:500]}"
    seconds = time.monotonic() - started
    if executed.is_file():
        page.write_text(render_html(executed), encoding="utf-8")
    results_path = Path(parameters.get("results_path", run_dir / f"{name}.json"))
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    if error is None and not results:
        error = f"{name} wrote no results to {results_path}"
    return NotebookOutcome(
        name, error is None, round(seconds, 1), executed.name, page.name, results, error
    )


def render_html(notebook_path: Path) -> str:
    """The executed notebook as HTML without code cells (outputs and images inline)."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(nbformat.read(notebook_path, as_version=4))
    return body


# -- summary ------------------------------------------------------------------------------
def summarize(
    run_dir: Path, dataset: str, outcomes: list[NotebookOutcome], seconds: float
) -> dict[str, Any]:
    """The report's summary.json: status, timings, headline figures, each notebook's results."""
    details = {outcome.name: outcome.results for outcome in outcomes}
    return {
        "run": run_dir.name,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": dataset,
        "ok": all(outcome.ok for outcome in outcomes),
        "seconds": round(seconds, 1),
        "notebooks": {
            o.name: {k: v for k, v in asdict(o).items() if k != "results"} for o in outcomes
        },
        "headline": headline(details),
        "details": details,
    }


def headline(details: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Flat headline figures (what the trend follows) from the notebooks' results."""
    figures: dict[str, Any] = {}
    compare = details.get("compare_rankings") or {}
    if compare.get("metrics"):
        primary = next(iter(compare["metrics"]))
        k = compare.get("k", 10)
        figures["queryset"] = primary
        for run, values in compare["metrics"][primary].items():
            for metric in (f"ndcg@{k}", f"recall@{k}", "mrr"):
                if metric in values:
                    figures[f"{metric} {run}"] = round(values[metric], 4)
        for key, test in (compare.get("tests") or {}).get(primary, {}).items():
            figures[f"p t-test {key.replace('_', ' ')}"] = test["p_t_test"]
            figures[f"p fisher {key.replace('_', ' ')}"] = test["p_fisher"]
        figures["verdict"] = (compare.get("verdicts") or {}).get(primary)
    tune = details.get("tune_hybrid_weights") or {}
    if tune:
        metric = tune.get("metric", "ndcg@10")
        figures[f"default {metric} (held-out)"] = round(tune["default_test_score"], 4)
        figures[f"tuned {metric} (held-out)"] = round(tune["tuned_test_score"], 4)
        figures["tuning verdict"] = tune.get("verdict")
    for row in (details.get("latency_vs_golden") or {}).get("rows", []):
        figures[f"p95 ms {row['endpoint']}"] = round(row["p95_ms"], 2)
    worker = details.get("worker") or {}
    if worker:
        figures["coverage %"] = worker.get("coverage_percent")
        figures["worker messages/s"] = worker.get("messages_per_second")
    return figures


# -- index and history --------------------------------------------------------------------
def load_history(out: Path) -> pd.DataFrame:
    """One row per report under `out` (oldest first): run, date, dataset, ok, headline figures."""
    rows = []
    for path in sorted(out.glob("*/summary.json")):
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a report that died mid-write is not history
        rows.append(
            {
                "run": summary.get("run", path.parent.name),
                "date": summary.get("date"),
                "dataset": summary.get("dataset"),
                "ok": summary.get("ok"),
                "seconds": summary.get("seconds"),
                **summary.get("headline", {}),
            }
        )
    return pd.DataFrame(rows)


def write_index(out: Path, current: str) -> Path:
    """Rebuild `<out>/index.html` for report `current` with the history of `out`."""
    history = load_history(out)
    summary = json.loads((out / current / "summary.json").read_text())
    same = history[history["dataset"] == summary["dataset"]] if not history.empty else history
    trend_png = _trend_png(same)
    if trend_png:
        (out / "trend.png").write_bytes(trend_png)
    page = render_index(index_context(out, summary, same, history, trend_png))
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def render_index(context: dict[str, Any]) -> str:
    """The index page from the package's jinja2 template, every value autoescaped."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    environment = Environment(
        loader=PackageLoader("dovos.evaluation", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    return environment.get_template(TEMPLATE).render(**context)


def index_context(
    out: Path,
    summary: dict[str, Any],
    same: pd.DataFrame,
    history: pd.DataFrame,
    trend_png: bytes | None,
) -> dict[str, Any]:
    """Everything the template shows, as plain values (no HTML)."""
    run = summary["run"]
    previous = same.iloc[-2] if len(same) >= 2 else None
    figures = {**summary["headline"], RUN_TIME: summary.get("seconds")}
    before = {key: _value(previous, key) for key in summary["headline"]}
    before[RUN_TIME] = _value(previous, "seconds")
    return {
        "run": run,
        "dataset": str(summary["dataset"]),
        "date": summary["date"],
        "seconds": summary["seconds"],
        "ok": summary["ok"],
        "notebooks": [{"name": name, **n} for name, n in summary["notebooks"].items()],
        "headline": [headline_row(key, value, before[key]) for key, value in figures.items()],
        "trend_png": base64.b64encode(trend_png).decode() if trend_png else None,
        "trend": _trend_table(same),
        "cv": cv_tables(summary.get("details", {}).get("tune_hybrid_weights") or {}),
        "earlier": _earlier_reports(out, history, run),
    }


def cv_tables(tune: dict[str, Any]) -> dict[str, Any] | None:
    """The tuning notebook's cross-validation, as texts for the index: per metric a table
    of folds (rows: each fold, then mean, std over folds, pooled) by run, and the
    out-of-fold verdict. None when the report has no tuning results."""
    cv = tune.get("cv")
    if not cv or not cv.get("per_fold"):
        return None
    tables = []
    for metric, rows in cv["per_fold"].items():
        if metric == "mrr":
            continue
        columns = [c for c in rows[0] if c != "fold"]
        body = [
            [row["fold"], *(_count(row[c]) if c == "queries" else _cell(row[c]) for c in columns)]
            for row in rows
        ]
        tables.append({"metric": metric, "columns": ["fold", *columns], "rows": body})
    return {"scheme": cv.get("scheme", ""), "tables": tables, "verdict": cv.get("verdict", "")}


def _count(value: Any) -> str:
    return "" if value is None else str(int(value))


def figure_direction(name: str) -> Direction | None:
    """Whether a higher or a lower value of headline figure `name` is better (None: a
    figure that is not judged, such as a p-value or a verdict)."""
    lowered = name.lower()
    if lowered.startswith("p ") or "verdict" in lowered:
        return None
    if any(marker in lowered for marker in LOWER_IS_BETTER):
        return "lower"
    if any(marker in lowered for marker in HIGHER_IS_BETTER):
        return "higher"
    return None


def change_class(value: Any, before: Any, direction: Direction | None) -> str:
    """CSS class of a change: improved, regressed, unchanged, or neutral (not judged)."""
    if not _is_number(value) or not _is_number(before):
        return ""
    change = value - before
    if change == 0:
        return "unchanged"
    if direction is None:
        return "neutral"
    better = change < 0 if direction == "lower" else change > 0
    return "improved" if better else "regressed"


def headline_row(name: str, value: Any, before: Any) -> dict[str, Any]:
    """One row of the headline table: texts to show and the change's class."""
    direction = figure_direction(name)
    numeric = _is_number(value) and _is_number(before)
    return {
        "name": name,
        "direction": direction,
        "value": _cell(value),
        "before": _cell(before),
        "change": f"{value - before:+.4g}" if numeric else "",
        "css": change_class(value, before, direction),
    }


def _value(row: pd.Series | None, key: str) -> Any:
    if row is None:
        return None
    value = row.get(key)
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def _trend_png(history: pd.DataFrame) -> bytes | None:
    if history.empty:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from dovos.evaluation.plots import plot_trend

    columns = [c for c in TREND_COLUMNS if c in history]
    if not columns:
        return None
    figure = plot_trend(
        history, columns, f"{history['dataset'].iloc[-1]}: headline figures per report"
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def _trend_table(history: pd.DataFrame) -> dict[str, list[Any]]:
    """The last 30 reports' trend figures: {"columns": [...], "rows": [[text, ...], ...]}."""
    if history.empty:
        return {"columns": [], "rows": []}
    columns = [
        "run",
        "ok",
        *[c for c in TREND_COLUMNS if c in history],
        *[c for c in history.columns if c.startswith("p95 ms search")],
        "seconds",
    ]
    table = history[[c for c in columns if c in history]].tail(30)
    rows = [[_cell(value) for value in record] for record in table.itertuples(index=False)]
    return {"columns": list(table.columns), "rows": rows}


def _earlier_reports(out: Path, history: pd.DataFrame, current: str) -> list[dict[str, Any]]:
    """Each earlier report (newest first) with the notebook pages it holds."""
    if history.empty:
        return []
    reports = []
    for run, dataset in zip(history["run"], history["dataset"], strict=True):
        if run == current:
            continue
        pages = [{"file": p.name, "name": p.stem} for p in sorted((out / run).glob("*.html"))]
        reports.append({"run": run, "dataset": str(dataset), "pages": pages})
    return list(reversed(reports))


def _is_number(value: Any) -> bool:
    """A real number (numpy's too), not a bool and not NaN."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not pd.isna(value)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
