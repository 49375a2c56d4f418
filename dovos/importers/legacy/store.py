"""Read a legacy Dovos ChromaDB store with the standard library only, never changing it.

Legacy Dovos kept its archive in a chromadb `PersistentClient` directory
(`chroma_storage/`): one `chat_history` collection whose documents and metadata live in
`chroma.sqlite3` (table `embeddings`, `embedding_id` = chroma id, joined to
`embedding_metadata`, where key `chroma:document` holds the text). Opening the store
with chromadb rewrites its files even to read, and would make chromadb a dependency,
so the SQLite file is opened here read-only and immutable: SQLite takes no lock and
writes nothing (no journal, no -shm), and the store stays byte for byte the same.

The vectors (`<segment>/*.bin`) are never read: Dovos re-embeds every message with its
current model, per message rather than per whole document as legacy did.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COLLECTION = "chat_history"
DOCUMENT_KEY = "chroma:document"
STORE_DIR = "chroma_storage"
DATABASE_FILE = "chroma.sqlite3"

# The newest chromadb schema this reader knows: the migrations chromadb 1.1.1 applies
# (legacy Dovos used 1.x). A newer chromadb may move documents or metadata elsewhere, so
# a store with a later migration is refused instead of read half right.
KNOWN_MIGRATIONS = {"sysdb": 9, "metadb": 5, "embeddings_queue": 2}
# The oldest it reads: metadata bools (`bool_value`) arrived in sysdb 6 and metadb 2.
MINIMUM_MIGRATIONS = {"sysdb": 6, "metadb": 2}
_REQUIRED_TABLES = ("collections", "segments", "embeddings", "embedding_metadata")

# What the vector dimension says about the legacy model; only reported, never used.
DIMENSION_MODELS = {384: "all-MiniLM-L6-v2", 1024: "BAAI/bge-large-en-v1.5"}


class LegacyStoreError(ValueError):
    """The path is not a readable legacy store; the message says what is wrong with it."""


@dataclass(frozen=True)
class LegacyDocument:
    """One chroma document: its id, markdown text and metadata, in insertion order."""

    chroma_id: str
    text: str
    metadata: dict[str, Any]
    seq: int


@dataclass
class LegacyStore:
    """Everything the importer needs from a store, read in one go."""

    path: Path  # the chroma_storage directory
    collection_id: str
    collection_metadata: dict[str, Any]
    dimension: int | None
    migrations: dict[str, int]
    documents: list[LegacyDocument] = field(default_factory=list)
    has_fts_index: bool = False

    @property
    def embedding_model(self) -> str | None:
        """The legacy model the vector dimension points to (None when unknown)."""
        return DIMENSION_MODELS.get(self.dimension) if self.dimension else None


def locate(path: str | Path) -> Path:
    """The `chroma.sqlite3` of a store given as that file, its folder, or the folder's parent."""
    path = Path(path).expanduser()
    if not path.exists():
        raise LegacyStoreError(f"{path}: no such file or directory")
    candidates = [path] if path.is_file() else [path / DATABASE_FILE,
                                                 path / STORE_DIR / DATABASE_FILE]
    for candidate in candidates:
        if candidate.is_file() and candidate.name == DATABASE_FILE:
            return candidate
    raise LegacyStoreError(
        f"{path}: not a legacy Dovos store (no {DATABASE_FILE} in it or in {STORE_DIR}/ "
        "below it); give the chroma_storage folder or the folder that holds it"
    )


def read_store(path: str | Path) -> LegacyStore:
    """Read a store's collection and documents; LegacyStoreError names any problem."""
    database_file = locate(path)
    _refuse_pending_wal(database_file)
    with _open_read_only(database_file) as connection:
        try:
            _check_integrity(connection, database_file)
            migrations = _check_schema(connection, database_file)
            store = _read_collection(connection, database_file, migrations)
            store.documents = _read_documents(connection, store.collection_id)
        except sqlite3.DatabaseError as error:
            raise LegacyStoreError(
                f"{database_file}: cannot be read as a chromadb database ({error}); "
                "the file may be corrupt or truncated"
            ) from None
    store.has_fts_index = (database_file.parent / "conversations_fts.db").is_file()
    return store


@contextmanager
def _open_read_only(database_file: Path) -> Iterator[sqlite3.Connection]:
    """A connection that cannot write: `mode=ro` plus `immutable=1` (no locks, no journal)."""
    uri = f"{database_file.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        connection = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as error:
        raise LegacyStoreError(f"{database_file}: cannot be opened read-only ({error})") from None
    with closing(connection):
        yield connection


def _refuse_pending_wal(database_file: Path) -> None:
    """Refuse a store whose last writes still sit in a write-ahead log.

    An immutable read ignores `-wal`, so its writes would be missed silently.
    """
    wal = database_file.with_name(database_file.name + "-wal")
    if wal.is_file() and wal.stat().st_size > 0:
        raise LegacyStoreError(
            f"{wal}: the store has writes not yet in {DATABASE_FILE} (legacy Dovos may still "
            "be running, or stopped abruptly). Stop it; or copy the folder and run "
            f"`sqlite3 <copy>/{DATABASE_FILE} 'PRAGMA wal_checkpoint'`, then import the copy"
        )


