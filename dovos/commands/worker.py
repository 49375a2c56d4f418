"""`dovos worker` (run the embedding worker), `dovos jobs` (inspect and retry the queue)
and `dovos models` (the embedding models in the archive; `add` queues a model's backfill).

Thin shells over `dovos.worker.Worker(...).run()`, `queue_report()`, `retry_failed()`,
`dovos.worker.models.model_report()` and `add_model()`.
"""

from __future__ import annotations

from typing import Any

import typer

# The defaults of dovos.worker.Worker, repeated so `dovos --help` does not import the
# worker (numpy, psycopg, SQLAlchemy); tests/unit/test_cli_startup.py checks they agree.
DEFAULT_BATCH_SIZE = 256
DEFAULT_ENCODE_BATCH_SIZE = 32
DEFAULT_SLICE_SIZE = 32
DEFAULT_CONCURRENCY = 2
DEFAULT_LEASE_SECONDS = 30.0
DEFAULT_POLL_SECONDS = 1.0

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")
JobIdOption = typer.Option(
    None, "--id", help="Retry only this failed job (repeatable); default: all failed."
)


def register(app: typer.Typer) -> None:
    """Add `worker` and the `jobs` group to the `dovos` command."""
    app.command("worker")(worker_command)
    jobs_app = typer.Typer(
        help="The job queue: counts, failed jobs, workers; `retry` requeues failures.",
        invoke_without_command=True,
    )
    jobs_app.callback()(jobs_command)
    jobs_app.command("retry")(jobs_retry_command)
    app.add_typer(jobs_app, name="jobs")
    models_app = typer.Typer(
        help="Embedding models: coverage of each; `add NAME` registers one and queues "
        "the messages it lacks.",
        invoke_without_command=True,
    )
    models_app.callback()(models_command)
    models_app.command("add")(models_add_command)
    app.add_typer(models_app, name="models")


