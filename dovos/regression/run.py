"""`run_bench`: every regression figure in one call, in throwaway sibling databases.

Phases, in order (quality first, so BM25 statistics see exactly the same archive every
run; the API gets a database of its own with the contract's golden archive size):

- demo: nDCG@10 / recall@10 per mode on the shipped demo archive and its 104 queries;
- search: hybrid search p50 against the bare SQL of its two legs (query vector cached
  on both sides), the two timed interleaved query by query on the demo archive;
- locomo: nDCG@10 / recall@10 per mode on LoCoMo dev (quick: samples conv-26 and
  conv-30 only, its own baseline keys), skipped with the reason when the file is absent;
- import: bulk import msg/s against the naive ORM path (dovos.benchmarks.imports);
- worker: worker msg/s against plain `model.encode` of the same texts
  (dovos.benchmarks.worker);
- api: legacy API p50 through a real server against the legacy baselines of
  CONTRACT.md (dovos.benchmarks.api).

`search_service` and `params` are the injection points a test uses to show the check
catching a regression (a slow service, a hybrid vector weight of zero) without any
test hook in product code.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from dovos.config import shared_dir
from dovos.embeddings import Embedder, get_embedder
from dovos.evaluation.datasets import Dataset, demo_dataset, locomo_dataset
from dovos.evaluation.pipeline import evaluate_querysets, prepare_dataset
from dovos.evaluation.stats import median
from dovos.regression.figures import BenchReport, Figure
from dovos.regression.scratch import benchmark_lock, scratch_database
from dovos.search.types import MODES

PHASES: tuple[str, ...] = ("demo", "search", "locomo", "import", "worker", "api")
METRICS = ("ndcg@10", "recall@10")
QUICK_LOCOMO_SAMPLES = ("conv-26", "conv-30")
ServiceFactory = Callable[[Any, Embedder], Any]


@dataclass(frozen=True)
class Sizes:
    """How much each phase measures."""

    locomo_samples: tuple[str, ...] | None  # None: every sample
    search_passes: int  # passes over the demo queries
    import_messages: int
    worker_messages: int  # 0: LoCoMo dev turns (or ~3,400 generated)
    worker_slices: int
    api_requests: int


QUICK = Sizes(QUICK_LOCOMO_SAMPLES, search_passes=3, import_messages=4_000,
              worker_messages=600, worker_slices=4, api_requests=50)
FULL = Sizes(None, search_passes=5, import_messages=20_000,
             worker_messages=0, worker_slices=8, api_requests=60)


def default_locomo_path() -> Path:
    """LoCoMo dev in the shared folder next to the repository (or $DOVOS_SHARED_DIR)."""
    return shared_dir() / "datasets" / "locomo" / "locomo10_dev.json"


@dataclass
class Context:
    """What every phase needs."""

    database: Any  # the scratch database of the run
    server_url: str  # the server's own database URL (for the API's scratch database)
    embedder: Embedder
    sizes: Sizes
    factory: ServiceFactory
    params: dict[str, Any] | None
    locomo_path: Path | None
    progress: bool
    report: BenchReport

    def service(self) -> Any:
        return self.factory(self.database, self.embedder)


def run_bench(
    quick: bool = True,
    *,
    database: Any = None,
    embedder: Embedder | None = None,
    locomo_path: str | Path | None = None,
    phases: Sequence[str] | None = None,
    search_service: ServiceFactory | None = None,
    params: dict[str, Any] | None = None,
    progress: bool = True,
) -> BenchReport:
    """Measure the figures of `phases` (default: all) and return them.

    `database` only names the server (its URL): the benchmark writes into sibling
    databases it creates and drops. Without it, the embedded server (or DATABASE_URL)
    is used, and an embedded server this call had to start is stopped at the end.
    """
    chosen = _check_phases(phases)
    report = BenchReport("quick" if quick else "full")
    path = Path(locomo_path) if locomo_path is not None else default_locomo_path()
    with _server(database) as url, benchmark_lock(url):
        model = embedder or get_embedder()
        model.encode(["warm up"])
        factory = search_service or _default_service
        with scratch_database(url) as scratch:
            context = Context(scratch, url, model, QUICK if quick else FULL, factory, params,
                              path, progress, report)
            local = [phase for phase in chosen if phase != "api"]
            for phase in tqdm(local, desc="bench", unit="phase", disable=not progress or not local):
                _timed_phase(context, phase)
        if "api" in chosen:
            _timed_phase(context, "api")
    report.info.update(_run_info(quick, chosen, model))
    return report


def _check_phases(phases: Sequence[str] | None) -> list[str]:
    if phases is None:
        return list(PHASES)
    unknown = sorted(set(phases) - set(PHASES))
    if unknown or not phases:
        raise ValueError(f"unknown phase(s) {unknown or list(phases)}; choose from {', '.join(PHASES)}")
    return [phase for phase in PHASES if phase in phases]


@contextmanager
def _server(database: Any) -> Iterator[str]:
    """The server's URL; stops an embedded server that was started for this run."""
    if database is not None:
        yield database.url
        return
    from dovos.config import get_settings
    from dovos.db import DatabaseInUseError, embedded_server, resolve_database_url

    settings = get_settings()
    server = None if settings.database_url else embedded_server(settings)
    was_running = server.is_running() if server else True
    try:
        yield resolve_database_url(settings)
    finally:
        if server is not None and not was_running:
            try:
                server.stop()
            except DatabaseInUseError:
                pass  # someone else started using it meanwhile: leave it to them


