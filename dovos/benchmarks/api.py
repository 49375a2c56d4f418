"""Latency of the legacy JSON API through a real uvicorn server on loopback.

`run_api_benchmark` starts `dovos serve` in a subprocess (the real entry point, on a free
loopback port, the same database), sends at least 50 sequential keep-alive requests per
contract endpoint, and reports p50/p95 next to the legacy baselines of CONTRACT.md as
speed-up factors. As a reference measured in the same run it times the same calls
in-process (the adapter without HTTP, each call right after its HTTP twin), which
shows what the HTTP stack adds under the same machine load.

Search and RAG are measured twice: repeating the contract's own request (its query
vector is cached after the first call) and with a distinct query every time (each pays
for embedding its query). `build_benchmark_archive` writes the
contract's golden data size (50 synthetic conversations) and embeds them: run it on a
throwaway database only, never on a real archive.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tqdm.auto import tqdm

from dovos.benchmarks.search_setup import embed_missing
from dovos.config import get_settings
from dovos.embeddings import Embedder
from dovos.evaluation.stats import percentile
from dovos.importers.parsed import ParsedConversation, ParsedMessage
from dovos.ingest import ingest

# CONTRACT.md, "Golden latency baselines (legacy system, 50 conversations)", in ms.
LEGACY_BASELINES_MS: dict[str, float] = {
    "GET /api/conversations": 1700.0,
    "GET /api/conversation/{id}": 100.0,
    "GET /api/search": 200.0,
    "POST /api/rag/query": 2000.0,
    "GET /api/stats": 800.0,
    "GET /api/rag/health": 100.0,
}
TARGET_SPEEDUP = 10.0
GOLDEN_CONVERSATIONS = 50

_TOPICS = {
    "python": ["python", "list comprehension", "decorator", "virtualenv", "pytest", "asyncio"],
    "docker": ["docker", "compose file", "container network", "volume", "image layer"],
    "cooking": ["sourdough", "risotto", "knife skills", "fermentation", "spice blend"],
    "travel": ["Lisbon", "train pass", "packing list", "museum tickets", "jet lag"],
    "fitness": ["marathon plan", "squat form", "interval training", "recovery day"],
    "finance": ["index fund", "budget spreadsheet", "tax return", "emergency savings"],
    "garden": ["tomato seedlings", "compost", "pruning roses", "raised bed"],
    "music": ["guitar chords", "music theory", "metronome practice", "home recording"],
}
_QUESTIONS = [
    "How should I get started with {a}?", "What is the difference between {a} and {b}?",
    "Can you explain {a} like I am new to it?", "My {a} keeps failing, what am I missing?",
    "Give me a checklist for {a} and {b}.",
]
_ANSWERS = [
    "Start small with **{a}**: pick one goal, practise it daily and note what changes.",
    "The key idea of {a} is repetition; {b} matters later, once the basics are automatic.",
    "Here is a plan:\n\n1. Read about {a}\n2. Try `{b}` on a tiny example\n3. Review the result",
    "Most problems with {a} come from skipping the setup. Check {b} first, then retry.",
]


@dataclass(frozen=True)
class EndpointLatency:
    """Latency of one endpoint over `requests` sequential requests, in milliseconds."""

    endpoint: str
    requests: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    legacy_ms: float
    speedup_p50: float  # legacy / p50
    speedup_p95: float  # legacy / p95
    in_process_p50_ms: float  # reference: the same call without HTTP, same run

    @property
    def meets_target(self) -> bool:
        """The aim (>= 10x the legacy figure) on the median: the legacy figures are
        typical response times ("~1.7 s"), not tails."""
        return self.speedup_p50 >= TARGET_SPEEDUP

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "meets_target": self.meets_target}


@dataclass(frozen=True)
class ApiBenchmark:
    """Figures of one run; `rows()` is ready for `pandas.DataFrame`."""

    results: list[EndpointLatency]
    conversations: int
    messages: int
    embedded: int

    def rows(self) -> list[dict[str, Any]]:
        return [result.as_dict() for result in self.results]


# -- archive ------------------------------------------------------------------------------
def synthetic_conversations(count: int = GOLDEN_CONVERSATIONS, seed: int = 7,
                            ) -> list[ParsedConversation]:
    """`count` deterministic conversations over everyday topics, 6 to 30 turns each."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    sources = ["chatgpt", "claude", "openwebui"]
    conversations = []
    for index in range(count):
        topic, words = rng.choice(sorted(_TOPICS.items()))
        created = start + timedelta(days=index * 2, minutes=rng.randint(0, 600))
        messages = []
        for turn in range(rng.randint(3, 15)):
            a, b = rng.sample(words, 2)
            when = created + timedelta(minutes=turn * 3)
            messages.append(ParsedMessage("user", rng.choice(_QUESTIONS).format(a=a, b=b), when))
            messages.append(ParsedMessage("assistant", rng.choice(_ANSWERS).format(a=a, b=b),
                                          when + timedelta(seconds=40)))
        conversations.append(ParsedConversation(
            source=sources[index % 3], source_id=f"bench-{index:03d}",
            title=f"{topic.title()} notes {index}", messages=messages, created_at=created,
        ))
    return conversations