def worker_command(
    until_empty: bool = typer.Option(
        False, "--until-empty", help="Exit once no job is pending or running."
    ),
    concurrency: int = typer.Option(
        DEFAULT_CONCURRENCY, "--concurrency", min=1,
        help="Claim/encode loops sharing the one model (one writes while another encodes).",
    ),
    batch_size: int = typer.Option(
        DEFAULT_BATCH_SIZE, "--batch-size", min=1, help="Jobs claimed and encoded together."
    ),
    encode_batch_size: int = typer.Option(
        DEFAULT_ENCODE_BATCH_SIZE, "--encode-batch-size", min=1,
        help="Texts per model forward pass.",
    ),
    slice_size: int = typer.Option(
        DEFAULT_SLICE_SIZE, "--slice-size", min=1,
        help="Messages written (and their jobs completed) per transaction within a claim.",
    ),
    lease_seconds: float = typer.Option(
        DEFAULT_LEASE_SECONDS, "--lease-seconds", min=0.1,
        help="How long a claimed job stays ours without a heartbeat.",
    ),
    poll_seconds: float = typer.Option(
        DEFAULT_POLL_SECONDS, "--poll-seconds", min=0.01,
        help="Polling interval when LISTEN/NOTIFY is unavailable.",
    ),
    backoff_base: float = typer.Option(2.0, "--backoff-base", min=0, help="First retry delay (s)."),
    backoff_factor: float = typer.Option(2.0, "--backoff-factor", min=1, help="Delay growth per attempt."),
    backoff_cap: float = typer.Option(300.0, "--backoff-cap", min=0, help="Longest retry delay (s)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    as_json: bool = JsonOption,
) -> None:
    """Embed messages for queued jobs until stopped (Ctrl-C / SIGTERM finish the batch)."""
    from dovos import queue
    from dovos import worker as worker_module
    from dovos.commands.output import emit_json, fail, print_mapping

    try:
        worker = worker_module.Worker(
            batch_size=batch_size,
            encode_batch_size=encode_batch_size,
            slice_size=slice_size,
            concurrency=concurrency,
            lease_seconds=lease_seconds,
            poll_seconds=poll_seconds,
            backoff=queue.Backoff(backoff_base, backoff_factor, backoff_cap),
            progress=progress,
        )
    except ValueError as error:
        fail(str(error), code=2)
    typer.echo(f"worker {worker.worker_id}: batch {batch_size}, concurrency {concurrency}", err=True)
    try:
        stats = worker.run(until_empty=until_empty)
    except KeyboardInterrupt:
        typer.echo("interrupted: the batch in hand was released", err=True)
        raise typer.Exit(130) from None
    except Exception as error:  # noqa: BLE001 - named on stderr, non-zero exit
        fail(f"worker stopped: {type(error).__name__}: {error}")
    if as_json:
        emit_json(stats.as_dict())
    else:
        print_mapping(_rounded(stats.as_dict()))


def jobs_command(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", min=0, help="How many failed jobs to list."),
    as_json: bool = JsonOption,
) -> None:
    """Show jobs by status, the failed ones with their error, and the workers' heartbeats."""
    if ctx.invoked_subcommand is not None:
        return
    from dovos import worker as worker_module
    from dovos.commands.output import emit_json

    report = worker_module.queue_report(failed_limit=limit)
    if as_json:
        emit_json(report.as_dict())
        return
    typer.echo("jobs     " + ", ".join(f"{status} {n}" for status, n in report.counts.items()))
    if report.failed:
        typer.echo(f"failed ({len(report.failed)} most recent; `dovos jobs retry` requeues):")
        for job in report.failed:
            error = (job.last_error or "").splitlines()[0][:160] if job.last_error else "-"
            typer.echo(f"  #{job.id} {job.kind} attempts {job.attempts}/{job.max_attempts}: {error}")
    if not report.workers:
        typer.echo("workers  none has run (start one with `dovos worker`)")
    for beat in report.workers:
        status = "alive" if beat.alive else "gone"
        typer.echo(
            f"worker   {beat.worker_id} {status} ({beat.state}), pid {beat.pid} on {beat.host}, "
            f"last beat {beat.age_seconds:.0f}s ago, {beat.jobs_done} jobs done"
        )


def jobs_retry_command(
    job_ids: list[int] | None = JobIdOption,
    as_json: bool = JsonOption,
) -> None:
    """Requeue failed jobs with a fresh attempt budget."""
    from dovos import worker as worker_module
    from dovos.commands.output import emit_json, fail
    from dovos.queue import NotFailedError

    try:
        result = worker_module.retry_failed(job_ids=job_ids or None)
    except NotFailedError as error:
        fail(f"{error}; nothing was requeued (see `dovos jobs`)")
    if as_json:
        emit_json({"requeued": result.pending, "superseded": result.superseded})
        return
    typer.echo(f"requeued {len(result.pending)} failed job(s)")
    if result.superseded:
        typer.echo(
            f"{len(result.superseded)} more were already covered by a pending job for the same "
            "message and were closed"
        )


def models_command(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List the embedding models stored in the archive with their coverage."""
    if ctx.invoked_subcommand is not None:
        return
    from dovos.commands.output import emit_json
    from dovos.worker.models import model_report

    rows = model_report()
    if as_json:
        emit_json([row.as_dict() for row in rows])
        return
    for row in rows:
        percent = 100.0 * row.current / row.total if row.total else 100.0
        flag = "configured" if row.configured else "not configured"
        typer.echo(f"{row.model:<32} {row.dimensions:>5}-d  {percent:5.1f}% current "
                   f"({row.missing} missing, {row.stale} stale)  {flag}")


def models_add_command(
    name: str = typer.Argument(..., help="Storage name, e.g. all-MiniLM-L6-v2@bf16."),
    dimensions: int = typer.Option(
        None, "--dimensions", min=1, max=2000,
        help="The model's vector size (default: load the model and ask it).",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    as_json: bool = JsonOption,
) -> None:
    """Register model NAME with its own HNSW index and queue every message lacking a
    current embedding of it (one transaction); a worker configured with it embeds them."""
    from dovos.commands.output import emit_json, fail, print_mapping
    from dovos.embeddings import EmbeddingModelError
    from dovos.worker.models import add_model

    try:
        result = add_model(name, dimensions=dimensions, progress=progress and not as_json)
    except (ValueError, EmbeddingModelError) as error:
        fail(str(error))
    if as_json:
        emit_json(result.as_dict())
        return
    print_mapping(result.as_dict())
    if not result.configured:
        typer.echo(f"note: add {name} to DOVOS_EMBEDDING_MODELS, or the worker will not "
                   "embed with it", err=True)


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    return {key: round(value, 2) if isinstance(value, float) else value
            for key, value in values.items()}
