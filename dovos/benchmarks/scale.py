"""How Dovos behaves with a large archive: `dovos bench --scale N`.

A generated archive of N messages (half ChatGPT-length turns, half short chat turns,
words drawn from a Zipf-like made-up vocabulary, 20 turns per conversation, so N/20
conversations) is written as a ChatGPT `conversations.json` and imported through the
real path (`import_files`: read, parse, write, enqueue), timed end to end.

Vectors: really encoding N messages on a small CPU takes hours, so each message gets a
*synthetic* unit vector (one of 64 random topic centres plus noise, generated inside
PostgreSQL and bulk-inserted with the HNSW index dropped, then the index is rebuilt and
timed). Query vectors are real encodings of the query texts, so every search pays for
its query embedding as in production. Latencies on synthetic vectors measure the index
and the SQL, not ranking quality.

Figures: import rate, per-index build time and size, database size, p50/p95 of lexical,
vector and hybrid search with and without a filter, the bare SQL references measured in
the same run on the same queries (GIN AND-match, plain HNSW), the API's conversations
page and stats, peak RSS of this process, and the same-run ratios. Lexical and hybrid
are measured with the default lexical leg (champion lists, built and timed after the
vectors, plus the candidate budget), the budget alone (`champion_depth=0`) and the exact
leg (`lexical_budget=0`) query by query in turn, with how much of the exact top 10 each
keeps. `measure_archive` re-measures the searches on a database built earlier.
"""

from __future__ import annotations

import json
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dovos.benchmarks.imports import (
    BENCH_PREFIX,
    CHATGPT_LENGTHS,
    SHORT_LENGTHS,
    Vocabulary,
    generate_chatgpt_export,
)
from dovos.benchmarks.search_latency import (
    bare_latency,
    paired_latency,
    percentiles,
    service_latency,
)
from dovos.config import EMBEDDING_DIM
from dovos.db.prewarm import PrewarmError, prewarm
from dovos.embeddings import Embedder
from dovos.importers.files import import_files
from dovos.repositories import embeddings
from dovos.search.document_text import EMBEDDING_RECIPE
from dovos.search.types import SearchFilters

PER_CONVERSATION = 20
HNSW_BUILD_MEMORY = "4GB"  # this session's maintenance_work_mem for the HNSW build
TOPICS = 64
INDEXES = """
SELECT indexrelname, indexrelid::regclass::text, pg_get_indexdef(indexrelid)
FROM pg_stat_user_indexes WHERE relname IN ('messages', 'message_embeddings')
ORDER BY relname, indexrelname
"""


def generated_export(messages: int, seed: int = 7) -> list[dict[str, Any]]:
    """Half ChatGPT-length, half short turns, conversations of PER_CONVERSATION turns."""
    long_part = messages // 2
    export = generate_chatgpt_export(long_part, PER_CONVERSATION, seed, CHATGPT_LENGTHS)
    short = generate_chatgpt_export(messages - long_part, PER_CONVERSATION, seed + 1,
                                    SHORT_LENGTHS)
    # Both halves number their conversations from 0: give the short half its own ids.
    renamed = json.loads(json.dumps(short).replace(BENCH_PREFIX, BENCH_PREFIX + "short-"))
    return export + renamed


def scale_queries(count: int, seed: int = 11) -> list[str]:
    """Distinct 2-4 word queries from the archive's vocabulary (Zipf-weighted, so some
    words are common and some rare, as in real searches)."""
    rng = random.Random(seed)
    vocabulary = Vocabulary.build(random.Random(7))  # the export's first vocabulary
    found: dict[str, None] = {}
    while len(found) < count:
        found[" ".join(rng.choices(vocabulary.words, vocabulary.weights, k=rng.randint(2, 4)))] = None
    return list(found)


def import_archive(database: Any, messages: int, workdir: Path) -> dict[str, Any]:
    """Write the export file and import it through the real path; timed end to end."""
    path = workdir / "conversations.json"
    path.write_text(json.dumps(generated_export(messages)), encoding="utf-8")
    started = time.perf_counter()
    [result] = import_files([path], database=database, progress=False)
    seconds = time.perf_counter() - started
    if not result.ok or result.result is None:
        raise RuntimeError(f"scale benchmark import failed: {result.error}")
    added = result.result.messages_added
    return {"messages": added, "file_mb": round(path.stat().st_size / 1e6, 1),
            "import_seconds": round(seconds, 2), "import_msg_per_s": round(added / seconds)}


