"""Labeled query sets: queries as JSON Lines, judgments as TREC qrels.

A query set lives in one directory so that any IR tool can read it:

    queries.jsonl   one JSON object per line: {"id", "text", "category"?, "filters"?, "metadata"?}
    qrels.trec      TREC qrels, one judgment per line: "<query id> 0 <doc id> <relevance>"
    queryset.json   optional manifest: {"name", "level", "description", "filters"}

The qrels file is what trec_eval, ranx (`Qrels.from_file`) and ir_measures read as is.
A document id is the message's `source_message_id` (level "message") or the
conversation's `source_id` (level "conversation"), so judgments survive re-imports,
which give rows new UUIDs but keep the ids of the export.

`filters` restrict where a query is searched (the SearchFilters fields, e.g.
`{"conversation_metadata": {"sample_id": "conv-26"}}` for LoCoMo's per-sample protocol);
set-level filters apply to every query, a query's own filters are merged over them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from ranx import Qrels

from dovos.search.types import SearchFilters

Level = Literal["message", "conversation"]
LEVELS: tuple[str, ...] = ("message", "conversation")
QUERIES_FILE = "queries.jsonl"
QRELS_FILE = "qrels.trec"
MANIFEST_FILE = "queryset.json"


class QuerySetError(ValueError):
    """A query set cannot be read or written; the message names the file, line and field."""


@dataclass(frozen=True)
class Query:
    """One labeled query."""

    id: str
    text: str
    category: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        value: dict[str, Any] = {"id": self.id, "text": self.text}
        if self.category is not None:
            value["category"] = self.category
        if self.filters:
            value["filters"] = self.filters
        if self.metadata:
            value["metadata"] = self.metadata
        return value


@dataclass
class QuerySet:
    """Queries plus graded judgments {query id: {doc id: relevance}} at one level."""

    name: str
    queries: list[Query]
    qrels: dict[str, dict[str, int]]
    level: Level = "message"
    description: str = ""
    filters: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise QuerySetError(
                f"query set {self.name!r}: level {self.level!r} is not one of {LEVELS}"
            )
        ids = [query.id for query in self.queries]
        duplicates = sorted({qid for qid in ids if ids.count(qid) > 1})
        if duplicates:
            raise QuerySetError(f"query set {self.name!r}: duplicate query ids {duplicates[:5]}")
        for qid, judgments in self.qrels.items():
            _check_id(qid, f"query set {self.name!r} qrels query id")
            for doc_id in judgments:
                _check_id(doc_id, f"query set {self.name!r} qrels doc id (query {qid})")

    # -- views ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.queries)

    @property
    def categories(self) -> dict[str, str]:
        """{query id: category} for the queries that have one."""
        return {q.id: q.category for q in self.queries if q.category is not None}

    def judged(self) -> QuerySet:
        """Only the queries with at least one positive judgment (what metrics can score)."""
        keep = [q for q in self.queries if any(r > 0 for r in self.qrels.get(q.id, {}).values())]
        return self.subset([q.id for q in keep])

    def subset(self, query_ids: list[str] | set[str], name: str | None = None) -> QuerySet:
        """The same set restricted to `query_ids` (order of the original kept)."""
        wanted = set(query_ids)
        queries = [q for q in self.queries if q.id in wanted]
        qrels = {q.id: dict(self.qrels[q.id]) for q in queries if q.id in self.qrels}
        return replace(self, name=name or self.name, queries=queries, qrels=qrels)

    def head(self, n: int) -> QuerySet:
        """The first `n` queries (to keep notebook and test runs small)."""
        return self.subset([q.id for q in self.queries[:n]])

    def to_ranx(self) -> Qrels:
        """The judgments as a ranx Qrels (only queries with a positive judgment)."""
        data = {
            qid: {doc: int(rel) for doc, rel in docs.items()}
            for qid, docs in self.qrels.items()
            if any(rel > 0 for rel in docs.values())
        }
        if not data:
            raise QuerySetError(f"query set {self.name!r} has no positive judgments")
        qrels = Qrels.from_dict(data)
        qrels.name = self.name
        return qrels

    def search_filters(self, query: Query) -> SearchFilters | None:
        """SearchFilters for `query`: the set's filters with the query's merged over them."""
        merged = {**self.filters, **query.filters}
        return filters_from_dict(merged, f"query {query.id!r}") if merged else None

    def split(self, train_fraction: float = 0.5, seed: int = 0) -> tuple[QuerySet, QuerySet]:
        """A reproducible (train, test) split, stratified by category.

        Within each category queries are ordered by sha256(seed, id) and the first
        `train_fraction` of them go to train. The assignment of a query depends only on
        the seed, its id and its category's members, never on the process or its order.
        """
        if not 0.0 < train_fraction < 1.0:
            raise QuerySetError(f"train_fraction must be in (0, 1), got {train_fraction}")
        by_category: dict[str, list[str]] = {}
        for query in self.judged().queries:
            by_category.setdefault(query.category or "", []).append(query.id)
        train: list[str] = []
        for ids in by_category.values():
            ids.sort(key=lambda qid: hashlib.sha256(f"{seed}:{qid}".encode()).hexdigest())
            count = round(len(ids) * train_fraction)
            if len(ids) > 1:
                count = min(max(count, 1), len(ids) - 1)
            train.extend(ids[:count])
        chosen = set(train)
        test = [q.id for q in self.judged().queries if q.id not in chosen]
        return self.subset(train, f"{self.name}-train"), self.subset(test, f"{self.name}-test")

    # -- files ----------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write queries.jsonl, qrels.trec and queryset.json into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / QUERIES_FILE, "w", encoding="utf-8") as out:
            out.writelines(
                json.dumps(q.as_dict(), ensure_ascii=False, sort_keys=True) + "\n"
                for q in self.queries
            )
        write_qrels(self.qrels, directory / QRELS_FILE)
        manifest = {
            "name": self.name,
            "level": self.level,
            "description": self.description,
            "filters": self.filters,
        }
        (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path, name: str | None = None) -> QuerySet:
        """Read a query set directory (see the module docstring)."""
        directory = Path(directory)
        if not directory.is_dir():
            raise QuerySetError(f"query set directory {directory} does not exist")
        manifest = read_manifest(directory / MANIFEST_FILE)
        queries = read_queries(directory / QUERIES_FILE)
        qrels = read_qrels(directory / QRELS_FILE)
        known = {q.id for q in queries}
        unknown = sorted(set(qrels) - known)
        if unknown:
            raise QuerySetError(
                f"{directory / QRELS_FILE}: judgments for unknown query ids {unknown[:5]}"
            )
        return cls(
            name=name or manifest.get("name") or directory.name,
            queries=queries,
            qrels=qrels,
            level=manifest.get("level", "message"),
            description=manifest.get("description", ""),
            filters=manifest.get("filters", {}),
        )


# -- TREC and JSONL files -----------------------------------------------------------------
def write_qrels(qrels: dict[str, dict[str, int]], path: str | Path) -> Path:
    """Write judgments as TREC qrels (sorted, so the file is stable under version control)."""
    path = Path(path)
    lines = [
        f"{qid} 0 {doc_id} {int(rel)}"
        for qid in sorted(qrels)
        for doc_id, rel in sorted(qrels[qid].items())
    ]
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    return path


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """Read TREC qrels; a malformed line raises QuerySetError naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise QuerySetError(f"qrels file {path} does not exist")
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 4:
            raise QuerySetError(
                f"{path}:{number}: expected '<query id> 0 <doc id> <relevance>', got {line!r}"
            )
        qid, _, doc_id, rel = parts
        try:
            qrels.setdefault(qid, {})[doc_id] = int(rel)
        except ValueError:
            raise QuerySetError(f"{path}:{number}: relevance {rel!r} is not an integer") from None
    return qrels


