"""`dovos eval`, `dovos tune` and `dovos report`: thin shells over dovos.evaluation.

dovos eval --dataset demo|locomo:PATH|beir:PATH[@SPLIT] [--modes lexical,vector,hybrid] [--k 10] [--json]
dovos tune --dataset ... [--k 5] [--seed 0] [--grid JSON] [--save] [--json]   (cross-validated)
dovos report [--dataset demo|locomo:PATH|beir:PATH[@SPLIT]] [--out eval/reports]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

DATASET_HELP = "demo | locomo:PATH | beir:PATH[@SPLIT] | known-items[:N] | queryset:PATH"


def register(app: typer.Typer) -> None:
    """Add `eval`, `tune` and `report` to the `dovos` command."""
    app.command("eval")(eval_command)
    app.command("tune")(tune_command)
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
        None,
        "--model",
        help="Embedding model of the vector leg (default: the configured "
        "one); embedded first where the database lacks it.",
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


def tune_command(
    dataset: str = typer.Option("demo", "--dataset", "-d", help=DATASET_HELP),
    queryset: str = typer.Option(
        "", "--queryset", help="Query set of the dataset (default: primary)."
    ),
    metric: str = typer.Option("ndcg@10", "--metric", help="What tuning maximises."),
    k: int = typer.Option(5, "--k", min=2, help="Folds of k-fold (sets without LoCoMo samples)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the k-fold cut."),
    grid: str = typer.Option(
        "", "--grid", help='JSON list of overrides, e.g. \'[{"fusion": "rrf"}]\'.'
    ),
    max_queries: int = typer.Option(
        0, "--max-queries", min=0, help="First N judged queries (0: all)."
    ),
    save: bool = typer.Option(
        False, "--save", help="Store the final choice as the search defaults."
    ),
    drain: bool = typer.Option(
        True, "--drain/--no-drain", help="Run the worker until the queue is empty first."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Tune the hybrid parameters cross-validated; print per-fold scores and the out-of-fold verdict.

    LoCoMo: leave one sample out; other sets: k-fold over queries. "Tuned beats defaults"
    only when the pooled out-of-fold scores say so (t-test and Fisher p<0.05)."""
    from dovos.commands.output import emit_json, fail
    from dovos.evaluation.tuning import tune_dataset

    try:
        overrides = _grid(grid)
        result = tune_dataset(
            dataset,
            queryset=queryset or None,
            max_queries=max_queries,
            metric=metric,
            grid=overrides,
            k=k,
            seed=seed,
            save=save,
            drain=drain,
            progress=not as_json,
        )
    except KeyboardInterrupt:
        fail("interrupted: nothing was saved", code=130)
    except (ValueError, RuntimeError, OSError) as error:
        fail(str(error))
    if as_json:
        emit_json({**result.summary(), "cv": result.cv.as_dict(), "provenance": result.provenance})
        return
    cv = result.cv
    typer.echo(
        f"\n{result.queryset.name if result.queryset else dataset}: {result.queries} queries, {cv.scheme}"
    )
    for name in cv.metrics:
        if name == "mrr":
            continue
        typer.echo(f"\n{name} per held-out fold (mean and std over folds; pooled over all queries)")
        typer.echo(_fold_table(cv.table(name)))
    typer.echo("\nchosen per fold (on its training queries):")
    for fold, row in cv.choices.iterrows():
        typer.echo(f"  {fold}: {row['label']} {row['params']} (train {row['train_score']:.4f})")
    typer.echo("\nout of fold, paired tests (t-test and Fisher p<0.05):")
    for row in cv.comparison.to_dict("records"):
        if row["metric"] == "mrr":
            continue
        typer.echo(
            f"  {row['metric']:<10} {row['run_b']} {row['mean_b']:.4f} vs {row['run_a']} "
            f"{row['mean_a']:.4f} ({row['delta']:+.4f}, t p={row['p_t-test']:.3g}, "
            f"Fisher p={row['p_fisher']:.3g}{', significant' if row['significant'] else ''})"
        )
    typer.echo(f"\n{result.verdict()}")
    typer.echo("saved as the search defaults" if result.saved else "not saved (--save stores it)")


def _grid(text: str) -> list[dict[str, Any]] | None:
    """The --grid option: a JSON list of parameter dicts, or None for the default grid."""
    import json

    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise ValueError(f"--grid is not JSON: {error}") from None
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise ValueError("--grid must be a non-empty JSON list of parameter objects")
    return value


def _fold_table(table: Any) -> str:
    """A fold table as text: query counts as integers, scores to four places."""
    import math

    shown = table.copy()
    shown["queries"] = ["" if math.isnan(v) else str(int(v)) for v in shown["queries"]]
    return shown.to_string(float_format=lambda v: f"{v:.4f}")


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