def _default_service(database: Any, embedder: Embedder) -> Any:
    from dovos.search.service import SearchService

    return SearchService(database, embedder)


def _timed_phase(context: Context, phase: str) -> None:
    started = time.perf_counter()
    skipped = PHASE_FUNCTIONS[phase](context)
    if skipped:
        context.report.skipped[phase] = skipped
        print(f"bench: {phase} skipped: {skipped}")
    context.report.seconds[phase] = round(time.perf_counter() - started, 1)


def _run_info(quick: bool, phases: list[str], embedder: Embedder) -> dict[str, Any]:
    import platform

    return {"mode": "quick" if quick else "full", "phases": phases, "model": embedder.name,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "python": platform.python_version()}


# -- quality ------------------------------------------------------------------------------
def demo_phase(context: Context) -> str | None:
    _quality(context, demo_dataset(), "demo")
    return None


def locomo_phase(context: Context) -> str | None:
    path = context.locomo_path
    if path is None or not path.is_file():
        return f"LoCoMo dev file not found at {path} (set DOVOS_SHARED_DIR or --locomo)"
    samples = context.sizes.locomo_samples
    dataset = locomo_subset(path, samples)
    _quality(context, dataset, "locomo" if samples is None else "locomo-quick")
    return None


def locomo_subset(path: Path, samples: tuple[str, ...] | None) -> Dataset:
    """LoCoMo's per-sample evidence-turn query set, restricted to `samples` (None: all)."""
    full = locomo_dataset(path)
    queryset = full.querysets["locomo"]
    if samples is None:
        return Dataset(full.name, full.tag, {"locomo": queryset}, full.load_conversations,
                       full.description, full.info)
    wanted = set(samples)
    kept = queryset.subset([q.id for q in queryset.queries if q.metadata["sample_id"] in wanted])

    def load() -> list[Any]:
        return [c for c in full.load_conversations() if c.metadata.get("sample_id") in wanted]

    return Dataset("locomo-quick", full.tag, {"locomo": kept}, load,
                   f"LoCoMo dev samples {', '.join(samples)}")


def _quality(context: Context, dataset: Dataset, prefix: str) -> None:
    """Import and embed (the real worker), then nDCG@10 and recall@10 of every mode through
    the evaluation pipeline (`evaluate_querysets`, the path `dovos eval` takes)."""
    prepare_dataset(dataset, context.database, embedder=context.embedder,
                    progress=context.progress)
    queryset = dataset.queryset
    table, _, _, _ = evaluate_querysets(
        context.service(), {queryset.name: queryset}, list(MODES), params=context.params,
        metrics=list(METRICS), compare=False, progress=context.progress)
    where = f"{dataset.name}, {len(queryset.judged())} queries"
    for mode in MODES:
        for metric in METRICS:
            value = float(table.loc[(queryset.name, mode), metric])
            context.report.add(Figure(f"{prefix}.{mode}.{metric}", value, "quality",
                                      reference=where))


