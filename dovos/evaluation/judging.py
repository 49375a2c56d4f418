"""Judge search results on your own archive, TREC style: pooled, blind, saved at once.

    session = JudgingSession("~/dovos-labels/mine", judge="ana", depth=10)
    session.add_query("the bread recipe with rye")          # or draw_known_items / draw_user_turns
    item = session.next_item()                              # (query, pooled message) or None
    session.grade(item.query.id, item.doc, 2)               # 0, 1 or 2; on disk before it returns
    session.progress(); session.contribution()              # DataFrames

The directory is an ordinary query set (dovos.evaluation.querysets: queries.jsonl,
qrels.trec, queryset.json), so `dovos eval --dataset queryset:DIR` evaluates it. Beside
them, pools.jsonl holds each query's pool: the union of the top `depth` hits of every
mode (and of any saved TREC run), de-duplicated and shuffled with a seed, with the text
the judge reads. Which mode found an item is recorded there but never shown while judging.

Every write goes to a temporary file that is fsync'ed and then renamed over the old one
(os.replace), under a lock on the directory (a file lock across processes, a thread lock
within one). A grade re-reads qrels.trec under the lock and merges into it, so two
notebook tabs (two kernels) grading the same set lose nothing, and a kernel restart or
crash loses at most the grade being clicked. Judging resumes at the first item without
a grade.
"""

from __future__ import annotations

import getpass
import json
import os
import random
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fasteners
import pandas as pd
from tqdm.auto import tqdm

from dovos.evaluation.querysets import (
    MANIFEST_FILE,
    QRELS_FILE,
    QUERIES_FILE,
    Query,
    QuerySet,
    QuerySetError,
    filters_from_dict,
    read_manifest,
    read_qrels,
    read_queries,
)
from dovos.search.types import MODES

POOLS_FILE = "pools.jsonl"
LOCK_FILE = ".judging.lock"
GRADES = (0, 1, 2)
GRADE_LABELS = {0: "not relevant", 1: "partly relevant", 2: "relevant"}
CONTENT_CHARS = 4000  # what a judge reads of a long message
DEFAULT_DEPTH = 10
FILE_MODE = 0o644  # mkstemp's 0600 would hide the labels from a second user or a CI job
_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


@dataclass(frozen=True)
class PoolItem:
    """One pooled message: what the judge sees, and (hidden) which legs found it."""

    doc: str
    message_id: str
    title: str
    role: str
    date: str
    content: str
    found_by: dict[str, int] = field(default_factory=dict)  # mode or run name -> rank

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class JudgingItem:
    """What to judge next: a query, one pooled message, and where it stands."""

    query: Query
    item: PoolItem
    index: int  # 0-based position in the query's pool
    pool_size: int

    @property
    def doc(self) -> str:
        return self.item.doc


