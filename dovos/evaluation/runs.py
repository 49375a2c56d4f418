"""Execute a query set through the search service into ranx Runs, saved as TREC runs.

A run is what one configuration (a mode plus search parameters) returns for every
query of a set. Document ids follow the query set's level: a message's
`source_message_id` (its UUID when the export had none) or, at conversation level, the
conversation's `source_id`, ranked by its best message.

Ties are broken deterministically: hits are ordered by score, then doc id, and an equal
score is nudged down by the smallest representable step (numpy.nextafter), so ranx's
own (unstable) sort sees exactly that order and a run file written twice is the same
byte for byte. Fusion of saved runs is unaffected: the nudges are ~1e-16.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from ranx import Run
from tqdm.auto import tqdm

from dovos.evaluation.querysets import Query, QuerySet, QuerySetError
from dovos.search.types import SearchFilters, SearchHit, SearchParams, SearchResponse

DEFAULT_DEPTH = 100


class Searcher(Protocol):
    """What runs need from dovos.search.service.SearchService."""

    def search(
        self,
        query: str,
        mode: str = "hybrid",
        k: int = 10,
        filters: SearchFilters | None = None,
        params: SearchParams | dict[str, Any] | None = None,
    ) -> SearchResponse: ...


@dataclass
class RunResult:
    """A ranx Run plus what happened while making it (latency, fallbacks)."""

    run: Run
    mode: str
    params: dict[str, Any]
    elapsed_ms: dict[str, float] = field(default_factory=dict)  # per query, as the service timed it
    effective_modes: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)

    @property
    def name(self) -> str:
        return str(self.run.name)

    @property
    def fell_back(self) -> int:
        """How many queries ran in another mode than asked (e.g. vector without embeddings)."""
        return sum(n for mode, n in self.effective_modes.items() if mode != self.mode)


def doc_id(hit: SearchHit, level: str = "message") -> str:
    """The id a judgment uses for this hit at `level`."""
    if level == "conversation":
        return hit.conversation_source_id
    return hit.source_message_id or str(hit.message_id)


def ranked_scores(hits: Iterable[SearchHit], level: str = "message") -> dict[str, float]:
    """{doc id: score}, strictly decreasing in (score desc, doc id asc) order.

    At conversation level a conversation keeps its best message's score.
    """
    best: dict[str, float] = {}
    for hit in hits:
        key = doc_id(hit, level)
        if key not in best or hit.score > best[key]:
            best[key] = float(hit.score)
    return strictly_decreasing(best)


def strictly_decreasing(scores: dict[str, float]) -> dict[str, float]:
    """Order by (score desc, id asc) and nudge ties so every score is strictly lower."""
    ordered = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    result: dict[str, float] = {}
    previous = np.inf
    for key, score in ordered:
        value = float(score) if score < previous else float(np.nextafter(previous, -np.inf))
        result[key] = value
        previous = value
    return result


def execute_run(
    service: Searcher,
    queryset: QuerySet,
    mode: str,
    *,
    depth: int = DEFAULT_DEPTH,
    params: SearchParams | dict[str, Any] | None = None,
    name: str | None = None,
    progress: bool = True,
    model: str | None = None,
) -> RunResult:
    """Search every query of `queryset` in `mode` (top `depth` hits) into a named Run;
    `model` picks the embedding model of the vector leg (default: the service's)."""
    overrides = params.as_dict() if isinstance(params, SearchParams) else dict(params or {})
    name = name or mode
    _check_name(name)
    data: dict[str, dict[str, float]] = {}
    result = RunResult(Run(name=name), mode, overrides)
    queries = tqdm(
        queryset.queries,
        desc=f"{queryset.name}: {name}",
        unit="query",
        disable=not progress,
        leave=False,
    )
    for query in queries:  # SearchService encodes each query on one torch thread
        _search_into(service, queryset, query, mode, depth, overrides, result, data, model)
    result.run = make_run(data, name)
    return result


def _search_into(
    service: Searcher,
    queryset: QuerySet,
    query: Query,
    mode: str,
    depth: int,
    overrides: dict[str, Any],
    result: RunResult,
    data: dict[str, dict[str, float]],
    model: str | None = None,
) -> None:
    """Search one query and record its hits (into `data`) and timing (into `result`)."""
    chosen = {"model": model} if model is not None else {}  # any Searcher without one
    response = service.search(
        query.text,
        mode=mode,
        k=depth,
        filters=queryset.search_filters(query),
        params=overrides or None,
        **chosen,
    )
    result.elapsed_ms[query.id] = float(response.elapsed_ms)
    result.effective_modes[response.effective_mode] += 1
    result.notes.update(response.notes)
    scores = ranked_scores(response.hits, queryset.level)
    if scores:
        data[query.id] = scores


def execute_runs(
    service: Searcher,
    queryset: QuerySet,
    modes: Iterable[str],
    *,
    depth: int = DEFAULT_DEPTH,
    params: SearchParams | dict[str, Any] | None = None,
    progress: bool = True,
    model: str | None = None,
) -> dict[str, RunResult]:
    """One run per mode, named after the mode, with the same parameters (and model)."""
    return {
        mode: execute_run(service, queryset, mode, depth=depth, params=params,
                          progress=progress, model=model)
        for mode in modes
    }


def make_run(data: dict[str, dict[str, float]], name: str) -> Run:
    """A ranx Run from {query id: {doc id: score}} (an empty run when nothing was found)."""
    data = {qid: docs for qid, docs in data.items() if docs}
    run = Run.from_dict(data, name=name) if data else Run(name=name)
    run.name = name
    return run


# -- TREC run files -------------------------------------------------------------------------
def save_run(run: Run, path: str | Path) -> Path:
    """Write `run` as a TREC run file atomically (queries by id, docs by rank)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = run.name or path.stem
    _check_name(name)
    lines = []
    for qid in sorted(run.keys()):
        docs = strictly_decreasing(dict(run[qid]))
        for rank, (doc, score) in enumerate(docs.items(), 1):
            lines.append(f"{qid} Q0 {doc} {rank} {score!r} {name}")
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + ("\n" if lines else ""))
    os.replace(temporary, path)
    return path


def load_run(path: str | Path, name: str | None = None) -> Run:
    """Read a TREC run file (any tool's) into a ranx Run; bad lines name file and line."""
    path = Path(path)
    if not path.is_file():
        raise QuerySetError(f"run file {path} does not exist")
    data: dict[str, dict[str, float]] = {}
    found_name = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 6:
            raise QuerySetError(f"{path}:{number}: expected 6 columns of a TREC run, got {line!r}")
        qid, _, doc, _, score, found_name = parts
        try:
            data.setdefault(qid, {})[doc] = float(score)
        except ValueError:
            raise QuerySetError(f"{path}:{number}: score {score!r} is not a number") from None
    return make_run(data, name or found_name or path.stem)


def save_runs(runs: dict[str, Run] | Iterable[Run], directory: str | Path) -> list[Path]:
    """Save each run as `<directory>/<run name>.trec`."""
    items = runs.values() if isinstance(runs, dict) else runs
    return [save_run(run, Path(directory) / f"{run.name}.trec") for run in items]


def _check_name(name: str) -> None:
    if not name or any(ch.isspace() for ch in name):
        raise QuerySetError(f"run name {name!r} must be non-empty and hold no whitespace")