# -- speed --------------------------------------------------------------------------------
def search_phase(context: Context) -> str | None:
    """Hybrid p50 against bare lexical p50 + bare vector p50, timed query by query.

    Each query is timed `search_passes` times on each side, interleaved, and keeps its
    fastest time: on a shared machine a few-millisecond search is sometimes preempted
    while a 0.2 ms bare statement rarely is, and the minimum removes that bias."""
    from dovos.benchmarks.search_latency import BARE_LEXICAL, BARE_VECTOR

    dataset = demo_dataset()
    prepare_dataset(dataset, context.database, embedder=context.embedder, progress=False)
    texts = [query.text for query in dataset.queryset.judged().queries]
    service, name = context.service(), context.embedder.name
    vectors = dict(zip(texts, map(_literal, context.embedder.encode(texts, batch_size=32)),
                       strict=True))
    for text in texts:  # fills the service's query cache (and its connection pool)
        service.search(text, mode="hybrid", params=context.params)
    timings: dict[str, list[list[float]]] = {"hybrid": [], "lexical": [], "vector": []}
    with context.database.connect() as conn:
        conn.execute("SELECT set_config('hnsw.ef_search', '100', false)")
        for text in texts:
            calls = {
                "hybrid": lambda t=text: service.search(t, mode="hybrid", params=context.params),
                "lexical": lambda t=text: conn.execute(BARE_LEXICAL, {"q": t}).fetchall(),
                "vector": lambda t=text: conn.execute(
                    BARE_VECTOR, {"v": vectors[t], "model": name}).fetchall(),
            }
            rounds = [{side: _ms(call) for side, call in calls.items()}
                      for _ in range(context.sizes.search_passes)]
            for side in calls:
                timings[side].append([round_[side] for round_ in rounds])
    p50 = {side: median(min(times) for times in per_query)
           for side, per_query in timings.items()}
    print(f"bench search: hybrid p50 {p50['hybrid']:.2f} ms, bare lexical p50 "
          f"{p50['lexical']:.2f} ms + bare vector p50 {p50['vector']:.2f} ms "
          f"({len(texts)} queries, best of {context.sizes.search_passes}, query vector cached)")
    context.report.add(Figure(
        "search.hybrid_vs_bare_legs", (p50["lexical"] + p50["vector"]) / p50["hybrid"],
        "speed", "x",
        reference="(bare lexical SQL + bare vector SQL) / hybrid service, p50 over the demo "
                  f"queries of each one's best of {context.sizes.search_passes}, query vector cached"))
    return None


def import_phase(context: Context) -> str | None:
    from dovos.benchmarks.imports import CHATGPT_LENGTHS, run_import_benchmark

    [row] = run_import_benchmark(context.database, messages=context.sizes.import_messages,
                                 profiles=(CHATGPT_LENGTHS,))
    context.report.add(Figure(
        "import.vs_naive", row["fast_messages_per_second"] / row["naive_messages_per_second"],
        "speed", "x", reference=f"dovos import msg/s / naive ORM insert msg/s, "
                                f"{row['messages']:,} generated ChatGPT messages"))
    return None


def worker_phase(context: Context) -> str | None:
    from dovos.benchmarks import worker as bench

    messages = context.sizes.worker_messages  # 0: the LoCoMo dev turns (full run)
    source, conversations = bench.benchmark_conversations(
        None if messages else context.locomo_path, generated_messages=messages or None
    )
    run = bench.measure_worker_run(context.database, context.embedder, conversations,
                                   slices=context.sizes.worker_slices)
    print(f"bench worker: plain encode {run.reference_rate:.1f} msg/s, worker "
          f"{run.worker_rate:.1f} msg/s, ratio {run.ratio:.3f} ({source})")
    context.report.add(Figure("worker.vs_encode", run.ratio, "speed", "x",
                              reference=f"worker msg/s / plain model.encode msg/s, {source}"))
    return None


API_ROWS = {
    "api.search.vs_legacy": "GET /api/search (distinct q)",
    "api.conversations.vs_legacy": "GET /api/conversations",
}


def api_phase(context: Context) -> str | None:
    from dovos.benchmarks.api import build_benchmark_archive, run_api_benchmark

    with scratch_database(context.server_url, "_bench_api") as database:
        build_benchmark_archive(database, context.embedder)
        result = run_api_benchmark(database, requests=context.sizes.api_requests,
                                   progress=context.progress)
    rows = {row.endpoint: row for row in result.results}
    for name, endpoint in API_ROWS.items():
        row = rows[endpoint]
        context.report.add(Figure(
            name, row.legacy_ms / row.p50_ms, "speed", "x",
            reference=f"legacy {row.legacy_ms:.0f} ms / p50 of {endpoint} through uvicorn, "
                      f"{row.requests} requests"))
    return None


PHASE_FUNCTIONS: dict[str, Callable[[Context], str | None]] = {
    "demo": demo_phase,
    "search": search_phase,
    "locomo": locomo_phase,
    "import": import_phase,
    "worker": worker_phase,
    "api": api_phase,
}


def _ms(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000.0


def _literal(vector: Any) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector.tolist()) + "]"
