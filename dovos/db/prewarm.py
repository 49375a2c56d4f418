"""Load the search indexes into shared_buffers with pg_prewarm (`dovos db prewarm`).

    from dovos.db.prewarm import prewarm
    report = prewarm()          # every search index; report.format() is what the CLI prints
    prewarm(relations=["messages_pkey"])

Why: a search at a million messages walks a ~2 GB HNSW index. Whenever it is not in
shared_buffers, the first searches read it from disk or the OS cache a page at a time
(at 1M: 37.6 ms backend CPU cold against 7.1 ms warm for a bare HNSW `LIMIT 10`,
docs/scaling.md; at 100k, 40 cold queries pulled 82 % of the index in, p50 0.35x after
prewarm). That happens after a restart without autoprewarm's block list (a crash, a
server other than the embedded one), after a build under a shared_buffers too small to
keep the index, or once other work (an import, the champion build) has evicted it; an
index just built into a large enough buffer pool is already there. This reads each
relation whole once, sequentially (205 MB in 0.13 s from the OS cache), far cheaper than
the searches' random reads, and is a quick no-op for what is cached already.

What is warmed (`search_relations`): every HNSW index on `message_embeddings` (one per
model, migration 0006), the champion lists' indexes, `messages_pkey`, the full-text GIN
index and the BRIN index on `messages.updated_at`. A named relation that does not exist
(an older schema, a typo) is reported as missing, never an error.

The extension is created when the server offers it; where it cannot be (the server
lacks the contrib module, or the role may not create extensions) `PrewarmError` says
what is missing and what an administrator would run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from tqdm.auto import tqdm

from dovos.config import Settings
from dovos.db.database import Database
from dovos.db.urls import redact

EXTENSION = "pg_prewarm"
# Indexes the searches read on every query, besides the HNSW indexes found by access method.
NAMED_RELATIONS = (
    "lexeme_champions_impact_idx",
    "lexeme_champion_lists_pkey",
    "messages_pkey",
    "messages_search_vector_idx",
    "messages_updated_at_brin_idx",
)

EXTENSION_STATE_SQL = """
SELECT (SELECT extversion FROM pg_extension WHERE extname = %(name)s) AS installed,
       EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = %(name)s) AS available
"""
CREATE_EXTENSION_SQL = "CREATE EXTENSION IF NOT EXISTS pg_prewarm"
HNSW_INDEXES_SQL = """
SELECT c.relname FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am a ON a.oid = c.relam
WHERE i.indrelid = to_regclass('message_embeddings') AND a.amname = 'hnsw'
ORDER BY c.relname
"""
RELATION_SIZE_SQL = """
SELECT r::oid AS oid, pg_relation_size(r) AS bytes FROM to_regclass(%(name)s) AS r
"""
PREWARM_SQL = "SELECT pg_prewarm(%(oid)s::oid::regclass, 'buffer')"
SHARED_BUFFERS_SQL = """
SELECT setting::bigint * pg_size_bytes(unit) FROM pg_settings WHERE name = 'shared_buffers'
"""


class PrewarmError(RuntimeError):
    """Prewarming is not possible on this server; the message names what is missing."""


@dataclass(frozen=True)
class Prewarmed:
    """One relation: its size and the blocks pg_prewarm read (None: it does not exist)."""

    name: str
    bytes: int | None
    blocks: int | None
    seconds: float

    @property
    def missing(self) -> bool:
        return self.blocks is None


@dataclass
class PrewarmReport:
    """What `prewarm` did, relation by relation."""

    database: str  # redacted URL
    shared_buffers_bytes: int
    relations: list[Prewarmed] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def warmed_bytes(self) -> int:
        return sum(r.bytes or 0 for r in self.relations if not r.missing)

    @property
    def notes(self) -> list[str]:
        """Warnings worth printing: missing relations, more than shared_buffers holds."""
        found = [f"not found (skipped): {r.name}" for r in self.relations if r.missing]
        if self.warmed_bytes > self.shared_buffers_bytes:
            found.append(
                f"{_mb(self.warmed_bytes)} MB read into {_mb(self.shared_buffers_bytes)} MB "
                "of shared_buffers: the first relations were partly evicted again "
                "(raise DOVOS_SHARED_BUFFERS, or prewarm fewer relations)")
        return found

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (`dovos db prewarm --json`)."""
        value = asdict(self)
        value["warmed_bytes"] = self.warmed_bytes
        value["notes"] = self.notes
        return value

    def format(self) -> str:
        """One line per relation (size, blocks, seconds), a total and the notes."""
        width = max((len(r.name) for r in self.relations), default=8)
        lines = [f"{'relation'.ljust(width)}  {'MB':>9}  {'blocks':>9}  {'seconds':>8}"]
        for item in self.relations:
            if item.missing:
                lines.append(f"{item.name.ljust(width)}  {'-':>9}  {'missing':>9}  {'-':>8}")
            else:
                lines.append(f"{item.name.ljust(width)}  {_mb(item.bytes or 0):>9}  "
                             f"{item.blocks:>9}  {item.seconds:>8.2f}")
        lines.append(f"prewarmed {_mb(self.warmed_bytes)} MB in {self.seconds:.1f} s "
                     f"(shared_buffers {_mb(self.shared_buffers_bytes)} MB) at {self.database}")
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


