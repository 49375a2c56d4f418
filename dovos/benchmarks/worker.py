"""Worker throughput: the whole job path against plain `model.encode` of the same texts.

For each configuration (jobs per claim, model batch size, loops) and repetition, the
benchmark takes the LoCoMo dev turns (or ~3,400 generated messages when the dataset is
absent) in `slices` groups of whole conversations; for each group it ingests it, reads
the exact texts the worker will embed (`fetch_embedding_inputs`), and times, back to
back on the same machine:

- reference: one `embedder.encode(texts, batch_size=encode_batch_size)` call per group,
  which sorts the group by length (the model's best case, no database at all). It runs
  in a thread of its own, as the worker's encode does: on a machine busier than its
  cores, torch's OpenMP team spin-waits differently when started from the main thread
  (measured here under load: main thread ~2x slower; equal with OMP_WAIT_POLICY=PASSIVE),
  and the comparison should be about the job path, not that;
- worker: a `Worker` running in the background (started once per configuration, as a
  worker normally runs) from the commit of the group's jobs until it has completed
  them all: wake-up (NOTIFY), claim, read texts, encode, upsert embeddings (HNSW index
  included), complete the jobs.

It prints both rates over all groups and their ratio (aim: >= 0.9), and deletes its
conversations afterwards. Which side goes first alternates from group to group, and
groups are short (tens of seconds), so a machine whose load changes during the
benchmark (other processes on a shared machine) does not favour one side. The
worker's start-up (model already loaded: threads, connections) is not counted.

`compare_slicing` runs the same comparison for a worker that writes each claim in slices
of 32 messages (the default) and for one that writes a claim all at once (as before
slicing), alternating the two, so the cost of committing work as it is done is a ratio
measured in one run. (`slices` there, as everywhere in this module, is the number of
conversation groups; `slice_size` is the worker's write slice.)

    from dovos.benchmarks.worker import run_worker_benchmark
    run_worker_benchmark(get_database(), locomo_path="../shared/datasets/locomo/locomo10_dev.json")

Run it on a database whose queue is otherwise empty and with no other worker attached.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dovos.embeddings import Embedder, get_embedder
from dovos.importers.parsed import ParsedConversation, ParsedMessage
from dovos.ingest import ingest
from dovos.search.document_text import fetch_embedding_inputs
from dovos.worker import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONCURRENCY,
    DEFAULT_ENCODE_BATCH_SIZE,
    DEFAULT_SLICE_SIZE,
    Worker,
)

BENCH_PREFIX = "bench-worker:"
AIM_RATIO = 0.9
GENERATED_MESSAGES = 3_400
# (jobs per claim, texts per model batch, loops)
DEFAULT_CONFIGS: tuple[tuple[int, int, int], ...] = (
    (DEFAULT_BATCH_SIZE, DEFAULT_ENCODE_BATCH_SIZE, DEFAULT_CONCURRENCY),
)


@dataclass
class WorkerRun:
    """One configuration, one repetition: both timings and their ratio."""

    batch_size: int
    encode_batch_size: int
    concurrency: int
    messages: int
    reference_seconds: float
    worker_seconds: float
    slice_size: int = DEFAULT_SLICE_SIZE

    @property
    def reference_rate(self) -> float:
        return self.messages / self.reference_seconds

    @property
    def worker_rate(self) -> float:
        return self.messages / self.worker_seconds

    @property
    def ratio(self) -> float:
        return self.worker_rate / self.reference_rate

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reference_rate": round(self.reference_rate, 1),
                "worker_rate": round(self.worker_rate, 1), "ratio": round(self.ratio, 3)}


@dataclass
class WorkerBenchmark:
    """All runs, and per configuration the median ratio over its repetitions."""

    source: str
    messages: int
    runs: list[WorkerRun] = field(default_factory=list)

    def medians(self) -> dict[tuple[int, int, int], float]:
        grouped: dict[tuple[int, int, int], list[float]] = {}
        for run in self.runs:
            key = (run.batch_size, run.encode_batch_size, run.concurrency)
            grouped.setdefault(key, []).append(run.ratio)
        return {key: statistics.median(ratios) for key, ratios in grouped.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "messages": self.messages,
            "aim_ratio": AIM_RATIO,
            "runs": [run.as_dict() for run in self.runs],
            "median_ratio": {
                f"batch {b}, encode batch {e}, concurrency {c}": round(ratio, 3)
                for (b, e, c), ratio in self.medians().items()
            },
        }


def benchmark_conversations(
    locomo_path: str | Path | None, generated_messages: int | None = None
) -> tuple[str, list[ParsedConversation]]:
    """The LoCoMo dev turns as conversations, or `generated_messages` generated turns
    (default: about the size of LoCoMo dev)."""
    if locomo_path is not None and Path(locomo_path).is_file():
        from dovos.evaluation.locomo import load_locomo

        conversations = load_locomo(locomo_path).conversations
        source = f"LoCoMo dev ({Path(locomo_path).name})"
    else:
        conversations = generated_conversations(generated_messages or GENERATED_MESSAGES)
        source = f"{sum(len(c.messages) for c in conversations)} generated messages"
    tagged = [
        ParsedConversation("unknown", BENCH_PREFIX + c.source_id, c.title, c.messages,
                           c.created_at, c.metadata)
        for c in conversations
    ]
    return source, tagged


def generated_conversations(
    messages: int = GENERATED_MESSAGES, seed: int = 7
) -> list[ParsedConversation]:
    """Chat-like turns of 5 to 60 words (LoCoMo turns average ~125 characters)."""
    rng = random.Random(seed)
    words = ["trip", "garden", "painting", "family", "dog", "camping", "concert", "book", "friend", "work", "school", "music", "dinner", "beach", "photo", "weekend", "project", "support", "group", "adoption", "race", "pottery", "hiking", "museum", "recipe", "birthday"]
    conversations = []
    for start in range(0, messages, 20):
        turns = [
            ParsedMessage("user" if i % 2 == 0 else "assistant",
                          " ".join(rng.choices(words, k=int(rng.triangular(5, 60, 14)))) + ".")
            for i in range(start, min(start + 20, messages))
        ]
        conversations.append(ParsedConversation("unknown", f"generated-{start // 20}",
                                                f"generated {start // 20}", turns))
    return conversations


def run_worker_benchmark(
    database: Any,
    embedder: Embedder | None = None,
    *,
    locomo_path: str | Path | None = None,
    configs: tuple[tuple[int, int, int], ...] = DEFAULT_CONFIGS,
    repeats: int = 1,
    slices: int = 8,
) -> WorkerBenchmark:
    """Time worker drains against plain encode for each config; print and return figures."""
    embedder = embedder or get_embedder()
    source, conversations = benchmark_conversations(locomo_path)
    _require_idle_queue(database)
    embedder.encode(["warm up"])
    result = WorkerBenchmark(source, sum(len(c.messages) for c in conversations))
    print(f"\nworker benchmark: {result.messages} messages from {source}, "
          f"model {embedder.name}, {repeats} repetition(s) per configuration")
    for config in configs:
        for _ in range(repeats):
            run = _one_run(database, embedder, conversations, config, slices=slices,
                           first=len(result.runs))
            result.runs.append(run)
            print(f"  batch {run.batch_size:4d} encode batch {run.encode_batch_size:3d} "
                  f"concurrency {run.concurrency}: plain encode {run.reference_rate:6.1f} msg/s, "
                  f"worker {run.worker_rate:6.1f} msg/s, ratio {run.ratio:.3f}")
    for (b, e, c), ratio in result.medians().items():
        print(f"median ratio, batch {b}, encode batch {e}, concurrency {c}: {ratio:.3f} "
              f"(aim >= {AIM_RATIO})")
    return result


def measure_worker_run(
    database: Any,
    embedder: Embedder,
    conversations: list[ParsedConversation],
    config: tuple[int, int, int] = DEFAULT_CONFIGS[0],
    *,
    slices: int = 8,
    slice_size: int = DEFAULT_SLICE_SIZE,
    first: int = 0,
) -> WorkerRun:
    """One timed comparison (worker drain vs plain encode) on an idle queue; `first`
    alternates which side goes first in each group."""
    _require_idle_queue(database)
    embedder.encode(["warm up"])
    return _one_run(database, embedder, conversations, config, slices=slices, first=first,
                    slice_size=slice_size)


def compare_slicing(
    database: Any,
    embedder: Embedder,
    conversations: list[ParsedConversation],
    *,
    slice_size: int = DEFAULT_SLICE_SIZE,
    repeats: int = 1,
    slices: int = 8,
) -> dict[str, list[WorkerRun]]:
    """Writes in slices of `slice_size` against a claim written all at once (a slice
    larger than the claim: the worker before slicing), each as a ratio to plain encode,
    alternating the two from repetition to repetition; prints both ratios."""
    runs: dict[str, list[WorkerRun]] = {"all at once": [], f"slices of {slice_size}": []}
    for repeat in range(repeats):
        order = [("all at once", 1 << 30), (f"slices of {slice_size}", slice_size)]
        for index, (name, size) in enumerate(order[::-1] if repeat % 2 else order):
            run = measure_worker_run(database, embedder, conversations, slices=slices,
                                     slice_size=size, first=repeat * 2 + index)
            runs[name].append(run)
            print(f"  {name}: plain encode {run.reference_rate:6.1f} msg/s, worker "
                  f"{run.worker_rate:6.1f} msg/s, ratio {run.ratio:.3f}")
    return runs


def _one_run(
    database: Any,
    embedder: Embedder,
    conversations: list[ParsedConversation],
    config: tuple[int, int, int],
    *,
    slices: int,
    first: int,
    slice_size: int = DEFAULT_SLICE_SIZE,
) -> WorkerRun:
    """Time both sides slice by slice, alternating which goes first, and sum."""
    batch_size, encode_batch_size, concurrency = config
    parts = _slices(conversations, slices)
    texts = _texts_by_part(database, parts)
    worker = Worker(database, embedder=embedder, batch_size=batch_size,
                    encode_batch_size=encode_batch_size, concurrency=concurrency,
                    slice_size=slice_size, progress=False)
    handle = worker.start_in_background()
    reference_seconds = worker_seconds = 0.0
    try:
        _wait(lambda: worker.stats.state == "idle", handle)
        for index, (part, part_texts) in enumerate(zip(parts, texts, strict=True)):
            if (first + index) % 2:
                worker_seconds += _time_worker(database, part, worker, handle)
                reference_seconds += _time_encode(embedder, part_texts, encode_batch_size)
            else:
                reference_seconds += _time_encode(embedder, part_texts, encode_batch_size)
                worker_seconds += _time_worker(database, part, worker, handle)
    finally:
        handle.stop()
        handle.join()
        _delete_benchmark_rows(database)
    messages = sum(len(part_texts) for part_texts in texts)
    if worker.stats.messages_embedded != messages:
        raise RuntimeError(
            f"the worker embedded {worker.stats.messages_embedded} of {messages} messages"
        )
    return WorkerRun(batch_size, encode_batch_size, concurrency, messages,
                     reference_seconds, worker_seconds, slice_size)


def _slices(conversations: list[ParsedConversation], count: int) -> list[list[ParsedConversation]]:
    """Whole conversations in `count` groups of about the same number of messages."""
    total = sum(len(c.messages) for c in conversations)
    groups: list[list[ParsedConversation]] = [[]]
    filled = 0
    for conversation in conversations:
        if filled >= total * len(groups) / count and len(groups) < count:
            groups.append([])
        groups[-1].append(conversation)
        filled += len(conversation.messages)
    return [group for group in groups if group]


def _texts_by_part(database: Any, parts: list[list[ParsedConversation]]) -> list[list[str]]:
    """The texts the worker will encode, per group: ingested once with no worker running,
    read, and deleted again (so the reference can run before the group's jobs exist)."""
    with database.connect() as connection:
        ingest(connection, [conversation for part in parts for conversation in part])
    try:
        return [_embedding_texts(database, [c.source_id for c in part]) for part in parts]
    finally:
        _delete_benchmark_rows(database)


def _time_encode(embedder: Embedder, texts: list[str], encode_batch_size: int) -> float:
    """Plain encode of `texts` in one call, in a thread of its own (see module docstring)."""
    thread = threading.Thread(
        target=embedder.encode, args=(texts,), kwargs={"batch_size": encode_batch_size}
    )
    started = time.perf_counter()
    thread.start()
    thread.join()
    return time.perf_counter() - started


def _time_worker(
    database: Any, part: list[ParsedConversation], worker: Worker, handle: Any
) -> float:
    """Seconds from the group's jobs being committed until the running worker has
    completed them all (it wakes on the NOTIFY of the commit)."""
    target = worker.stats.jobs_done + sum(len(c.messages) for c in part)
    with database.connect() as connection:
        ingest(connection, part)
    started = time.perf_counter()
    _wait(lambda: worker.stats.jobs_done >= target, handle)
    return time.perf_counter() - started


def _wait(condition: Any, handle: Any) -> None:
    """Poll an in-process condition (no database load) until true; fail if the worker died."""
    while not condition():
        if not handle.running:
            handle.join()  # re-raises the worker's error
            raise RuntimeError("the benchmark's worker stopped early")
        time.sleep(0.01)


def _embedding_texts(database: Any, source_ids: list[str]) -> list[str]:
    """The texts the worker will encode for these benchmark conversations."""
    with database.connect() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            "WHERE c.source = 'unknown' AND c.source_id = ANY(%s) ORDER BY m.id",
            (source_ids,),
        )
        ids: list[uuid.UUID] = [row[0] for row in cursor.fetchall()]
        return [item.text for item in fetch_embedding_inputs(cursor, ids)]