class JudgingSession:
    """A query-set directory being judged: queries, pools and grades (see the module doc)."""

    def __init__(
        self,
        directory: str | Path,
        *,
        service: Any = None,
        database: Any = None,
        depth: int = DEFAULT_DEPTH,
        modes: Iterable[str] = MODES,
        runs: Iterable[str | Path] = (),
        judge: str | None = None,
        seed: int = 0,
        name: str | None = None,
        filters: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.directory = Path(directory).expanduser().resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._service = service
        self._database = database
        self.judge = judge or _user()
        manifest = self._read_manifest()
        # A directory being judged keeps its pooling choices: resuming must pool the same way.
        self.depth = int(manifest.get("pool_depth", depth))
        self.modes = list(manifest.get("modes", list(modes)))
        self.runs = [str(Path(r).expanduser().resolve()) for r in manifest.get("runs", runs)]
        self.seed = int(manifest.get("seed", seed))
        self.filters = dict(manifest.get("filters", filters or {}))
        self.params = dict(manifest.get("params", params or {}))
        self.name = manifest.get("name") or name or self.directory.name
        _check_setup(self.depth, self.modes, self.filters)
        with self.locked():
            self._write_manifest()
            if not (self.directory / QUERIES_FILE).exists():
                write_atomic(self.directory / QUERIES_FILE, "")
            if not (self.directory / QRELS_FILE).exists():
                write_atomic(self.directory / QRELS_FILE, "")
        self.refresh()

    # -- state ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read queries, pools and grades from disk (another tab may have written)."""
        self.queries: list[Query] = read_queries(self.directory / QUERIES_FILE)
        self.pools: dict[str, list[PoolItem]] = read_pools(self.directory / POOLS_FILE)
        self.qrels: dict[str, dict[str, int]] = read_qrels(self.directory / QRELS_FILE)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive access to the directory: a thread lock, then a cross-process file lock."""
        key = str(self.directory)
        with _THREAD_LOCKS_GUARD:
            thread_lock = _THREAD_LOCKS.setdefault(key, threading.Lock())
        with thread_lock, fasteners.InterProcessLock(str(self.directory / LOCK_FILE)):
            yield

    @property
    def service(self) -> Any:
        if self._service is None:
            from dovos.evaluation.explore import default_service

            self._service = default_service()
        return self._service

    @property
    def database(self) -> Any:
        if self._database is None:
            self._database = getattr(self.service, "database", None)
        if self._database is None:
            from dovos.db import get_database

            self._database = get_database()
        return self._database

    # -- queries and pools ------------------------------------------------------------------
    def add_query(
        self, text: str, *, category: str | None = None, metadata: dict[str, Any] | None = None
    ) -> Query:
        """Add `text` as a query (the same text again returns the existing query) and pool it."""
        text = " ".join(str(text).split())
        if not text:
            raise QuerySetError("a query needs some text")
        self.refresh()
        existing = next((q for q in self.queries if q.text == text), None)
        if existing is not None:
            return existing
        # A drawn user turn finds itself: judging it would say nothing, so it is left out.
        exclude = (metadata or {}).get("source") if category == "user-turn" else None
        pool = [item for item in self.build_pool(text) if item.doc != exclude]
        with self.locked():
            self.refresh()
            existing = next((q for q in self.queries if q.text == text), None)
            if existing is not None:
                return existing
            extra = {**(metadata or {}), "added_by": self.judge}
            query = Query(_next_id(self.queries), text, category, {}, extra)
            self.pools[query.id] = self._with_runs(query.id, pool)
            write_pools(self.pools, self.directory / POOLS_FILE)
            self.queries.append(query)
            write_queries(self.queries, self.directory / QUERIES_FILE)
            self._write_manifest()
        return query

    def add_queries(self, texts: Iterable[str], category: str | None = None) -> list[Query]:
        """Add and pool several queries (progress bar: each one searches every mode)."""
        texts = list(texts)
        return [
            self.add_query(text, category=category)
            for text in tqdm(texts, desc="pooling", unit="query", disable=len(texts) < 2)
        ]

    def draw_known_items(self, count: int = 10, seed: int | None = None) -> list[Query]:
        """Add `count` simulated known-item queries (dovos.evaluation.known_items)."""
        from dovos.evaluation.known_items import generate_known_items

        drawn = generate_known_items(
            self.database, count=count, seed=self.seed if seed is None else seed
        )
        return [
            self.add_query(q.text, category="known-item", metadata=q.metadata)
            for q in tqdm(drawn.queries, desc="pooling", unit="query", disable=count < 2)
        ]

    def draw_user_turns(self, count: int = 10, seed: int | None = None) -> list[Query]:
        """Add `count` of the archive's own user turns (short ones) as queries."""
        turns = sample_user_turns(self.database, count, self.seed if seed is None else seed)
        if not turns:
            raise QuerySetError("the archive holds no short user turn to draw; import first")
        return [
            self.add_query(text, category="user-turn", metadata={"source": doc})
            for doc, text in tqdm(turns, desc="pooling", unit="query", disable=len(turns) < 2)
        ]

    def build_pool(self, text: str) -> list[PoolItem]:
        """The union of every mode's top `depth` for `text`, de-duplicated, seeded shuffle."""
        found: dict[str, PoolItem] = {}
        filters = filters_from_dict(self.filters, "judging filters") if self.filters else None
        for mode in self.modes:
            response = self.service.search(
                text, mode=mode, k=self.depth, filters=filters, params=self.params or None
            )
            for hit in response.hits:
                doc = hit.source_message_id or str(hit.message_id)
                item = found.get(doc) or _item_from_hit(hit, doc)
                found[doc] = _found_by(item, mode, hit.rank)
        items = list(found.values())
        random.Random(f"{self.seed}:{text}").shuffle(items)
        return items

    def add_run(self, path: str | Path) -> int:
        """Pool a saved TREC run's top `depth` into the queries it answers; returns new items."""
        path = str(Path(path).expanduser().resolve())
        with self.locked():
            self.refresh()
            if path not in self.runs:
                self.runs.append(path)
            before = sum(len(p) for p in self.pools.values())
            for query in self.queries:
                self.pools[query.id] = self._with_runs(query.id, self.pools.get(query.id, []))
            write_pools(self.pools, self.directory / POOLS_FILE)
            self._write_manifest()
            return sum(len(p) for p in self.pools.values()) - before

    def _with_runs(self, query_id: str, pool: list[PoolItem]) -> list[PoolItem]:
        """`pool` extended by the saved runs' top `depth` for `query_id` (new items shuffled
        among themselves and appended, so items already judged keep their place)."""
        from dovos.evaluation.runs import load_run

        by_doc = {item.doc: item for item in pool}
        added: dict[str, PoolItem] = {}
        for path in self.runs:
            run = load_run(path)
            name = str(run.name)
            scores = run.to_dict().get(query_id, {})
            ranked = sorted(scores.items(), key=lambda kv: -kv[1])
            for rank, (doc, _) in enumerate(ranked[: self.depth], 1):
                target = by_doc if doc in by_doc else added
                blank = PoolItem(doc, "", "", "", "", "")
                target[doc] = _found_by(target.get(doc) or blank, name, rank)
        missing = [doc for doc, item in added.items() if not item.message_id]
        looked_up = lookup_docs(self.database, missing) if missing else {}
        new = [
            PoolItem(**{**looked_up[doc].as_dict(), "found_by": item.found_by})
            for doc, item in added.items()
            if doc in looked_up
        ]
        random.Random(f"{self.seed}:{query_id}:runs").shuffle(new)
        return [by_doc[item.doc] for item in pool] + new

    # -- grades -----------------------------------------------------------------------------
    def grade(self, query_id: str, doc: str, relevance: int) -> None:
        """Record `relevance` (0, 1 or 2) for `doc` under `query_id`; on disk when it returns."""
        if isinstance(relevance, bool) or relevance not in GRADES:
            raise QuerySetError(f"grade {relevance!r} is not one of {GRADES}")
        with self.locked():
            self.refresh()
            if query_id not in self.pools:
                raise QuerySetError(f"query {query_id!r} is not in {self.directory}")
            if doc not in {item.doc for item in self.pools[query_id]}:
                raise QuerySetError(f"{doc!r} is not in the pool of query {query_id!r}")
            self.qrels.setdefault(query_id, {})[doc] = int(relevance)
            write_qrels_atomic(self.qrels, self.directory / QRELS_FILE)
            self._write_manifest()

    def next_item(self, after: tuple[str, str] | None = None) -> JudgingItem | None:
        """The first pooled item without a grade (after `after`, a (query id, doc), if given;
        wrapping round), or None when everything is graded."""
        self.refresh()
        order = [
            (query, index, item)
            for query in self.queries
            for index, item in enumerate(self.pools.get(query.id, []))
        ]
        start = 0
        if after is not None:
            positions = [i for i, (q, _, it) in enumerate(order) if (q.id, it.doc) == after]
            start = positions[0] + 1 if positions else 0
        for query, index, item in order[start:] + order[:start]:
            if item.doc not in self.qrels.get(query.id, {}):
                return JudgingItem(query, item, index, len(self.pools.get(query.id, [])))
        return None

    def items(self, query_id: str) -> list[PoolItem]:
        """The pool of one query, in the order the judge sees it."""
        return list(self.pools.get(query_id, []))

    # -- reports ----------------------------------------------------------------------------
    def progress(self) -> pd.DataFrame:
        """Per query: pool size, graded, relevant (grade > 0)."""
        rows = []
        for query in self.queries:
            pool = self.pools.get(query.id, [])
            grades = self.qrels.get(query.id, {})
            rows.append(
                {
                    "query_id": query.id,
                    "query": query.text,
                    "pooled": len(pool),
                    "graded": sum(item.doc in grades for item in pool),
                    "relevant": sum(grades.get(item.doc, 0) > 0 for item in pool),
                }
            )
        return pd.DataFrame(rows, columns=["query_id", "query", "pooled", "graded", "relevant"])

    def totals(self) -> dict[str, int]:
        """Overall counts: queries, pooled items, graded items, relevant items."""
        frame = self.progress()
        return {
            "queries": len(frame),
            "pooled": int(frame["pooled"].sum()),
            "graded": int(frame["graded"].sum()),
            "relevant": int(frame["relevant"].sum()),
        }

    def contribution(self) -> pd.DataFrame:
        """Per mode (or saved run): items it put in the pools, those only it found, and how
        many of its graded items were relevant (what each leg adds to the judgments)."""
        sources = list(dict.fromkeys([*self.modes, *(_run_name(r) for r in self.runs)]))
        columns = ["pooled", "unique", "graded", "relevant", "unique_relevant"]
        counts = {source: dict.fromkeys(columns, 0) for source in sources}
        for query in self.queries:
            grades = self.qrels.get(query.id, {})
            for item in self.pools.get(query.id, []):
                for source in item.found_by:
                    row = counts.setdefault(source, dict.fromkeys(columns, 0))
                    only = len(item.found_by) == 1
                    row["pooled"] += 1
                    row["unique"] += only
                    if item.doc in grades:
                        row["graded"] += 1
                        row["relevant"] += grades[item.doc] > 0
                        row["unique_relevant"] += only and grades[item.doc] > 0
        frame = pd.DataFrame.from_dict(counts, orient="index", columns=columns)
        frame.index.name = "found by"
        return frame

    def queryset(self) -> QuerySet:
        """The directory as a QuerySet (what `dovos eval --dataset queryset:DIR` reads)."""
        return QuerySet.load(self.directory)

    # -- files ------------------------------------------------------------------------------
    def _read_manifest(self) -> dict[str, Any]:
        return read_manifest(self.directory / MANIFEST_FILE)

    def _write_manifest(self) -> None:
        """queryset.json: the query-set fields plus how it was pooled, by whom, and when."""
        old = self._read_manifest()
        now = datetime.now(UTC).isoformat(timespec="seconds")
        judges = list(dict.fromkeys([*old.get("judges", []), self.judge]))
        manifest = {
            **old,
            "name": self.name,
            "level": "message",
            "description": old.get("description")
            or f"Judged by pooling the top {self.depth} of {', '.join(self.modes)} (blind, graded 0-2)",
            "filters": self.filters,
            "pool_depth": self.depth,
            "modes": self.modes,
            "runs": self.runs,
            "seed": self.seed,
            "params": self.params,
            "judges": judges,
            "created": old.get("created", now),
            "updated": now,
        }
        write_atomic(self.directory / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")


# -- files ----------------------------------------------------------------------------------
def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so a reader sees the old or the new file, never a part:
    a temporary file in the same directory, fsync'ed, renamed over it, directory fsync'ed."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else FILE_MODE)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_qrels_atomic(qrels: dict[str, dict[str, int]], path: Path) -> None:
    """TREC qrels, sorted as querysets.write_qrels writes them, replaced atomically."""
    lines = [
        f"{qid} 0 {doc} {int(rel)}"
        for qid in sorted(qrels)
        for doc, rel in sorted(qrels[qid].items())
    ]
    write_atomic(path, "\n".join(lines) + ("\n" if lines else ""))


def write_queries(queries: list[Query], path: Path) -> None:
    """queries.jsonl, one query per line, replaced atomically."""
    text = "".join(
        json.dumps(q.as_dict(), ensure_ascii=False, sort_keys=True) + "\n" for q in queries
    )
    write_atomic(path, text)


def write_pools(pools: dict[str, list[PoolItem]], path: Path) -> None:
    """pools.jsonl: {"query_id", "items": [...]} per line, replaced atomically."""
    text = "".join(
        json.dumps({"query_id": qid, "items": [i.as_dict() for i in items]}, ensure_ascii=False)
        + "\n"
        for qid, items in pools.items()
    )
    write_atomic(path, text)


def read_pools(path: Path) -> dict[str, list[PoolItem]]:
    """The pools written by write_pools ({} when the file does not exist yet)."""
    if not path.is_file():
        return {}
    pools: dict[str, list[PoolItem]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            pools[str(row["query_id"])] = [PoolItem(**item) for item in row["items"]]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise QuerySetError(f"{path}:{number}: not a pool line ({error})") from None
    return pools


# -- the archive ----------------------------------------------------------------------------
def sample_user_turns(database: Any, count: int, seed: int) -> list[tuple[str, str]]:
    """(doc id, text) of up to `count` user turns of 3 to 30 words, in a seeded order
    (by export id, so the same archive and seed draw the same turns in any database)."""
    from dovos.repositories import messages

    with database.connect() as conn:
        rows = messages.seeded_user_turns(conn, str(seed), count)
    return [(row.doc, " ".join(row.content.split())) for row in rows]


def lookup_docs(database: Any, docs: list[str]) -> dict[str, PoolItem]:
    """Pool items for message doc ids (source message id, or the UUID when it had none)."""
    from dovos.repositories import messages

    with database.connect() as conn:
        rows = messages.by_doc_ids(conn, docs, CONTENT_CHARS)
    return {
        row.doc: PoolItem(row.doc, row.message_id, row.title, row.role,
                          row.created_at.isoformat(), row.content)
        for row in rows
    }


# -- helpers --------------------------------------------------------------------------------
def _item_from_hit(hit: Any, doc: str) -> PoolItem:
    return PoolItem(
        doc=doc,
        message_id=str(hit.message_id),
        title=hit.conversation_title,
        role=hit.role,
        date=hit.created_at.isoformat(),
        content=hit.content[:CONTENT_CHARS],
    )


def _found_by(item: PoolItem, source: str, rank: int) -> PoolItem:
    found = dict(item.found_by)
    found[source] = min(rank, found.get(source, rank))
    return PoolItem(**{**item.as_dict(), "found_by": found})


def _next_id(queries: list[Query]) -> str:
    used = {q.id for q in queries}
    number = len(queries) + 1
    while f"q{number:03d}" in used:
        number += 1
    return f"q{number:03d}"


def _run_name(path: str) -> str:
    from dovos.evaluation.runs import load_run

    return str(load_run(path).name)


def _check_setup(depth: int, modes: list[str], filters: dict[str, Any]) -> None:
    if not isinstance(depth, int) or not 1 <= depth <= 1000:
        raise QuerySetError(f"pool depth {depth!r} must be an integer from 1 to 1000")
    unknown = sorted(set(modes) - set(MODES))
    if unknown or not modes:
        raise QuerySetError(f"unknown mode(s) {unknown or modes}; choose from {', '.join(MODES)}")
    if filters:
        filters_from_dict(filters, "judging filters")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "judge"
