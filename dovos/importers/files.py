"""Import export files: parse each (pure), then write it in one transaction (ingest).

    from dovos.importers import import_files, parse_file
    results = import_files(["conversations.json"])       # -> list[FileImportResult]
    parsed = parse_file("conversations.json")            # no database: ParsedFile

A file is all or nothing: every problem found while reading or parsing it stops it
before the database is touched, and its write is one transaction, so a failure (or
Ctrl-C) leaves nothing of it behind. Other files of the same call are unaffected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any

import psycopg
from tqdm.auto import tqdm

from dovos.importers import chatgpt, claude, openwebui
from dovos.importers.detect import FORMATS, detect_format
from dovos.importers.errors import ExportError, ParseLog, Where
from dovos.importers.load import load_json
from dovos.importers.parsed import ParsedConversation
from dovos.importers.text import clean_conversation
from dovos.ingest import IngestError, IngestResult, ingest

if TYPE_CHECKING:
    from dovos.db import Database

PARSERS = {"chatgpt": chatgpt.parse, "claude": claude.parse, "openwebui": openwebui.parse}

# messages.search_vector covers left(content, 100000) (migration 0001): say so when a
# message is longer, since words past that point will not match a full-text search.
FULL_TEXT_CHARS = 100_000


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


def parse_file(path: str | Path, format: str = "auto") -> ParsedFile:
    """Read, detect, parse and clean one export file; no database involved.

    Raises ExportError (naming the file, conversation and field) when the file cannot
    be imported. Repairs and skipped parts are listed in `ParsedFile.warnings`.
    """
    _check_format(format)
    where = Where(str(path))
    log = ParseLog()
    data = load_json(Path(path), where, log)
    found = detect_format(data, where) if format == "auto" else format
    if found is None:
        log.warning(where, "holds no conversations")
        return ParsedFile(str(path), None, [], log.warnings)
    parsed = PARSERS[found](data, where, log)
    del data  # the parsed objects are all that is needed from here on
    kept = []
    for index, conversation in enumerate(parsed):
        at = where.at(conversation=index, conversation_id=conversation.source_id)
        clean_conversation(conversation, log, at)
        if not conversation.messages:
            log.warning(at, "holds no messages with text; conversation skipped")
            continue
        _warn_long_messages(conversation, log, at)
        kept.append(conversation)
    return ParsedFile(str(path), found, kept, log.warnings)


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
    """Parse one file and ingest it in one transaction on `connection` (autocommit mode)."""
    started = perf_counter()
    outcome = FileImportResult(str(path))
    try:
        parsed = parse_file(path, format)
        outcome.format, outcome.warnings = parsed.format, parsed.warnings
        outcome.conversations = len(parsed.conversations)
        outcome.messages = parsed.message_count
        outcome.result = _write(parsed, connection, progress)
        outcome.warnings += [f"{path}: {warning}" for warning in outcome.result.warnings]
    except ExportError as error:
        outcome.error = str(error)
    except IngestError as error:
        outcome.error = f"{path}: {error}; nothing was written"
    except psycopg.Error as error:
        outcome.error = f"{path}: the database refused the file, nothing was written: {error}"
    except Exception as error:  # noqa: BLE001 - one bad file must not stop the others
        outcome.error = f"{path}: unexpected {type(error).__name__}: {error}; nothing was written"
    outcome.seconds = perf_counter() - started
    return outcome


def _write(
    parsed: ParsedFile, connection: psycopg.Connection[Any], progress: bool
) -> IngestResult:
    total = parsed.message_count
    with tqdm(total=total, unit="msg", desc=Path(parsed.path).name, disable=not progress,
              leave=False) as bar:
        result = ingest(connection, parsed.conversations, on_progress=bar.update)
        bar.update(total - bar.n)
    return result


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
