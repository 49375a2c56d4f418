"""Where an import's CPU goes: the Python client against the one server backend.

An import writes a file in one transaction, so one PostgreSQL backend does all of the
server's work (each message's tsvector, its index entries, the BM25 statistics
trigger) on one core, while Python reads, parses, cleans and formats on another. On a
2-core machine the best end-to-end rate is therefore about N / (the backend's CPU
seconds), reached only when the client's work overlaps the backend's (`files.PARSE_AHEAD`
parses the next batch in a thread while the current one is written).

CPU seconds, unlike wall times, hold up on a busy machine, so each run reports both:
wall time, the client process's CPU (`time.process_time`, every thread) and the
backend's (`psutil`, the server must be local). Three runs per round on the same
generated export (the scale benchmark's: half ChatGPT-length, half short turns):
the import end to end with and without parsing ahead (their order alternates between
rounds), and the client alone (read, parse, clean; nothing written).

    python -m dovos.benchmarks.import_cpu --messages 100000 --rounds 2
    from dovos.benchmarks.import_cpu import run_cpu_benchmark
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from dovos.benchmarks.imports import clear_benchmark_rows
from dovos.benchmarks.scale import generated_export
from dovos.importers import files
from dovos.importers.files import batches, import_file, open_export

if TYPE_CHECKING:
    import psycopg

    from dovos.db import Database


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def measure(database: Database, work: Callable[[psycopg.Connection[Any]], None]
            ) -> dict[str, float]:
    """Wall seconds, client CPU seconds and backend CPU seconds of `work(connection)`."""
    with database.connect(autocommit=True) as connection:
        row = connection.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        backend = psutil.Process(row[0])
        backend_before, client_before = _cpu(backend), time.process_time()
        started = time.perf_counter()
        work(connection)
        wall = time.perf_counter() - started
        return {"wall_s": wall, "client_cpu_s": time.process_time() - client_before,
                "backend_cpu_s": _cpu(backend) - backend_before,
                "load": os.getloadavg()[0]}


def run_cpu_benchmark(database: Database, messages: int = 100_000, rounds: int = 2,
                      workdir: Path | None = None) -> dict[str, Any]:
    """Every run's figures by name, each a list (one per round), and the 2-core bound."""
    runs: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / "conversations.json"
        path.write_text(json.dumps(generated_export(messages)), encoding="utf-8")

        def end_to_end(depth: int) -> Callable[[psycopg.Connection[Any]], None]:
            def run(connection: psycopg.Connection[Any]) -> None:
                files.PARSE_AHEAD = depth
                result = import_file(path, connection)
                if not result.ok:
                    raise RuntimeError(f"benchmark import failed: {result.error}")
            return run

        def client_alone(_: psycopg.Connection[Any]) -> None:
            with open_export(path) as export:
                for _batch in batches(export.conversations):
                    pass

        default = files.PARSE_AHEAD
        try:
            for number in range(rounds):
                for depth in (0, 1) if number % 2 == 0 else (1, 0):
                    clear_benchmark_rows(database)
                    runs.setdefault(f"parse ahead {depth}", []).append(
                        measure(database, end_to_end(depth)))
                runs.setdefault("client alone", []).append(measure(database, client_alone))
        finally:
            files.PARSE_AHEAD = default
            clear_benchmark_rows(database)
    backend = min(run["backend_cpu_s"] for run in runs["parse ahead 1"] + runs["parse ahead 0"])
    return {"messages": messages, "runs": runs,
            "backend_bound_msg_per_s": round(messages / backend),
            "parse_ahead_speedup": round(
                sum(r["wall_s"] for r in runs["parse ahead 0"])
                / sum(r["wall_s"] for r in runs["parse ahead 1"]), 2)}


def format_cpu(figures: dict[str, Any]) -> str:
    lines = [f"import CPU, {figures['messages']:,} messages (scale benchmark export)"]
    for name, runs in figures["runs"].items():
        for run in runs:
            lines.append(f"  {name:<14} wall {run['wall_s']:7.2f} s  client cpu "
                         f"{run['client_cpu_s']:6.2f} s  backend cpu {run['backend_cpu_s']:6.2f} s"
                         f"  load {run['load']:.1f}")
    lines.append(f"  one backend's bound: {figures['backend_bound_msg_per_s']:,} msg/s; "
                 f"parse ahead speedup (wall, sum of rounds): "
                 f"{figures['parse_ahead_speedup']}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    from dovos.db import get_database

    print(format_cpu(run_cpu_benchmark(get_database(), args.messages, args.rounds)))


if __name__ == "__main__":
    main()
