"""Import export files: each read as a stream, parsed a conversation at a time and
written in bounded batches, in one transaction per file.

    from dovos.importers import import_files, parse_file
    results = import_files(["conversations.json"])       # -> list[FileImportResult]
    parsed = parse_file("conversations.json")            # no database: ParsedFile

Memory stays flat as files grow: the file is read a chunk at a time
(`load.ExportStream`), and its conversations are parsed, cleaned and written a batch at
a time (`BATCH_MESSAGES` messages or `BATCH_CHARS` characters of text, whichever comes
first), so an import holds a few batches, never the whole export: the one being
written, and (`PARSE_AHEAD`) the next one, parsed in a thread meanwhile
(`read_ahead`), so Python parses while the server indexes.

A file is still all or nothing: its batches are written in one transaction
(`dovos.ingest.ingest_transaction`), committed after its last conversation. A problem
found halfway (a malformed conversation, JSON that ends early) stops the file with a
message naming where, and rolls back the batches already written; so do Ctrl-C, a
killed process and a lost database connection. No part of a file is ever visible as if
it were complete: afterwards the file is either imported whole or absent, and importing
it again (idempotent: what is stored and unchanged is left as it is) completes it.
Other files of the same call are unaffected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any

import psycopg
from tqdm.auto import tqdm

from dovos.importers import chatgpt, claude, openwebui
from dovos.importers.detect import FORMATS, detect_first
from dovos.importers.errors import ExportError, ParseLog, Where
from dovos.importers.fields import type_name
from dovos.importers.load import ExportStream
from dovos.importers.parsed import ParsedConversation
from dovos.importers.read_ahead import read_ahead
from dovos.importers.text import clean_conversation
from dovos.ingest import IngestError, IngestResult, ingest_transaction

if TYPE_CHECKING:
    from dovos.db import Database

PARSERS: dict[str, Callable[[dict[str, Any], Where, ParseLog], ParsedConversation]] = {
    "chatgpt": chatgpt.parse_conversation,
    "claude": claude.parse_conversation,
    "openwebui": openwebui.parse_conversation,
}

# messages.search_vector covers left(content, 100000) (migration 0001): say so when a
# message is longer, since words past that point will not match a full-text search.
FULL_TEXT_CHARS = 100_000

# A batch ends after this many messages or characters of message text: large enough
# that per-batch statements cost little, small enough that memory stays a few tens of MB.
BATCH_MESSAGES = 5_000
BATCH_CHARS = 8_000_000

# Batches parsed ahead in a thread while the current one is written (`read_ahead`):
# Python parses the next batch while the server computes this one's tsvectors.
# 0 parses and writes in turn, in one thread.
PARSE_AHEAD = 1

_NOTHING = object()


@dataclass
class ParsedFile:
    """One export file, parsed and cleaned, ready for `ingest`."""

    path: str
    format: str | None
    conversations: list[ParsedConversation]
    warnings: list[str] = field(default_factory=list)

    @property
    def message_count(self) -> int:
        return sum(len(conversation.messages) for conversation in self.conversations)


@dataclass
class FileImportResult:
    """What importing one file did: counts on success, the error (nothing written) if not."""

    path: str
    format: str | None = None
    conversations: int = 0  # parsed from the file
    messages: int = 0  # parsed from the file
    result: IngestResult | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        counts = self.result.as_dict() if self.result else IngestResult().as_dict()
        counts.pop("warnings", None)
        return {
            "path": self.path,
            "format": self.format,
            "ok": self.ok,
            "error": self.error,
            "conversations": self.conversations,
            "messages": self.messages,
            **counts,
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
        }


class ImportInterrupted(KeyboardInterrupt):
    """Ctrl-C during `import_files`: `results` holds the files finished before it.

    The file being written when it came was rolled back; earlier files stay imported.
    """

    def __init__(self, results: list[FileImportResult]) -> None:
        super().__init__("import interrupted")
        self.results = results


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files to import: each path itself, or every *.json under a directory (sorted)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        else:
            found.append(path)
    return found


@dataclass
class OpenExport:
    """An export file being read: its format and its conversations, parsed on demand."""

    path: str
    format: str | None
    conversations: Iterator[ParsedConversation]
    log: ParseLog


@contextmanager
def open_export(
    path: str | Path, format: str = "auto", on_read: Callable[[int], None] | None = None
) -> Iterator[OpenExport]:
    """Open one export file; its conversations are read, parsed and cleaned as iterated.

    The format is decided from the first conversation (or forced). Raises ExportError
    (naming the file, conversation and field) when the file cannot be imported, at
    opening or while iterating; repairs and skipped parts go to `log.warnings`.
    `on_read(n)` is told of every n bytes read, for a progress bar.
    """
    _check_format(format)
    where = Where(str(path))
    log = ParseLog()
    with ExportStream(Path(path), where, log, on_read) as stream:
        values = iter(stream)
        first = next(values, _NOTHING)
        if first is _NOTHING:
            if format == "auto":
                log.warning(where, "holds no conversations")
            yield OpenExport(str(path), None if format == "auto" else format, iter(()), log)
            return
        found = detect_first(first, stream.is_list, where) if format == "auto" else format
        items = chain([first], values)
        yield OpenExport(str(path), found, _conversations(items, found, where, log), log)


def _conversations(
    items: Iterable[Any], format: str, where: Where, log: ParseLog
) -> Iterator[ParsedConversation]:
    """Each top-level item parsed and cleaned; those without any text are skipped."""
    parse = PARSERS[format]
    for index, item in enumerate(items):
        at = where.at(conversation=index)
        if not isinstance(item, dict):
            raise ExportError(at, f"is {type_name(item)}, expected a conversation object")
        conversation = parse(item, at, log)
        at = at.at(conversation_id=conversation.source_id)
        clean_conversation(conversation, log, at)
        if not conversation.messages:
            log.warning(at, "holds no messages with text; conversation skipped")
            continue
        _warn_long_messages(conversation, log, at)
        yield conversation


def batches(
    conversations: Iterable[ParsedConversation],
    max_messages: int = BATCH_MESSAGES,
    max_chars: int = BATCH_CHARS,
) -> Iterator[list[ParsedConversation]]:
    """Conversations in lists of at most about `max_messages` messages or `max_chars`
    characters (a conversation is never split; one larger than that is a batch alone)."""
    batch: list[ParsedConversation] = []
    count = chars = 0
    for conversation in conversations:
        batch.append(conversation)
        count += len(conversation.messages)
        chars += sum(len(message.content) for message in conversation.messages)
        if count >= max_messages or chars >= max_chars:
            yield batch
            batch, count, chars = [], 0, 0
    if batch:
        yield batch


def parse_file(path: str | Path, format: str = "auto") -> ParsedFile:
    """Read, detect, parse and clean one export file into memory; no database involved.

    Raises ExportError (naming the file, conversation and field) when the file cannot
    be imported. Repairs and skipped parts are listed in `ParsedFile.warnings`. (The
    import itself never holds a whole file: see `import_file`.)
    """
    with open_export(path, format) as export:
        conversations = list(export.conversations)
    return ParsedFile(str(path), export.format, conversations, export.log.warnings)


def import_files(
    paths: Iterable[str | Path],
    format: str = "auto",
    database: Database | None = None,
    progress: bool = True,
) -> list[FileImportResult]:
    """Import every file (directories: their *.json), each in its own transaction.

    Never raises for bad input: a file that fails has `error` set and wrote nothing.
    Ctrl-C raises ImportInterrupted carrying the results of the finished files.
    """
    _check_format(format)
    if database is None:
        from dovos.db import get_database

        database = get_database()
    files = expand_paths(paths)
    results: list[FileImportResult] = []
    with database.connect(autocommit=True) as connection:
        for path in tqdm(files, unit="file", disable=not progress or len(files) < 2):
            try:
                results.append(import_file(path, connection, format, progress=progress))
            except KeyboardInterrupt:
                results.append(FileImportResult(
                    str(path), error=f"{path}: interrupted; nothing of this file was written"))
                raise ImportInterrupted(results) from None
    return results


def import_file(
    path: str | Path,
    connection: psycopg.Connection[Any],
    format: str = "auto",
    *,
    progress: bool = False,
) -> FileImportResult:
    """Stream one file into one transaction on `connection` (autocommit mode), a batch
    at a time; a failure anywhere in the file rolls all of it back."""
    started = perf_counter()
    outcome = FileImportResult(str(path))
    try:
        _stream_into(outcome, path, connection, format, progress)
    except ExportError as error:
        _failed(outcome, str(error))
    except IngestError as error:
        _failed(outcome, f"{path}: {error}; nothing was written")
    except psycopg.Error as error:
        _failed(outcome, _database_error(path, connection, error))
    except Exception as error:  # noqa: BLE001 - one bad file must not stop the others
        _failed(outcome, f"{path}: unexpected {type(error).__name__}: {error}; "
                         "nothing was written")
    outcome.seconds = perf_counter() - started
    return outcome


def _stream_into(
    outcome: FileImportResult, path: str | Path, connection: psycopg.Connection[Any],
    format: str, progress: bool,
) -> None:
    """Read, parse and write `path` batch by batch; fill in `outcome` once committed."""
    size = _size(path)
    with tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024, desc=Path(path).name,
              disable=not progress or size is None, leave=False) as bar, \
            open_export(path, format, on_read=bar.update) as export:
        outcome.format = export.format
        parsed = batches(export.conversations, BATCH_MESSAGES, BATCH_CHARS)
        with read_ahead(parsed, PARSE_AHEAD) as ready, ingest_transaction(connection) as writer:
            for batch in ready:
                outcome.conversations += len(batch)
                outcome.messages += sum(len(c.messages) for c in batch)
                writer.write(batch)
    outcome.result = writer.result
    outcome.warnings = export.log.warnings + [f"{path}: {w}" for w in writer.result.warnings]


def _failed(outcome: FileImportResult, error: str) -> None:
    """Record a failed file: nothing of it was written, so it counts nothing."""
    outcome.error = error
    outcome.conversations = outcome.messages = 0
    outcome.result = None


def _database_error(path: str | Path, connection: psycopg.Connection[Any],
                    error: psycopg.Error) -> str:
    if connection.broken or connection.closed:
        return (f"{path}: the database connection was lost while writing; nothing of this "
                f"file was written (import it again once the database is back): {error}")
    return f"{path}: the database refused the file, nothing was written: {error}"


def _size(path: str | Path) -> int | None:
    try:
        return Path(path).stat().st_size
    except OSError:
        return None  # the reader names the problem


def _warn_long_messages(conversation: ParsedConversation, log: ParseLog, where: Where) -> None:
    for index, message in enumerate(conversation.messages):
        if len(message.content) > FULL_TEXT_CHARS:
            log.warning(
                where.at(message=index, message_id=message.source_message_id),
                f"is {len(message.content):,} characters; stored whole, but full-text search "
                f"covers its first {FULL_TEXT_CHARS:,}",
                "content",
            )


def _check_format(format: str) -> None:
    if format != "auto" and format not in FORMATS:
        raise ValueError(f"format {format!r} is not one of auto, {', '.join(FORMATS)}")