def embed_archive(database: Any, embedder: Embedder) -> int:
    """Embed every message lacking a current embedding for `embedder` (what the worker
    does, synchronously); returns the count."""
    return embed_missing(database, embedder, progress=False)


def build_benchmark_archive(database: Any, embedder: Embedder,
                            conversations: int = GOLDEN_CONVERSATIONS) -> dict[str, int]:
    """Ingest the synthetic archive and embed it. Writes data: throwaway databases only."""
    parsed = synthetic_conversations(conversations)
    with database.connect() as conn:
        ingest(conn, parsed)
    embedded = embed_archive(database, embedder)
    return {"conversations": len(parsed), "messages": sum(len(c.messages) for c in parsed),
            "embedded": embedded}


# -- server -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(port: int | None = None, env: dict[str, str] | None = None,
                   timeout: float = 120.0) -> Iterator[str]:
    """`dovos serve` in a subprocess on loopback; yields its base URL once healthy and
    stops it (SIGINT, then kill) on exit, whatever happened inside the block."""
    port = port or free_port()
    command = [sys.executable, "-m", "dovos.cli", "serve", "--port", str(port), "--no-access-log"]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env={**os.environ, **(env or {})},
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_healthy(process, base, timeout, log)
            yield base
        finally:
            _stop(process)


def _wait_healthy(process: subprocess.Popen[bytes], base: str, timeout: float, log: Any) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"dovos serve exited with {process.returncode}: "
                               f"{log.read().decode(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{base}/api/rag/health", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"dovos serve did not become healthy at {base} within {timeout:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- measurement --------------------------------------------------------------------------
Request = tuple[str, str, dict[str, Any] | None]  # (method, path, params or JSON body)


RAG_QUESTION = "how do I get started with python decorators?"


def benchmark_requests(conversation_ids: list[str], count: int) -> dict[str, list[Request]]:
    """`count` requests per measured row, keyed `<endpoint>` or `<endpoint> (<variant>)`.

    Search and RAG are measured twice: with the contract's own request repeated (q=python,
    5 results; one question, 3 results), whose query vector the service caches after the
    first call, and with a distinct query every time, each paying for its encoding.
    """
    words = [word for topic in sorted(_TOPICS.values()) for word in topic]
    searches = [f"python {words[i % len(words)]} {i}" for i in range(count)]
    questions = [f"how do I improve at {words[i % len(words)]}? ({i})" for i in range(count)]
    rag = {"n_results": 3, "search_type": "semantic"}
    return {
        "GET /api/conversations": [("GET", "/api/conversations", None)] * count,
        "GET /api/conversation/{id}": [
            ("GET", f"/api/conversation/{conversation_ids[i % len(conversation_ids)]}", None)
            for i in range(count)
        ],
        "GET /api/search (q=python)": [("GET", "/api/search", {"q": "python", "n": 5})] * count,
        "GET /api/search (distinct q)": [("GET", "/api/search", {"q": q, "n": 5})
                                         for q in searches],
        "POST /api/rag/query (same q)": [
            ("POST", "/api/rag/query", {"query": RAG_QUESTION, **rag})] * count,
        "POST /api/rag/query (distinct q)": [
            ("POST", "/api/rag/query", {"query": q, **rag}) for q in questions],
        "GET /api/stats": [("GET", "/api/stats", None)] * count,
        "GET /api/rag/health": [("GET", "/api/rag/health", None)] * count,
    }


def baseline_of(row: str) -> float:
    """The legacy figure a measured row compares with (its endpoint's)."""
    return LEGACY_BASELINES_MS[row.split(" (")[0]]


