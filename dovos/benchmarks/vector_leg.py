"""Where the vector leg's time goes, and what hnsw.ef_search buys (issue 16).

`vector_leg_breakdown` times, query by query on distinct texts, every piece between the
bare HNSW query and the service's vector search: the query embedding alone; the bare
`ORDER BY <=> LIMIT 10` and `LIMIT candidates` queries; the service's vector statement
(knobs, statement, rollback); the whole service call with the query vector cached; and
the same first-touch (cold) figures for the bare query and the service call. At a
million vectors the HNSW graph (about 2 GB) is larger than shared_buffers: the first
query into a region of the graph reads its pages from the OS cache, the next one finds
them in shared buffers, so cold and warm are measured apart. Cold figures come from
disjoint halves of the queries (even ones: the service first; odd ones: the bare query
first), warm ones from every query after both ran. Each statement's backend CPU
(/proc/<pid>/schedstat, where readable) is reported too: on a loaded machine it is the
steadier figure.

`ef_search_sweep` measures, on given query vectors, per ef_search, how much of the exact top 10 (a sequential
scan, tie-aware) the index's top 10 keeps, recall of the exact top `candidates` in the
index's `candidates` (what the hybrid fuses), warm latency and the buffers touched
(shared hit + read: the cold-start cost of a query grows with it).

Run on a kept scale archive (`dovos bench --scale N --keep` or the 1M one):
`python -m dovos.benchmarks.vector_leg --suffix _scale1000000 [--queries 60] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from dovos.benchmarks.search_latency import BARE_VECTOR, EXACT_VECTOR, TIE, percentiles
from dovos.embeddings import Embedder
from dovos.search.service import SearchService, _vector_literal, bind_model, one_torch_thread
from dovos.search.sql import SEARCH_KNOBS_SQL, build_statement
from dovos.search.types import SearchParams

EF_VALUES = (40, 64, 100, 200, 400)


def backend_cpu_ms(pid: int) -> float | None:
    """CPU time the server process `pid` has used, in ms (None where /proc is not ours)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e6
    except (OSError, ValueError, IndexError):
        return None


