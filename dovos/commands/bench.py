"""`dovos bench`: regression benchmarks as a command (a thin shell over dovos.regression).

dovos bench [--quick] [--check BASELINE] [--update BASELINE] [--json] [--phase NAME]...
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add `bench` to the `dovos` command."""
    app.command("bench")(bench_command)


def bench_command(
    quick: bool = typer.Option(False, "--quick", help="The small run CI does (a few minutes)."),
    check_path: Path = typer.Option(  # noqa: B008 - typer's way to declare options
        None, "--check", help="Compare with this baseline; exit 1 on any regression."
    ),
    update_path: Path = typer.Option(  # noqa: B008
        None, "--update", help="Write this run's figures into this baseline file."
    ),
    phase: list[str] = typer.Option(  # noqa: B008
        None, "--phase", help="Only this phase (repeatable): demo, search, locomo, import, "
        "worker, api."
    ),
    locomo: Path = typer.Option(  # noqa: B008
        None, "--locomo", help="LoCoMo dev file (default: ../shared next to the repository)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
    scale: int = typer.Option(
        0, "--scale", min=0, help="Instead: the scale benchmark on a generated archive of "
        "N messages (synthetic vectors; see dovos.benchmarks.scale)."
    ),
) -> None:
    """Measure quality and same-run speed ratios in throwaway databases; --check compares.

    Quality: nDCG@10 and recall@10 per mode. With --check, print figure / baseline /
    now / tolerance / verdict and exit 1 on a regression."""
    from dovos.commands.output import emit_json, fail

    if scale:
        _scale_command(scale, as_json)
        return
    from dovos.regression import (
        check,
        format_verdicts,
        load_baseline,
        regressions,
        run_bench,
        update_baseline,
    )
    from dovos.regression.baseline import BaselineError

    try:
        baseline = load_baseline(check_path) if check_path else None
        # Benchmarks print their own tables; with --json they go to stderr.
        out = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
        with out:
            report = run_bench(quick, phases=phase or None, locomo_path=locomo,
                               progress=not as_json)
    except KeyboardInterrupt:
        fail("interrupted: the benchmark databases were dropped, no baseline was written",
             code=130)
    except (BaselineError, ValueError, RuntimeError, OSError) as error:
        fail(str(error))
    verdicts = check(report, baseline) if baseline is not None else []
    if update_path:
        update_baseline(report, update_path)
    if as_json:
        emit_json({**report.as_dict(), "verdicts": [v.as_dict() for v in verdicts]})
    else:
        typer.echo("\n" + (format_verdicts(verdicts) if baseline is not None else report.format()))
        if baseline is not None:
            typer.echo(report.format().splitlines()[-1])
        if update_path:
            typer.echo(f"baseline written: {update_path} ({report.mode} section)")
    if regressions(verdicts):
        raise typer.Exit(1)


def _scale_command(messages: int, as_json: bool) -> None:
    """`dovos bench --scale N`: the scale benchmark in a scratch database."""
    from dovos.benchmarks.scale import format_scale, run_scale_benchmark
    from dovos.commands.output import emit_json, fail
    from dovos.embeddings import get_embedder
    from dovos.regression.run import _server
    from dovos.regression.scratch import benchmark_lock, scratch_database

    try:
        with _server(None) as url, benchmark_lock(url), scratch_database(url, "_scale") as db:
            figures = run_scale_benchmark(db, get_embedder(), messages)
    except (ValueError, RuntimeError, OSError) as error:
        fail(str(error))
    if as_json:
        emit_json(figures)
    else:
        typer.echo(format_scale(figures))