def _require_idle_queue(database: Any) -> None:
    with database.connect() as connection:
        live = connection.execute(
            "SELECT count(*) FROM jobs WHERE status IN ('pending', 'running')"
        ).fetchone()
    if live and live[0]:
        raise RuntimeError(
            f"the queue holds {live[0]} pending or running jobs: the benchmark's worker would "
            "embed them too. Drain it first (dovos worker --until-empty) or use an empty database."
        )


def _delete_benchmark_rows(database: Any) -> None:
    """Remove the benchmark's conversations (cascade: messages, embeddings) and jobs."""
    from dovos.repositories import conversations, jobs

    with database.connect() as connection, connection.transaction():
        jobs.delete_embed_jobs_of_conversations(connection, BENCH_PREFIX + "%")
        conversations.delete_by_source_id(connection, BENCH_PREFIX + "%")
    with database.connect(autocommit=True) as connection:
        connection.execute("VACUUM message_embeddings, messages, jobs")


# -- several worker processes against one database -----------------------------------------
# (processes, torch threads per process; 0 = torch's default, all cores)
DEFAULT_PROCESS_CONFIGS: tuple[tuple[int, int], ...] = ((1, 0), (1, 1), (2, 1))
PROCESS_AIM_RATIO = 1.6
PROCESS_BATCH_SIZE = 64  # jobs per claim: small enough that no process sits idle at the tail