def read_queries(path: str | Path) -> list[Query]:
    """Read queries.jsonl; each line needs a string `id` and a non-empty string `text`."""
    path = Path(path)
    if not path.is_file():
        raise QuerySetError(f"queries file {path} does not exist")
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise QuerySetError(f"{path}:{number}: invalid JSON ({error.msg})") from None
        queries.append(_query_from_row(row, f"{path}:{number}"))
    return queries


def _query_from_row(row: Any, where: str) -> Query:
    if not isinstance(row, dict):
        raise QuerySetError(f"{where}: expected a JSON object")
    qid, text = row.get("id"), row.get("text")
    if not isinstance(qid, str) or not qid:
        raise QuerySetError(f"{where}: field 'id' must be a non-empty string")
    _check_id(qid, f"{where}: field 'id'")
    if not isinstance(text, str) or not text.strip():
        raise QuerySetError(f"{where}: field 'text' must be a non-empty string")
    category = row.get("category")
    if category is not None and not isinstance(category, str):
        raise QuerySetError(f"{where}: field 'category' must be a string")
    filters = row.get("filters") or {}
    filters_from_dict(filters, where)  # validate now, not at search time
    return Query(qid, text, category, filters, row.get("metadata") or {})


def read_manifest(path: Path) -> dict[str, Any]:
    """A query set's queryset.json as a dict ({} when absent); bad JSON is a QuerySetError."""
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise QuerySetError(f"{path}: invalid JSON ({error.msg})") from None
    if not isinstance(manifest, dict):
        raise QuerySetError(f"{path}: expected a JSON object")
    return manifest


def _check_id(value: str, what: str) -> None:
    """TREC files are whitespace separated: an id with whitespace would corrupt them."""
    if not value or any(ch.isspace() for ch in value):
        raise QuerySetError(f"{what} {value!r} is empty or holds whitespace")


# -- filters ------------------------------------------------------------------------------
_TUPLE_FILTERS = ("sources", "roles")


def filters_from_dict(values: dict[str, Any], where: str) -> SearchFilters:
    """SearchFilters from plain JSON values; unknown or ill-typed fields name `where`."""
    if not isinstance(values, dict):
        raise QuerySetError(f"{where}: 'filters' must be a JSON object")
    known = set(SearchFilters.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise QuerySetError(f"{where}: unknown filter(s) {unknown}; known: {sorted(known)}")
    kwargs: dict[str, Any] = {}
    try:
        for name, value in values.items():
            if value is None:
                continue
            if name in _TUPLE_FILTERS:
                kwargs[name] = tuple(str(v) for v in value)
            elif name == "conversation_ids":
                kwargs[name] = tuple(uuid.UUID(str(v)) for v in value)
            elif name in ("date_from", "date_to"):
                kwargs[name] = (
                    value if isinstance(value, datetime) else datetime.fromisoformat(value)
                )
            elif name == "conversation_metadata":
                if not isinstance(value, dict):
                    raise TypeError("conversation_metadata must be an object")
                kwargs[name] = value
    except (TypeError, ValueError) as error:
        raise QuerySetError(f"{where}: bad filter value ({error})") from None
    return SearchFilters(**kwargs)