def _check_integrity(connection: sqlite3.Connection, database_file: Path) -> None:
    rows = connection.execute("PRAGMA quick_check").fetchall()
    if rows != [("ok",)]:
        found = "; ".join(str(row[0]) for row in rows[:3])
        raise LegacyStoreError(f"{database_file}: the SQLite file is damaged ({found})")


def _check_schema(connection: sqlite3.Connection, database_file: Path) -> dict[str, int]:
    """chromadb's applied migrations per directory; refuse unknown or newer schemas."""
    tables = {row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "migrations" not in tables:
        raise LegacyStoreError(
            f"{database_file}: not a chromadb store (no 'migrations' table; tables: "
            f"{', '.join(sorted(tables)) or 'none'})"
        )
    migrations = dict(connection.execute(
        "SELECT dir, max(version) FROM migrations GROUP BY dir").fetchall())
    for directory, version in sorted(migrations.items()):
        known = KNOWN_MIGRATIONS.get(directory)
        if known is None or version > known:
            raise LegacyStoreError(
                f"{database_file}: chromadb schema {directory} migration {version} is newer than "
                f"this importer knows ({_known()}, the chromadb 1.1.1 layout legacy Dovos "
                "wrote). The store was probably opened by a newer chromadb; refusing rather "
                "than reading it half right"
            )
    old = [f"{name} {migrations.get(name, 0)}" for name, version in MINIMUM_MIGRATIONS.items()
           if migrations.get(name, 0) < version]
    missing = [table for table in _REQUIRED_TABLES if table not in tables]
    if old or missing:
        raise LegacyStoreError(
            f"{database_file}: chromadb schema too old or incomplete ("
            + "; ".join(filter(None, [
                f"migrations {', '.join(old)}; needs at least sysdb 6, metadb 2" if old else "",
                f"missing tables: {', '.join(missing)}" if missing else ""]))
            + ")"
        )
    return migrations


def _known() -> str:
    return ", ".join(f"{name} {version}" for name, version in KNOWN_MIGRATIONS.items())


def _read_collection(
    connection: sqlite3.Connection, database_file: Path, migrations: dict[str, int]
) -> LegacyStore:
    rows = connection.execute(
        "SELECT id, dimension FROM collections WHERE name = ?", (COLLECTION,)).fetchall()
    if not rows:
        names = [row[0] for row in connection.execute("SELECT name FROM collections")]
        raise LegacyStoreError(
            f"{database_file}: a chromadb store, but not a legacy Dovos one (no "
            f"{COLLECTION!r} collection; collections: {', '.join(names) or 'none'})"
        )
    if len(rows) > 1:
        raise LegacyStoreError(
            f"{database_file}: {len(rows)} collections named {COLLECTION!r} (several chromadb "
            "databases or tenants); legacy Dovos wrote one"
        )
    collection_id, dimension = rows[0]
    metadata = {key: _value(s, i, f, b) for key, s, i, f, b in connection.execute(
        "SELECT key, str_value, int_value, float_value, bool_value "
        "FROM collection_metadata WHERE collection_id = ?", (collection_id,))}
    return LegacyStore(database_file.parent, collection_id, metadata, dimension, migrations)


def _read_documents(connection: sqlite3.Connection, collection_id: str) -> list[LegacyDocument]:
    """Every document of the collection's metadata segment, in insertion order."""
    rows = connection.execute(
        "SELECT e.id, e.embedding_id, m.key, m.string_value, m.int_value, m.float_value, "
        "       m.bool_value "
        "FROM embeddings e "
        "JOIN segments s ON s.id = e.segment_id AND s.scope = 'METADATA' AND s.collection = ? "
        "LEFT JOIN embedding_metadata m ON m.id = e.id "
        "ORDER BY e.id",
        (collection_id,),
    )
    found: dict[int, tuple[str, dict[str, Any]]] = {}
    for row_id, chroma_id, key, string, integer, number, boolean in rows:
        _, metadata = found.setdefault(row_id, (chroma_id, {}))
        if key is not None:
            metadata[key] = _value(string, integer, number, boolean)
    documents = []
    for row_id, (chroma_id, metadata) in found.items():
        text = metadata.pop(DOCUMENT_KEY, None)
        documents.append(LegacyDocument(chroma_id, text if isinstance(text, str) else "",
                                        metadata, row_id))
    return documents


def _value(string: Any, integer: Any, number: Any, boolean: Any) -> Any:
    """A chroma metadata value from its typed columns (bools are kept in bool_value)."""
    if boolean is not None:
        return bool(boolean)
    if integer is not None:
        return integer
    if number is not None:
        return number
    return string