def prewarm(
    database: Database | None = None,
    *,
    relations: Sequence[str] | None = None,
    settings: Settings | None = None,
    progress: bool = True,
) -> PrewarmReport:
    """Read `relations` (default: `search_relations`) into shared_buffers, one at a time.

    Opens the database from `settings` when none is given (starting the embedded server
    if needed, never migrating). PrewarmError when pg_prewarm cannot be used."""
    owned = database is None
    if database is None:
        database = Database.open(settings, migrate=False, application="prewarm")
    try:
        with database.connect(autocommit=True) as conn:
            ensure_extension(conn, redact(database.url))
            names = list(relations) if relations is not None else search_relations(conn)
            report = PrewarmReport(database=redact(database.url),
                                   shared_buffers_bytes=int(
                                       conn.execute(SHARED_BUFFERS_SQL).fetchone()[0]))
            started = time.perf_counter()
            _prewarm_each(conn, names, report, progress)
            report.seconds = time.perf_counter() - started
    finally:
        if owned:
            database.close()
    return report


def search_relations(connection: psycopg.Connection[Any]) -> list[str]:
    """The HNSW indexes on message_embeddings, then NAMED_RELATIONS (existing or not)."""
    hnsw = [row[0] for row in connection.execute(HNSW_INDEXES_SQL).fetchall()]
    return hnsw + list(NAMED_RELATIONS)


def ensure_extension(connection: psycopg.Connection[Any], where: str) -> None:
    """Create pg_prewarm when the server offers it; PrewarmError naming what is missing."""
    installed, available = connection.execute(EXTENSION_STATE_SQL, {"name": EXTENSION}).fetchone()
    if installed:
        return
    if not available:
        raise PrewarmError(
            f"PostgreSQL at {where} has no '{EXTENSION}' extension installed on the server "
            "(it is a contrib module: install the server's contrib package, e.g. "
            "postgresql-contrib, or unset DATABASE_URL to use Dovos' embedded PostgreSQL, "
            "which ships it)")
    try:
        connection.execute(CREATE_EXTENSION_SQL)
    except psycopg.Error as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise PrewarmError(
            f"cannot create extension '{EXTENSION}' in {where}: {first}. Ask an "
            f"administrator to run CREATE EXTENSION {EXTENSION}; in that database") from error


def _prewarm_each(connection: psycopg.Connection[Any], names: list[str],
                  report: PrewarmReport, progress: bool) -> None:
    sizes = [_size(connection, name) for name in names]
    total = sum(row[1] for row in sizes if row[0] is not None)
    with tqdm(total=total, desc="prewarm", unit="B", unit_scale=True,
              disable=not progress, leave=False) as bar:
        for name, (oid, size) in zip(names, sizes, strict=True):
            if oid is None:
                report.relations.append(Prewarmed(name, None, None, 0.0))
                continue
            bar.set_postfix_str(name)
            started = time.perf_counter()
            blocks = connection.execute(PREWARM_SQL, {"oid": oid}).fetchone()[0]
            report.relations.append(Prewarmed(name, int(size), int(blocks),
                                              time.perf_counter() - started))
            bar.update(size)


def _size(connection: psycopg.Connection[Any], name: str) -> tuple[int | None, int | None]:
    """(oid, bytes) of relation `name`, (None, None) when there is none by that name."""
    try:
        oid, size = connection.execute(RELATION_SIZE_SQL, {"name": name}).fetchone()
    except psycopg.Error as error:  # not a relation name at all ("a.b.c.d")
        raise PrewarmError(f"relation name {name!r}: {str(error).splitlines()[0]}") from error
    return oid, size


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f}"