def _time_pairs(pairs: list[tuple[Callable[[], Any], Callable[[], Any]]],
                ) -> tuple[list[float], list[float]]:
    """Milliseconds of each (HTTP, in-process) pair, the two run back to back so that
    both sides of a pair see the same machine load."""
    http, local = [], []
    for over_http, in_process in pairs:
        for call, timings in ((over_http, http), (in_process, local)):
            started = time.perf_counter()
            call()
            timings.append((time.perf_counter() - started) * 1000.0)
    return http, local


def _http_call(client: httpx.Client, request: Request) -> Callable[[], Any]:
    method, path, data = request

    def call() -> None:
        if method == "POST":
            response = client.post(path, json=data)
        else:
            response = client.get(path, params=data)
        if response.status_code != 200:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text}")

    return call


def _in_process_call(adapter: Any, request: Request) -> Callable[[], Any]:
    """The adapter method the route would call, without HTTP (the reference)."""
    from dovos.api.models import RagQueryRequest

    _, path, data = request
    if path == "/api/conversations":
        return lambda: adapter.conversations(1, 50)
    if path.startswith("/api/conversation/"):
        return lambda: adapter.conversation(uuid.UUID(path.rsplit("/", 1)[1]))
    if path == "/api/search":
        return lambda: adapter.search(data["q"], data["n"], "auto", False)
    if path == "/api/rag/query":
        return lambda: adapter.rag_query(RagQueryRequest(**data))
    if path == "/api/stats":
        return adapter.stats
    return adapter.health


def run_api_benchmark(database: Any, requests: int = 60, warmup: int = 5,
                      progress: bool = True) -> ApiBenchmark:
    """Measure every endpoint through a real server and in-process; print and return.

    The server subprocess is pointed at `database` (its URL as DATABASE_URL), so both
    sides read the same archive.
    """
    if requests < 50:
        raise ValueError(f"requests={requests}: the contract comparison needs at least 50")
    from dovos.api.app import create_app

    adapter = create_app(database=database).state.adapter
    summary = adapter.stats()
    conversation_ids = adapter.conversations(1, 100).ids
    if not conversation_ids:
        raise ValueError("the database holds no conversations: run build_benchmark_archive")
    plan = benchmark_requests(conversation_ids, requests + warmup)
    results = []
    token = get_settings().api_token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # Both sides encode queries through SearchService, on one torch thread each.
    with (running_server(env={"DATABASE_URL": database.url}) as base,
          httpx.Client(base_url=base, timeout=60.0, headers=headers) as client):
        for endpoint, planned in tqdm(plan.items(), desc="endpoints", disable=not progress):
            timings, reference = _time_pairs(
                [(_http_call(client, r), _in_process_call(adapter, r)) for r in planned])
            results.append(_latency(endpoint, timings[warmup:], reference[warmup:]))
    benchmark = ApiBenchmark(results, summary.total_conversations, summary.total_messages,
                             summary.total_embeddings)
    print_api_benchmark(benchmark)
    return benchmark


def _latency(endpoint: str, timings: list[float], reference: list[float]) -> EndpointLatency:
    p50, p95 = percentile(timings, 50), percentile(timings, 95)
    legacy = baseline_of(endpoint)
    return EndpointLatency(
        endpoint=endpoint, requests=len(timings), p50_ms=round(p50, 2), p95_ms=round(p95, 2),
        mean_ms=round(statistics.fmean(timings), 2), legacy_ms=legacy,
        speedup_p50=round(legacy / p50, 1), speedup_p95=round(legacy / p95, 1),
        in_process_p50_ms=round(percentile(reference, 50), 2),
    )


def print_api_benchmark(benchmark: ApiBenchmark) -> None:
    print(f"\nLegacy API latency through uvicorn on loopback: {benchmark.conversations} "
          f"conversations, {benchmark.messages} messages, {benchmark.embedded} embedded")
    header = (f"{'endpoint':<34}{'n':>4}{'p50 ms':>9}{'p95 ms':>9}{'legacy ms':>11}"
              f"{'x p50':>8}{'x p95':>8}{'in-proc p50':>13}  x p50 >= {TARGET_SPEEDUP:.0f}")
    print(header)
    print("-" * len(header))
    for r in benchmark.results:
        print(f"{r.endpoint:<34}{r.requests:>4}{r.p50_ms:>9.2f}{r.p95_ms:>9.2f}"
              f"{r.legacy_ms:>11.0f}{r.speedup_p50:>8.1f}{r.speedup_p95:>8.1f}"
              f"{r.in_process_p50_ms:>13.2f}  {'met' if r.meets_target else 'MISSED'}")