class _Timer:
    """Wall ms (and the backend's CPU ms) per named piece."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def __call__(self, name: str, call: Callable[[], Any]) -> Any:
        cpu = backend_cpu_ms(self.pid)
        started = time.perf_counter()
        result = call()
        self.wall.setdefault(name, []).append((time.perf_counter() - started) * 1000.0)
        after = backend_cpu_ms(self.pid)
        if cpu is not None and after is not None:
            self.cpu.setdefault(name, []).append(after - cpu)
        return result


def _bare(limit: int) -> str:
    return BARE_VECTOR.replace("LIMIT 10", f"LIMIT {int(limit)}")


def vector_leg_breakdown(database: Any, embedder: Embedder, texts: list[str],
                         params: SearchParams | None = None) -> dict[str, Any]:
    """p50/p95 (and backend CPU p50) of each piece of the vector leg on `texts`."""
    params = params or SearchParams()
    ef = str(max(params.ef_search, params.candidates))
    service = SearchService(database, embedder)
    service.search("warm up the service", mode="vector")  # plans, pool
    conn = database.connect()
    try:
        timer = _Timer(conn.info.backend_pid)
        statement, values = build_statement("vector", params, None)
        statement = bind_model(statement, embedder.name, embedder.dim, conn)
        conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (ef,))
        conn.commit()

        def run(sql: str, bound: dict[str, Any]) -> list[Any]:
            rows = conn.execute(sql, bound).fetchall()
            conn.rollback()
            return rows

        def leg(literal: str) -> list[Any]:
            conn.execute(SEARCH_KNOBS_SQL, {"ef_search": ef, "fuzzy_threshold": "0.5"})
            return run(statement, dict(values, k=10, words=[], tsquery="", qvec=literal))

        for index, text in enumerate(tqdm(texts, desc="vector leg", leave=False)):
            search = lambda t=text: service.search(t, mode="vector")
            if index % 2 == 0:
                timer("service vector search, cold (embedding included)", search)
            with one_torch_thread():
                vector = timer("query embedding (one torch thread)",
                               lambda t=text: embedder.encode([t], batch_size=1)[0])
            bare = {"v": _vector_literal(vector), "model": embedder.name}
            if index % 2 == 1:
                timer("bare HNSW LIMIT 10, cold", lambda b=bare: run(BARE_VECTOR, b))
                search()  # its vector is cached from here on, as on even queries
            timer("bare HNSW LIMIT 10, warm", lambda b=bare: run(BARE_VECTOR, b))
            timer(f"bare HNSW LIMIT {params.candidates}, warm",
                  lambda b=bare: run(_bare(params.candidates), b))
            timer("vector statement, warm (knobs + statement)", lambda b=bare: leg(b["v"]))
            timer("service vector search, warm (vector cached)", search)
    finally:
        conn.close()
    figures: dict[str, Any] = {}
    for name, samples in timer.wall.items():
        figures[name] = percentiles(samples)
        if timer.cpu.get(name):
            figures[name]["backend_cpu_p50"] = round(statistics.median(timer.cpu[name]), 2)
    figures["load_average"] = [round(x, 1) for x in os.getloadavg()]
    return figures


SAMPLE_VECTORS = (
    "SELECT embedding::text FROM message_embeddings WHERE model = %(model)s "
    "ORDER BY md5(message_id::text || %(seed)s) LIMIT %(count)s"
)


def sampled_vectors(database: Any, model: str, count: int, noise: float = 0.5,
                    seed: int = 0) -> np.ndarray:
    """`count` stored vectors of `model`, each moved by Gaussian noise of norm about
    `noise` and renormalised: queries from the archive's own distribution (real query
    encodings are far from the scale benchmark's synthetic vectors: every distance is
    about 0.8, and "the exact top 10" is then a near-tie)."""
    with database.connect() as conn:
        rows = conn.execute(SAMPLE_VECTORS, {"model": model, "seed": str(seed),
                                             "count": count}).fetchall()
    stored = np.array([json.loads(text) for (text,) in rows], dtype=np.float32)
    moved = stored + np.random.default_rng(seed).normal(
        0.0, noise / np.sqrt(stored.shape[1]), stored.shape).astype(np.float32)
    return moved / np.linalg.norm(moved, axis=1, keepdims=True)


def ef_search_sweep(database: Any, embedder: Embedder, vectors: np.ndarray,
                    ef_values: tuple[int, ...] = EF_VALUES,
                    candidates: int = 100) -> dict[str, Any]:
    """Per ef_search: agreement of the index's top 10 with the exact top 10, recall of the
    exact top `candidates`, warm p50 and buffers touched of the `candidates` query."""
    exact_sql = EXACT_VECTOR.replace("LIMIT 10", f"LIMIT {int(candidates)}")
    explain = "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) " + _bare(candidates)
    per_ef: dict[int, dict[str, list[float]]] = {ef: {} for ef in ef_values}
    with database.connect() as conn:
        conn.execute("SET hnsw.iterative_scan = relaxed_order")
        for vector in tqdm(vectors, desc="ef_search sweep", leave=False):
            bound = {"v": _vector_literal(vector), "model": embedder.name}
            exact = conn.execute(exact_sql, bound).fetchall()
            if len(exact) < 10:
                continue
            bound10, bound_all = exact[9][1] + TIE, exact[-1][1] + TIE
            for ef in ef_values:
                conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (str(ef),))
                rows = conn.execute(_bare(candidates), bound).fetchall()  # first touch
                started = time.perf_counter()
                conn.execute(_bare(candidates), bound).fetchall()
                warm = (time.perf_counter() - started) * 1000.0
                plan = conn.execute(explain, bound).fetchone()[0][0]["Plan"]
                got = per_ef[ef]
                got.setdefault("top10", []).append(
                    sum(1 for _, d in rows[:10] if d <= bound10) / 10)
                got.setdefault("recall_candidates", []).append(
                    sum(1 for _, d in rows if d <= bound_all) / len(exact))
                got.setdefault("warm_ms", []).append(warm)
                got.setdefault("buffers", []).append(
                    plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0))
    return {str(ef): {"top10_vs_exact": round(float(np.mean(got["top10"])), 4),
                      f"recall_at_{candidates}": round(float(np.mean(got["recall_candidates"])), 4),
                      "warm_p50_ms": round(statistics.median(got["warm_ms"]), 2),
                      "buffers_mean": round(float(np.mean(got["buffers"])))}
            for ef, got in per_ef.items() if got}


def format_breakdown(figures: dict[str, Any]) -> str:
    rows = [f"{'vector leg piece':<52}{'p50':>8}{'p95':>8}{'cpu p50':>9}"]
    for name, value in figures.items():
        if isinstance(value, dict) and "p50" in value:
            cpu = value.get("backend_cpu_p50")
            rows.append(f"{name:<52}{value['p50']:>8.1f}{value['p95']:>8.1f}"
                        f"{'' if cpu is None else f'{cpu:.1f}':>9}")
    rows.append(f"load average {figures.get('load_average')}")
    return "\n".join(rows)


def format_sweep(sweep: dict[str, Any]) -> str:
    rows = [f"{'ef_search':>9}{'top10 vs exact':>16}{'recall@cand':>13}{'warm p50':>10}{'buffers':>9}"]
    for ef, value in sweep.items():
        recall = next(v for k, v in value.items() if k.startswith("recall_at_"))
        rows.append(f"{ef:>9}{value['top10_vs_exact']:>16.3f}{recall:>13.3f}"
                    f"{value['warm_p50_ms']:>10.1f}{value['buffers_mean']:>9}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    from sqlalchemy.engine import make_url

    from dovos.benchmarks.scale import scale_queries
    from dovos.db import Database
    from dovos.db import url as database_url
    from dovos.embeddings import get_embedder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suffix", default="", help="scale database suffix, e.g. _scale1000000")
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--sweep-queries", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    url = database_url()
    parsed = make_url(url)
    name = (parsed.database or "postgres") + args.suffix
    database = Database(parsed.set(database=name).render_as_string(hide_password=False),
                        application="bench")
    embedder = get_embedder()
    embedder.warm_up()
    texts = [f"{t} breakdown" for t in scale_queries(args.queries, seed=101)]
    figures = {"breakdown": vector_leg_breakdown(database, embedder, texts)}
    print(format_breakdown(figures["breakdown"]))
    sweep_texts = [f"{t} sweep" for t in scale_queries(args.sweep_queries, seed=103)]
    for label, vectors in () if not args.sweep_queries else (
            ("stored vectors + noise", sampled_vectors(database, embedder.name,
                                                       args.sweep_queries, seed=103)),
            ("query encodings", embedder.encode(sweep_texts, batch_size=32))):
        figures[f"ef_search, {label}"] = ef_search_sweep(database, embedder, vectors)
        print(f"ef_search sweep, {label}")
        print(format_sweep(figures[f"ef_search, {label}"]))
    database.close()
    if args.json:
        print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