@dataclass
class ProcessRun:
    """One drain of the same messages by `processes` worker processes."""

    processes: int
    torch_threads: int  # per process; 0 = torch's default
    messages: int
    seconds: float
    jobs_per_process: list[int]

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "msg_per_s": round(self.rate, 1)}


@dataclass
class ProcessScaling:
    """Every run; per configuration the median rate, and ratios between configurations."""

    source: str
    messages: int
    runs: list[ProcessRun] = field(default_factory=list)

    def medians(self) -> dict[tuple[int, int], float]:
        grouped: dict[tuple[int, int], list[float]] = {}
        for run in self.runs:
            grouped.setdefault((run.processes, run.torch_threads), []).append(run.rate)
        return {key: statistics.median(rates) for key, rates in grouped.items()}

    def ratio(self, config: tuple[int, int], reference: tuple[int, int]) -> float:
        medians = self.medians()
        return medians[config] / medians[reference]

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "messages": self.messages,
                "aim_ratio": PROCESS_AIM_RATIO, "runs": [run.as_dict() for run in self.runs],
                "median_msg_per_s": {f"{p} process(es) x {t or 'default'} thread(s)": round(r, 1)
                                     for (p, t), r in self.medians().items()}}


def worker_process(
    database_url: str, home: Path, *args: str, torch_threads: int = 0,
    env: dict[str, str] | None = None,
) -> Any:
    """Start `dovos worker ARGS` as a process with its own DOVOS_HOME against
    `database_url` (stdout: its --json stats; stderr: its log), as a worker on another
    host would run. `torch_threads` > 0 sets OMP_NUM_THREADS (torch's intra-op threads)."""
    import os
    import subprocess
    import sys

    home.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, **(env or {}), "DOVOS_HOME": str(home),
                   "DATABASE_URL": database_url}
    if torch_threads > 0:
        environment["OMP_NUM_THREADS"] = str(torch_threads)
    dovos = str(Path(sys.executable).parent / "dovos")
    return subprocess.Popen([dovos, "worker", "--no-progress", "--json", *args],
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish_worker_processes(processes: list[Any], *, stop: bool, timeout: float = 600) -> list[dict[str, Any]]:
    """SIGTERM (when `stop`) and wait for each process; return each one's --json stats.
    Raises RuntimeError naming a process that failed."""
    import json
    import signal

    if stop:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
    found = []
    for process in processes:
        out, err = process.communicate(timeout=timeout)
        if process.returncode != 0:
            raise RuntimeError(f"worker process {process.pid} exited {process.returncode}: "
                               f"{err.strip().splitlines()[-1:] or ''}")
        found.append(json.loads(out))
    return found


def compare_worker_processes(
    database: Any,
    conversations: list[ParsedConversation],
    *,
    configs: tuple[tuple[int, int], ...] = DEFAULT_PROCESS_CONFIGS,
    repeats: int = 1,
    batch_size: int = PROCESS_BATCH_SIZE,
    workdir: Path | None = None,
) -> ProcessScaling:
    """Drain the same messages with each (processes, torch threads) configuration, in an
    order that alternates between repetitions; print each rate and the ratios to one
    process. Each process has its own DOVOS_HOME and reaches the database through its URL
    (`database.url`), as workers on other hosts would. Timed: from the commit of the jobs
    (every process already running, model loaded) until none is pending or running."""
    import shutil
    import tempfile

    _require_idle_queue(database)
    result = ProcessScaling(f"{len(conversations)} conversations",
                            sum(len(c.messages) for c in conversations))
    print(f"\nworker processes: {result.messages} messages, configurations "
          f"(processes, torch threads; 0 = default) {list(configs)}")
    root = Path(workdir or tempfile.mkdtemp(prefix="dovos-bench-processes-"))
    try:
        for repeat in range(repeats):
            for processes, threads in (configs if repeat % 2 == 0 else configs[::-1]):
                run = _process_run(database, conversations, processes, threads, batch_size,
                                   root / f"run-{len(result.runs)}")
                result.runs.append(run)
                print(f"  {processes} process(es) x {threads or 'default'} thread(s): "
                      f"{run.rate:6.1f} msg/s ({run.seconds:.1f} s; jobs per process "
                      f"{run.jobs_per_process})")
    finally:
        if workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    medians = result.medians()
    for config, rate in medians.items():
        ratios = ", ".join(f"{rate / medians[one]:.3f}x 1 x {one[1] or 'default'}"
                           for one in medians if one[0] == 1 and one != config)
        print(f"  median {config[0]} x {config[1] or 'default'}: {rate:6.1f} msg/s"
              + (f" ({ratios})" if ratios else ""))
    return result


def _process_run(
    database: Any, conversations: list[ParsedConversation], processes: int, threads: int,
    batch_size: int, root: Path,
) -> ProcessRun:
    workers = [worker_process(database.url, root / f"home-{index}", "--batch-size",
                              str(batch_size), torch_threads=threads)
               for index in range(processes)]
    try:
        _wait_for_heartbeats(database, [worker.pid for worker in workers], workers)
        with database.connect() as connection:
            ingest(connection, conversations)
        started = time.perf_counter()
        _wait_for_empty_queue(database, workers)
        seconds = time.perf_counter() - started
        stats = finish_worker_processes(workers, stop=True)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        _delete_benchmark_rows(database)
    messages = sum(len(c.messages) for c in conversations)
    done = [int(item["jobs_completed"]) for item in stats]
    if sum(done) != messages:
        raise RuntimeError(f"the processes completed {sum(done)} of {messages} jobs")
    return ProcessRun(processes, threads, messages, seconds, done)


def _wait_for_heartbeats(database: Any, pids: list[int], workers: list[Any],
                         timeout: float = 300) -> None:
    """Until each process has written its first heartbeat (its model is loaded)."""
    from dovos.repositories.heartbeats import worker_heartbeats

    deadline = time.monotonic() + timeout
    while not set(pids) <= {beat.pid for beat in worker_heartbeats(database)}:
        if any(worker.poll() is not None for worker in workers):
            finish_worker_processes(workers, stop=False)
            raise RuntimeError("a worker process exited before it was ready")
        if time.monotonic() > deadline:
            raise RuntimeError(f"worker processes not ready within {timeout:.0f} s")
        time.sleep(0.1)
    time.sleep(0.5)  # its LISTEN starts just after the first heartbeat


def _wait_for_empty_queue(database: Any, workers: list[Any], timeout: float = 3600) -> None:
    """Until no job is pending or running (polled: the processes are not ours to ask)."""
    deadline = time.monotonic() + timeout
    with database.connect(autocommit=True) as connection:
        while True:
            row = connection.execute(
                "SELECT count(*) FROM jobs WHERE status IN ('pending', 'running')").fetchone()
            if row is not None and row[0] == 0:
                return
            if any(worker.poll() is not None for worker in workers):
                raise RuntimeError("a worker process exited while jobs were left")
            if time.monotonic() > deadline:
                raise RuntimeError(f"jobs left after {timeout:.0f} s")
            time.sleep(0.05)
