"""Import a legacy Dovos store: read, convert, write in ONE transaction, verify, report.

    from dovos.importers import import_legacy_store
    result = import_legacy_store("~/old-dovos/chroma_storage", timezone="America/Chicago")
    print("\\n".join(result.summary_lines()))

A store is all or nothing: it is a migration, and a half-migrated archive is harder to
reason about than none. Every store problem is found before the database is touched;
the write goes through `dovos.ingest.ingest` (the path every importer uses: upsert by
(source, source_id), one embed job per new message) inside an outer transaction that
also holds the checks around it, and the read-back verification runs in that same
transaction, so a failed verification leaves nothing behind either.

A conversation already in the archive from its original export (same source and id,
no `metadata.legacy`) is skipped and reported: the export holds the full text, legacy
only a cleaned copy (indentation lost), and overwriting would degrade it. One imported
from a legacy store before is handed to `ingest` again, which finds it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any

import psycopg
from tqdm.auto import tqdm

from dovos.config import get_settings
from dovos.importers.legacy.convert import LegacyArchive, LegacyConversation, Skipped, convert
from dovos.importers.legacy.store import LegacyStoreError, read_store
from dovos.importers.legacy.times import LegacyClock, LegacyTimezoneError
from dovos.ingest import IngestError, IngestResult, ingest
from dovos.repositories import conversations as stored_conversations
from dovos.repositories import messages as stored_messages

if TYPE_CHECKING:
    from dovos.db import Database


class LegacyVerificationError(RuntimeError):
    """What the database holds after the write differs from the documents (rolled back)."""


@dataclass
class Verification:
    """Read back after the write: message counts and sha256 of each stored text."""

    conversations: int = 0
    messages: int = 0
    repaired: int = 0  # stored as repaired (NUL removed, surrogate replaced), with a warning
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "conversations": self.conversations, "messages": self.messages,
                "repaired": self.repaired, "mismatches": self.mismatches}


@dataclass
class LegacyImportResult:
    """The report of one store: what it held, what was written, skipped and verified."""

    path: str
    timezone: str | None = None
    schema: dict[str, int] = field(default_factory=dict)
    dimension: int | None = None
    documents: int = 0
    conversations: int = 0  # rebuilt from the documents
    messages: int = 0
    chunk_documents: int = 0  # chunk documents merged back into their conversations
    chunked_conversations: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    result: IngestResult | None = None
    verification: Verification | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "ok": self.ok, "error": self.error, "timezone": self.timezone,
            "schema": self.schema, "dimension": self.dimension, "documents": self.documents,
            "conversations": self.conversations, "messages": self.messages,
            "chunk_documents": self.chunk_documents,
            "chunked_conversations": self.chunked_conversations,
            "skipped": [s.as_dict() for s in self.skipped],
            "written": {k: v for k, v in (self.result or IngestResult()).as_dict().items()
                        if k != "warnings"},
            "verification": self.verification.as_dict() if self.verification else None,
            "warnings": self.warnings, "notes": self.notes, "seconds": round(self.seconds, 3),
        }

    def summary_lines(self) -> list[str]:
        """The human report, one line each (the CLI prints these)."""
        if not self.ok:
            return [f"FAILED  {self.path}", f"  {self.error}"]
        written = self.result or IngestResult()
        check = self.verification or Verification()
        lines = [
            (f"ok      {self.path}  (legacy store, {self.seconds:.2f}s, "
            f"naive times in {self.timezone})"),
            (f"  store          {self.documents} documents -> {self.conversations} "
            f"conversations, {self.messages} messages ({self.chunk_documents} chunk documents "
            f"merged into {self.chunked_conversations})"),
            (f"  conversations  {written.conversations_new} new, {written.conversations_updated} "
            f"updated, {written.conversations_unchanged} unchanged, {len(self.skipped)} skipped"),
            f"  messages       {written.messages_added} added, {written.messages_changed} changed",
            f"  jobs           {written.jobs_enqueued} enqueued",
            f"  verified       {check.conversations} conversations, {check.messages} messages: "
            + ("counts and sha256 match the documents" if check.ok else "MISMATCH")
            + (f" ({check.repaired} repaired, see warnings)" if check.repaired else ""),
        ]
        lines += [f"  skipped        {', '.join(s.chroma_ids)} ({s.title!r}): {s.reason}"
                  for s in self.skipped]
        lines += [f"  warning        {warning}" for warning in self.warnings]
        lines += [f"  note           {note}" for note in self.notes]
        return lines


def read_legacy_store(path: str | Path, timezone: str | None = None) -> LegacyArchive:
    """Read and convert a store without touching the database (raises LegacyStoreError)."""
    clock = LegacyClock(timezone)
    return convert(read_store(path), clock)


def import_legacy_store(
    path: str | Path,
    timezone: str | None = None,
    progress: bool = True,
    database: Database | None = None,
) -> LegacyImportResult:
    """Import one legacy store in one transaction; never raises for bad input.

    `timezone` is the IANA zone of the machine that built the store (legacy wrote
    ChatGPT and docx times as its naive local time); None means this machine's zone.
    On any problem `error` is set and nothing was written. Ctrl-C rolls back and
    re-raises KeyboardInterrupt.
    """
    started = perf_counter()
    outcome = LegacyImportResult(str(path))
    try:
        archive = read_legacy_store(path, timezone)
        _describe(outcome, archive)
        if database is None:
            from dovos.db import get_database

            database = get_database()
        with database.connect(autocommit=True) as connection:
            outcome.result, outcome.verification = _write(archive, connection, outcome, progress)
        outcome.warnings += outcome.result.warnings
    except (LegacyStoreError, LegacyTimezoneError) as error:
        outcome.error = str(error)
    except (IngestError, LegacyVerificationError) as error:
        outcome.error = f"{path}: {error}; nothing was written"
    except psycopg.Error as error:
        outcome.error = f"{path}: the database refused the store, nothing was written: {error}"
    except OSError as error:
        outcome.error = f"{path}: cannot be read: {error}"
    outcome.seconds = perf_counter() - started
    return outcome


def _describe(outcome: LegacyImportResult, archive: LegacyArchive) -> None:
    """Fill the report with what the store holds (before anything is written)."""
    store = archive.store
    outcome.path = str(store.path)
    outcome.timezone = archive.timezone
    outcome.schema = store.migrations
    outcome.dimension = store.dimension
    outcome.documents = len(store.documents)
    outcome.conversations = len(archive.conversations)
    outcome.messages = archive.message_count
    outcome.chunk_documents = archive.chunk_documents
    outcome.chunked_conversations = sum(c.is_chunked for c in archive.conversations)
    outcome.skipped = list(archive.skipped)
    outcome.warnings = list(archive.warnings)
    model = store.embedding_model or "an unknown model"
    outcome.notes.append(
        f"the store's {store.dimension or '?'}-d vectors ({model}, one per whole document) are "
        f"not reused: the worker embeds each message with {get_settings().embedding_model}"
    )
    if store.has_fts_index:
        outcome.notes.append("conversations_fts.db ignored: legacy derived it from the same "
                             "documents")
    if not store.documents:
        outcome.warnings.append(f"{store.path}: the chat_history collection holds no documents")


def _write(
    archive: LegacyArchive,
    connection: psycopg.Connection[Any],
    outcome: LegacyImportResult,
    progress: bool,
) -> tuple[IngestResult, Verification]:
    """Skip conversations the archive has from their exports, ingest the rest, verify."""
    with connection.transaction(), connection.cursor() as cursor:
        from_exports = _from_exports(cursor, archive.conversations)
        kept = []
        for conversation in archive.conversations:
            key = (conversation.parsed.source, conversation.parsed.source_id)
            if key in from_exports:
                outcome.skipped.append(Skipped(
                    conversation.chroma_ids, conversation.parsed.title,
                    f"already in the archive from its original export ({conversation.parsed.source}"
                    f" {key[1]!r}, {from_exports[key]} messages; the store holds "
                    f"{len(conversation.parsed.messages)}); the export's full text is kept"))
            else:
                kept.append(conversation)
        total = sum(len(c.parsed.messages) for c in kept)
        with tqdm(total=total, unit="msg", desc=Path(outcome.path).name, leave=False,
                  disable=not progress) as bar:
            result = ingest(connection, [c.parsed for c in kept], on_progress=bar.update)
            bar.update(total - bar.n)
        verification = _verify(cursor, kept)
        if not verification.ok:
            raise LegacyVerificationError(
                "verification failed: " + "; ".join(verification.mismatches[:5]))
    return result, verification


def _from_exports(
    cursor: psycopg.Cursor[Any], conversations: list[LegacyConversation]
) -> dict[tuple[str, str], int]:
    """Keys already stored by an export import (no legacy metadata): their message counts."""
    keys = [c.parsed for c in conversations]
    if not keys:
        return {}
    found = stored_conversations.export_imported_counts(
        cursor.connection, [(k.source, k.source_id) for k in keys])
    return {(row.source, row.source_id): row.messages for row in found}


def _verify(cursor: psycopg.Cursor[Any], conversations: list[LegacyConversation]) -> Verification:
    """Compare what the database now holds with what the documents held, message by message."""
    check = Verification()
    if not conversations:
        return check
    stored: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for row in stored_messages.digests(
        cursor.connection, [(c.parsed.source, c.parsed.source_id) for c in conversations]
    ):
        stored.setdefault((row.source, row.source_id), []).append((row.role, row.digest))
    for conversation in conversations:
        key = (conversation.parsed.source, conversation.parsed.source_id)
        expected = list(zip([m.role for m in conversation.parsed.messages],
                            conversation.checksums, strict=True))
        found = stored.get(key, [])
        check.conversations += 1
        check.messages += len(found)
        check.repaired += sum(a != b for a, b in zip(conversation.checksums,
                                                     conversation.document_checksums,
                                                     strict=True))
        if len(found) != len(expected):
            check.mismatches.append(f"{key[1]!r}: {len(found)} messages stored, "
                                    f"{len(expected)} in the documents")
            continue
        for position, (want, got) in enumerate(zip(expected, found, strict=True)):
            if want != got:
                check.mismatches.append(f"{key[1]!r} message {position}: stored "
                                        f"{got[0]}/{got[1][:12]}, documents {want[0]}/{want[1][:12]}")
    return check
