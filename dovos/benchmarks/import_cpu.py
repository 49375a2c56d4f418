"""Where an import's CPU goes: the Python client against the one server backend.

An import writes a file in one transaction, so one PostgreSQL backend does all of the
server's work (each message's tsvector, its index entries, the BM25 statistics
trigger) on one core, while Python reads, parses, cleans and formats on another. On a
2-core machine the best end-to-end rate is therefore about N / (the backend's CPU
seconds), reached only when the client's work overlaps the backend's (`files.PARSE_AHEAD`
parses the next batch in a thread while the current one is written).

CPU seconds, unlike wall times, hold up on a busy machine, so each run reports both:
wall time, the client process's CPU (`time.process_time`, every thread), the writing
backend's and the second backend's (`files.TSVECTOR_AHEAD`: the connection computing
the search vectors; `psutil`, the server must be local), and the client's peak RSS
while it ran (sampled). Three runs per round on the same generated export (the scale
benchmark's: half ChatGPT-length, half short turns): the import end to end in the two
configurations compared (their order alternates between rounds), and the client alone
(read, parse, clean; nothing written). `--compare parse-ahead` (the default): without
and with parsing ahead; `--compare tsvector-ahead`: search vectors computed by the
writing backend (the trigger) against on a second connection, both parsing ahead.

    python -m dovos.benchmarks.import_cpu --messages 100000 --rounds 2 --compare tsvector-ahead
    from dovos.benchmarks.import_cpu import run_cpu_benchmark
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from dovos.benchmarks.imports import clear_benchmark_rows
from dovos.benchmarks.scale import generated_export
from dovos.importers import files
from dovos.importers.files import batches, import_file, open_export

# The configurations each comparison runs: name -> (PARSE_AHEAD, TSVECTOR_AHEAD).
COMPARISONS: dict[str, dict[str, tuple[int, bool]]] = {
    "parse-ahead": {"parse ahead 0": (0, True), "parse ahead 1": (1, True)},
    "tsvector-ahead": {"tsvector in writer": (1, False), "tsvector ahead": (1, True)},
}
_RSS_EVERY_S = 0.02

if TYPE_CHECKING:
    import psycopg

    from dovos.db import Database


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class _SecondBackends:
    """Stands in for `files.second_connection`: the CPU seconds of each second backend,
    read just before its connection closes (its process ends with it)."""

    def __init__(self) -> None:
        self.real = files.second_connection
        self.cpu_s = 0.0

    @contextmanager
    def __call__(self, connection: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
        with self.real(connection) as second:
            process = psutil.Process(second.info.backend_pid)
            before = _cpu(process)
            try:
                yield second
            finally:
                self.cpu_s += _cpu(process) - before


@contextmanager
def _peak_rss() -> Iterator[list[int]]:
    """The client's largest resident set size seen while the block runs, in `[0]`."""
    process, stop = psutil.Process(), threading.Event()
    peak = [process.memory_info().rss]

    def sample() -> None:
        while not stop.wait(_RSS_EVERY_S):
            peak[0] = max(peak[0], process.memory_info().rss)

    thread = threading.Thread(target=sample, name="dovos-rss-sampler", daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


def measure(database: Database, work: Callable[[psycopg.Connection[Any]], None]
            ) -> dict[str, float]:
    """Wall seconds, client CPU seconds, the writing backend's and the second backend's
    CPU seconds, and the client's peak RSS (MB) of `work(connection)`."""
    second = _SecondBackends()
    files.second_connection = second  # type: ignore[assignment]
    try:
        with database.connect(autocommit=True) as connection, _peak_rss() as peak:
            row = connection.execute("SELECT pg_backend_pid()").fetchone()
            assert row is not None
            backend = psutil.Process(row[0])
            rss_before = peak[0]
            backend_before, client_before = _cpu(backend), time.process_time()
            started = time.perf_counter()
            work(connection)
            wall = time.perf_counter() - started
            return {"wall_s": wall, "client_cpu_s": time.process_time() - client_before,
                    "backend_cpu_s": _cpu(backend) - backend_before,
                    "second_backend_cpu_s": second.cpu_s,
                    "peak_rss_mb": peak[0] / 2**20,
                    "rss_growth_mb": (peak[0] - rss_before) / 2**20,
                    "load": os.getloadavg()[0]}
    finally:
        files.second_connection = second.real


def run_cpu_benchmark(database: Database, messages: int = 100_000, rounds: int = 2,
                      workdir: Path | None = None, compare: str = "parse-ahead"
                      ) -> dict[str, Any]:
    """Every run's figures by name, each a list (one per round), and the 2-core bound."""
    variants = COMPARISONS[compare]
    runs: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / "conversations.json"
        path.write_text(json.dumps(generated_export(messages)), encoding="utf-8")

        def end_to_end(depth: int, tsvector_ahead: bool
                       ) -> Callable[[psycopg.Connection[Any]], None]:
            def run(connection: psycopg.Connection[Any]) -> None:
                files.PARSE_AHEAD, files.TSVECTOR_AHEAD = depth, tsvector_ahead
                result = import_file(path, connection)
                if not result.ok:
                    raise RuntimeError(f"benchmark import failed: {result.error}")
            return run

        def client_alone(_: psycopg.Connection[Any]) -> None:
            with open_export(path) as export:
                for _batch in batches(export.conversations):
                    pass

        defaults = files.PARSE_AHEAD, files.TSVECTOR_AHEAD
        names = list(variants)
        try:
            for number in range(rounds):
                for name in names if number % 2 == 0 else names[::-1]:
                    clear_benchmark_rows(database)
                    runs.setdefault(name, []).append(
                        measure(database, end_to_end(*variants[name])))
                runs.setdefault("client alone", []).append(measure(database, client_alone))
        finally:
            files.PARSE_AHEAD, files.TSVECTOR_AHEAD = defaults
            clear_benchmark_rows(database)
    before, after = names
    backend = min(run["backend_cpu_s"] for name in names for run in runs[name])
    speedup = sum(r["wall_s"] for r in runs[before]) / sum(r["wall_s"] for r in runs[after])
    return {"messages": messages, "runs": runs, "compare": compare,
            "backend_bound_msg_per_s": round(messages / backend),
            "speedup": round(speedup, 2),
            **({"parse_ahead_speedup": round(speedup, 2)} if compare == "parse-ahead" else {})}


def format_cpu(figures: dict[str, Any]) -> str:
    lines = [f"import CPU, {figures['messages']:,} messages (scale benchmark export)"]
    for name, runs in figures["runs"].items():
        for run in runs:
            lines.append(
                f"  {name:<18} wall {run['wall_s']:7.2f} s  "
                f"{figures['messages'] / run['wall_s']:7,.0f} msg/s  client cpu "
                f"{run['client_cpu_s']:6.2f} s  backend cpu {run['backend_cpu_s']:6.2f} s  "
                f"second backend cpu {run['second_backend_cpu_s']:6.2f} s  peak rss "
                f"{run['peak_rss_mb']:6.0f} MB (+{run['rss_growth_mb']:.0f})  "
                f"load {run['load']:.1f}")
    lines.append(f"  one backend's bound: {figures['backend_bound_msg_per_s']:,} msg/s; "
                 f"{figures['compare']} speedup (wall, sum of rounds): {figures['speedup']}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--compare", choices=sorted(COMPARISONS), default="parse-ahead")
    args = parser.parse_args(argv)
    from dovos.db import get_database

    print(format_cpu(run_cpu_benchmark(get_database(), args.messages, args.rounds,
                                       compare=args.compare)))


if __name__ == "__main__":
    main()