def load_vectors(database: Any, model: str) -> dict[str, Any]:
    """Synthetic vectors for every message with the HNSW index dropped, then every index
    of messages and message_embeddings (re)built and timed, with its size."""
    figures: dict[str, Any] = {"indexes": {}}
    with database.connect() as conn:
        # The model's own partial index (a '<model>@bf16' name has one of its own).
        embeddings.ensure_model(conn, model, EMBEDDING_DIM)
        conn.commit()
        index = embeddings.index_name(model)
        hnsw = conn.execute("SELECT pg_get_indexdef(%s::regclass)", (index,)).fetchone()[0]
        conn.execute(f'DROP INDEX "{index}"')
        started = time.perf_counter()
        embeddings.insert_synthetic(conn, model, TOPICS, recipe=EMBEDDING_RECIPE)
        conn.commit()
        figures["vector_load_seconds"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        # pgvector builds fast only while the graph fits in maintenance_work_mem (the
        # embedded server's 512MB holds about 300,000 of these vectors); past that it
        # inserts on disk: measured here, 17 min for the first third of 1M under load.
        conn.execute(f"SET maintenance_work_mem = '{HNSW_BUILD_MEMORY}'")
        conn.execute(hnsw)
        conn.commit()
        built = {index: time.perf_counter() - started}
        for name, regclass, _ in conn.execute(INDEXES).fetchall():
            if name not in built:
                started = time.perf_counter()
                conn.execute(f"REINDEX INDEX {regclass}")
                conn.commit()
                built[name] = time.perf_counter() - started
        for name, regclass, _ in conn.execute(INDEXES).fetchall():
            size = conn.execute("SELECT pg_relation_size(%s::regclass)", (regclass,)).fetchone()[0]
            figures["indexes"][name] = {"build_s": round(built[name], 2),
                                        "mb": round(size / 1e6, 1)}
        conn.execute("ANALYZE messages")
        conn.execute("ANALYZE message_embeddings")
        conn.commit()
        figures["database_mb"] = round(conn.execute(
            "SELECT pg_database_size(current_database())").fetchone()[0] / 1e6, 1)
    return figures


# The exact lexical leg (every match of the seed terms scored), measured beside the
# default candidate-budgeted one in the same run.
EXACT = {"lexical_budget": 0}
# The candidate budget without champion lists (what the default was before them).
BUDGET_ONLY = {"champion_depth": 0}


def search_figures(database: Any, embedder: Embedder, texts: list[str]) -> dict[str, Any]:
    """p50/p95 per mode (query embedding included) without and with a filter, the exact
    lexical leg's p50/p95 (lexical and hybrid, no filter), and the bare SQL references
    on the same queries."""
    figures: dict[str, Any] = {}
    unfiltered = [(text, None) for text in texts]
    # A filter every query can meet: assistant turns of the last ten years.
    keep = SearchFilters(roles=("assistant",), date_from=datetime(2016, 1, 1, tzinfo=UTC))
    filtered = [(f"{text} answer", keep) for text in texts]  # distinct: no cached vectors
    for mode in ("lexical", "vector", "hybrid"):
        if mode == "vector":
            plain = service_latency(database, embedder, unfiltered, mode)
        else:  # the default (budgeted) and the exact leg, query by query in turn
            both, found = paired_latency(database, embedder, unfiltered, mode,
                                         {"default": {}, "exact": EXACT, "budget": BUDGET_ONLY})
            figures[f"{mode}_budget_p50_ms"], figures[f"{mode}_budget_p95_ms"] = (
                both["budget"]["p50"], both["budget"]["p95"])
            figures[f"{mode}_budget_overlap_at_10_with_exact"] = overlap(found["exact"],
                                                                         found["budget"])
            plain, exact = both["default"], both["exact"]
            figures[f"{mode}_exact_p50_ms"], figures[f"{mode}_exact_p95_ms"] = (
                exact["p50"], exact["p95"])
            figures[f"{mode}_overlap_at_10_with_exact"] = overlap(found["exact"],
                                                                  found["default"])
        with_filter = service_latency(database, embedder, filtered, mode)
        figures[f"{mode}_p50_ms"], figures[f"{mode}_p95_ms"] = plain["p50"], plain["p95"]
        figures[f"{mode}_filtered_p50_ms"] = with_filter["p50"]
        figures[f"{mode}_filtered_p95_ms"] = with_filter["p95"]
    bare = bare_latency(database, embedder, [(f"{t} bare", None) for t in texts])
    figures["query_embedding_p50_ms"] = bare["query embedding"]["p50"]
    figures["bare_lexical_p50_ms"] = bare["bare lexical SQL (ts_rank_cd, AND)"]["p50"]
    figures["bare_vector_p50_ms"] = bare["bare vector SQL (HNSW)"]["p50"]
    return figures


def overlap(reference: list[list[Any]], other: list[list[Any]]) -> float | None:
    """Mean share of each reference top 10 that `other` also returned (queries where
    the reference found something): what the candidate budget costs on this archive."""
    shares = [len(set(a) & set(b)) / len(a) for a, b in zip(reference, other, strict=True) if a]
    return round(sum(shares) / len(shares), 3) if shares else None


def api_figures(database: Any, calls: int = 20) -> dict[str, Any]:
    """p50/p95 of the API's first conversations page and of stats (in-process adapter)."""
    from dovos.api.app import create_app

    adapter = create_app(database=database).state.adapter
    figures: dict[str, Any] = {}
    for name, call in (("api_conversations", lambda: adapter.conversations(1, 50)),
                       ("api_stats", adapter.stats)):
        call()  # connections, plans
        timings = []
        for _ in range(calls):
            started = time.perf_counter()
            call()
            timings.append((time.perf_counter() - started) * 1000.0)
        summary = percentiles(timings)
        figures[f"{name}_p50_ms"], figures[f"{name}_p95_ms"] = summary["p50"], summary["p95"]
    figures["conversations"] = adapter.stats().total_conversations
    return figures


def run_scale_benchmark(database: Any, embedder: Embedder, messages: int,
                        queries: int = 100, workdir: Path | None = None) -> dict[str, Any]:
    """Every figure on a new archive of `messages` messages in `database` (a scratch
    database: the caller drops it). Prints nothing; see `format_scale`."""
    if messages < PER_CONVERSATION * 2:
        raise ValueError(f"--scale {messages}: use at least {PER_CONVERSATION * 2} messages")
    embedder.encode(["warm up"])
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        figures: dict[str, Any] = import_archive(database, messages, Path(tmp))
    figures.update(load_vectors(database, embedder.name))
    figures.update(champion_figures(database))
    figures["prewarm_s"] = prewarm_seconds(database)
    figures.update(measure_archive(database, embedder, queries))
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures.update({k: round(v, 2) for k, v in figures.items() if isinstance(v, float)})
    figures["vectors"] = "synthetic (topic centres + noise), query vectors real"
    return figures


def champion_figures(database: Any) -> dict[str, Any]:
    """Build the lexical leg's champion lists (`dovos db champions`), timed, with size."""
    from dovos.search.champions import refresh

    built = refresh(database, progress=False)
    return {"champion_build_s": built["seconds"], "champion_mb": built["size_mb"],
            "champion_lists": built["lists"], "champion_entries": built["entries"]}


def prewarm_seconds(database: Any) -> float | None:
    """Seconds to load the search indexes into shared_buffers, so the first queries do
    not read them from disk; None on a server without pg_prewarm (the figures are then
    measured cold, which the benchmark must still do, not fail)."""
    try:
        return round(prewarm(database, progress=False).seconds, 2)
    except PrewarmError as error:
        print(f"scale benchmark: no prewarm ({error}); searches start cold", file=sys.stderr)
        return None


def measure_archive(database: Any, embedder: Embedder, queries: int = 100) -> dict[str, Any]:
    """The search and API figures and their same-run ratios on an archive already built
    (by `run_scale_benchmark` into a database that was kept): re-measure a changed
    search leg on the same data without rebuilding it."""
    embedder.encode(["warm up"])
    figures = search_figures(database, embedder, scale_queries(queries))
    figures.update(api_figures(database))
    for mode, bare in (("hybrid", "bare_vector"), ("lexical", "bare_lexical")):
        for leg in ("", "_exact"):
            figures[f"{mode}{leg}_over_{bare}"] = round(
                figures[f"{mode}{leg}_p50_ms"] / figures[f"{bare}_p50_ms"], 1)
    figures["queries"] = queries
    return figures


def format_scale(figures: dict[str, Any]) -> str:
    """The figures as an aligned two-column table."""
    rows = [(f"scale benchmark: {figures['messages']:,} messages, "
             f"{figures['conversations']:,} conversations")]
    for key, value in figures.items():
        if key == "indexes":
            for name, index in value.items():
                rows.append(f"  index {name:<44} build {index['build_s']:>8.2f} s "
                            f"{index['mb']:>9.1f} MB")
        else:
            shown = f"{value:,.1f}" if isinstance(value, float) else str(value)
            rows.append(f"  {key:<50} {shown:>12}")
    return "\n".join(rows)
