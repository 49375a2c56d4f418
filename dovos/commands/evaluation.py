"""`dovos eval` and `dovos report`: thin shells over dovos.evaluation.

dovos eval --dataset demo|locomo:PATH|beir:PATH [--modes lexical,vector,hybrid] [--k 10] [--json]
dovos report [--dataset demo|locomo:PATH|beir:PATH] [--out eval/reports]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

DATASET_HELP = "demo | locomo:PATH | beir:PATH | known-items[:N] | queryset:PATH"


def register(app: typer.Typer) -> None:
    """Add `eval` and `report` to the `dovos` command."""
    app.command("eval")(eval_command)
    app.command("report")(report_command)


def eval_command(
    dataset: str = typer.Option("demo", "--dataset", "-d", help=DATASET_HELP),
    modes: str = typer.Option("lexical,vector,hybrid", "--modes", help="Comma-separated modes."),
    k: int = typer.Option(10, "--k", min=1, max=1000, help="Cutoff of nDCG@k and recall@k."),
    queryset: list[str] = typer.Option(  # noqa: B008 - typer's way to declare options
        None, "--queryset", help="Only this query set of the dataset (repeatable)."
    ),
    max_queries: int = typer.Option(
        0, "--max-queries", min=0, help="First N judged queries (0: all)."
    ),
    runs_dir: Path = typer.Option(  # noqa: B008
        Path("eval/runs"), "--runs-dir", help="Where the TREC run files go."
    ),
    model: str = typer.Option(
        None, "--model", help="Embedding model of the vector leg (default: the configured "
        "one); embedded first where the database lacks it."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Import DATASET if needed, drain the worker, run the modes, print metrics with significance."""
    from dovos.commands.output import emit_json, fail
    from dovos.evaluation.pipeline import evaluate_dataset, hybrid_tests, hybrid_verdict

    chosen = [mode.strip() for mode in modes.split(",") if mode.strip()]
    try:
        result = evaluate_dataset(
            dataset,
            chosen,
            k,
            querysets=queryset or None,
            max_queries=max_queries,
            runs_dir=_runs_dir(runs_dir, dataset, model),
            progress=not as_json,
            model=model,
        )
    except KeyboardInterrupt:
        fail("interrupted: only run files of query sets that finished were written", code=130)
    except (ValueError, RuntimeError, OSError) as error:
        fail(str(error))
    if as_json:
        emit_json(_as_json(result))
        return
    for name in result.runs:
        comparison = result.comparison[result.comparison["queryset"] == name]
        queries = result.info["queries"][name]
        typer.echo(
            f"\n{name} ({queries} queries; '> x' = significantly better than x, "
            "t-test and Fisher p<0.05)"
        )
        typer.echo(result.table(name).to_string())
        if "hybrid" in chosen and len(chosen) > 1:
            typer.echo(hybrid_verdict(hybrid_tests(comparison, f"ndcg@{k}")))
    if "skipped_questions" in result.info:
        typer.echo(
            f"\n{result.info['skipped_questions']} questions skipped (no usable evidence), "
            f"{result.info['dropped_evidence']} evidence ids naming no turn dropped"
        )
    typer.echo(f"\nrun files: {_runs_dir(runs_dir, dataset, model)}")


def _runs_dir(root: Path, dataset: str, model: str | None) -> Path:
    """Run files of a named model go to a folder of their own (same run names per mode)."""
    folder = root / _slug(dataset)
    return folder if model is None else folder / model.replace("/", "_")


def _slug(dataset: str) -> str:
    kind, _, path = dataset.partition(":")
    return f"{kind}-{Path(path).stem}" if path else kind


def _as_json(result: Any) -> dict[str, Any]:
    metrics = result.metrics.reset_index().to_dict("records")
    categories = (
        result.categories.reset_index().to_dict("records") if not result.categories.empty else []
    )
    return {
        "dataset": result.dataset,
        "k": result.k,
        "metrics": metrics,
        "comparison": result.comparison.to_dict("records"),
        "categories": categories,
        "headline": result.headline(),
        "info": result.info,
    }


def report_command(
    dataset: str = typer.Option("demo", "--dataset", "-d", help=DATASET_HELP),
    out: Path = typer.Option(  # noqa: B008
        Path("eval/reports"),
        "--out",
        "-o",
        help="Report root; earlier reports there form the history.",
    ),
    reembed: bool = typer.Option(
        True,
        "--reembed/--no-reembed",
        help="Let the worker notebook rebuild the dataset's embeddings.",
    ),
    param: list[str] = typer.Option(  # noqa: B008
        None,
        "--param",
        "-p",
        help="Notebook parameter NOTEBOOK.NAME=VALUE (VALUE as JSON, else text); repeatable, "
        "e.g. -p latency_vs_golden.include_api=false",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Run every notebook on DATASET with papermill and write HTML, index.html and summary.json."""
    from dovos.commands.output import emit_json, fail
    from dovos.evaluation.report import build_report, parse_parameters

    try:
        parameters = parse_parameters(param or [])
        report = build_report(
            dataset, out, reembed=reembed, parameters=parameters, progress=not as_json
        )
    except KeyboardInterrupt:
        fail("interrupted: the unfinished report directory holds no summary.json", code=130)
    except (ValueError, RuntimeError, OSError) as error:
        fail(str(error))
    if as_json:
        emit_json(report.summary)
    else:
        for name, outcome in report.summary["notebooks"].items():
            state = "ok" if outcome["ok"] else f"FAILED: {outcome['error']}"
            typer.echo(f"{name:<22} {outcome['seconds']:>7.1f} s  {state}")
        for key, value in report.summary["headline"].items():
            typer.echo(f"  {key}: {value}")
        typer.echo(f"report: {report.index}")
    if not report.ok:
        raise typer.Exit(1)
