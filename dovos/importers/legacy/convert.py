"""Legacy documents -> ParsedConversation: chunks merged, blocks parsed, ids and times kept.

Rules (see docs/legacy.md):
- Chunk documents (`is_chunk`, written by `safe_indexer.py <file> N`) are grouped by
  their chroma id prefix and chunk count, put in `chunk_index` order and merged; the
  " (Part i/n)" suffix leaves the title.
- The conversation key is the original export's id when the store kept it (metadata
  `conversation_id` for chunks, `id` otherwise), so the archive recognises the same
  conversation imported from its export. Without one, a key is made from the chroma id
  and a hash of the text: stable for the same store, distinct across stores (legacy
  reused ids such as `docx-0` in every store).
- `source` stays `chatgpt` / `claude`. A `docx` transcript has no known origin and
  the archive's sources (and the frozen API contract) are chatgpt, claude, openwebui
  or unknown, so it is stored as `unknown`; `metadata.legacy.source` keeps "docx".
- Every document's metadata and chroma id are kept in `metadata.legacy`; each message
  keeps its legacy label and header time. A document that does not parse is kept whole
  as one message with a warning.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dovos.importers.errors import ParseLog, Where
from dovos.importers.legacy.document import UNKNOWN_TIME, Block, parse_document
from dovos.importers.legacy.store import LegacyDocument, LegacyStore
from dovos.importers.legacy.times import LegacyClock
from dovos.importers.parsed import ParsedConversation, ParsedMessage
from dovos.importers.text import clean_conversation

ARCHIVE_SOURCES = {"chatgpt": "chatgpt", "claude": "claude", "docx": "unknown"}
UNPARSED_ROLE = "user"  # text of unknown speaker: the user's own document
_PART_SUFFIX = re.compile(r" \(Part \d+/\d+\)$")
_CHUNK_ID = re.compile(r"-chunk-\d+$")


@dataclass
class Skipped:
    """Something of the store not imported, and why (reported, never silent)."""

    chroma_ids: list[str]
    title: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"chroma_ids": self.chroma_ids, "title": self.title, "reason": self.reason}


@dataclass
class LegacyConversation:
    """One conversation rebuilt from its document(s), ready for `ingest`."""

    parsed: ParsedConversation
    documents: list[LegacyDocument]
    legacy_source: str
    has_original_id: bool
    complete: bool = True  # False when chunks are missing
    document_checksums: list[str] = field(default_factory=list)  # before any repair

    @property
    def chroma_ids(self) -> list[str]:
        return [document.chroma_id for document in self.documents]

    @property
    def is_chunked(self) -> bool:
        return any(_is_chunk(document) for document in self.documents)

    @property
    def checksums(self) -> list[str]:
        """sha256 of each message's text, as it will be stored."""
        return [sha256(message.content) for message in self.parsed.messages]


@dataclass
class LegacyArchive:
    """A store read and converted, with no database involved."""

    store: LegacyStore
    timezone: str
    conversations: list[LegacyConversation] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def message_count(self) -> int:
        return sum(len(c.parsed.messages) for c in self.conversations)

    @property
    def chunk_documents(self) -> int:
        """Chunk documents merged back into their conversations."""
        return sum(len(c.documents) for c in self.conversations if c.is_chunked)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def convert(store: LegacyStore, clock: LegacyClock) -> LegacyArchive:
    """Rebuild the conversations of `store`; problems become warnings or skips."""
    archive = LegacyArchive(store, clock.name)
    log = ParseLog()
    candidates = []
    for documents in _group(store.documents):
        where = Where(f"{store.path.name}/{documents[0].chroma_id}")
        built = _conversation(documents, clock, log, where, archive.skipped)
        if built is not None:
            built.document_checksums = built.checksums
            clean_conversation(built.parsed, log, where)  # NULs, lone surrogates (warned)
            candidates.append(built)
    archive.conversations = _one_copy_each(candidates, archive.skipped)
    archive.warnings = log.warnings
    return archive


def _is_chunk(document: LegacyDocument) -> bool:
    return bool(document.metadata.get("is_chunk")) or "chunk_index" in document.metadata


def _group(documents: list[LegacyDocument]) -> list[list[LegacyDocument]]:
    """Whole documents alone; chunks by (source, id prefix, chunk count), in index order."""
    groups: dict[tuple[Any, ...], list[LegacyDocument]] = {}
    for document in documents:
        if _is_chunk(document):
            meta = document.metadata
            key: tuple[Any, ...] = ("chunks", meta.get("source"),
                                    _CHUNK_ID.sub("", document.chroma_id), meta.get("total_chunks"))
        else:
            key = ("document", document.chroma_id)
        groups.setdefault(key, []).append(document)
    return [sorted(group, key=_chunk_index) for group in groups.values()]


def _chunk_index(document: LegacyDocument) -> int:
    index = document.metadata.get("chunk_index")
    return index if isinstance(index, int) else 0


def _conversation(
    documents: list[LegacyDocument],
    clock: LegacyClock,
    log: ParseLog,
    where: Where,
    skipped: list[Skipped],
) -> LegacyConversation | None:
    first = documents[0].metadata
    legacy_source = str(first.get("source") or "")
    title = str(first.get("title") or "")
    if _is_chunk(documents[0]):
        title = _PART_SUFFIX.sub("", title)
    ids = [d.chroma_id for d in documents]
    if not any(d.text.strip() for d in documents):
        skipped.append(Skipped(ids, title, "the document holds no text"))
        return None
    source = ARCHIVE_SOURCES.get(legacy_source)
    if source is None:
        source = "unknown"
        log.warning(where, f"unknown legacy source {legacy_source!r}; stored as 'unknown'",
                    "source")
    complete = _check_chunks(documents, log, where)
    earliest = _conversation_time(first.get("earliest_ts"), legacy_source, clock)
    messages: list[ParsedMessage] = []
    preambles: list[str] = []
    for document in documents:
        messages += _messages(document, legacy_source, clock, earliest, log, where, preambles)
    original_id = first.get("conversation_id") if _is_chunk(documents[0]) else first.get("id")
    has_id = isinstance(original_id, str) and bool(original_id)
    source_id = original_id if has_id else _derived_id(documents)
    if not has_id:
        log.warning(where, f"{title!r}: the store kept no original conversation id, so it "
                           "cannot be matched to its export; imported as its own conversation "
                           f"{source_id!r} (importing the original export too gives a second copy)")
    metadata: dict[str, Any] = {"source": legacy_source, "chroma_ids": ids,
                                "documents": [d.metadata for d in documents]}
    if legacy_source != "claude":
        metadata["timezone"] = clock.name
    if preambles:
        metadata["preamble"] = "\n".join(preambles)
    parsed = ParsedConversation(source=source, source_id=str(source_id), title=title,
                                messages=messages, created_at=earliest,
                                metadata={"legacy": metadata})
    return LegacyConversation(parsed, documents, legacy_source, has_id, complete)


def _check_chunks(documents: list[LegacyDocument], log: ParseLog, where: Where) -> bool:
    """Warn when chunks are missing (legacy id collisions can lose documents)."""
    if not _is_chunk(documents[0]):
        return True
    total = documents[0].metadata.get("total_chunks")
    present = [_chunk_index(d) for d in documents]
    if isinstance(total, int) and present == list(range(total)):
        return True
    missing = sorted(set(range(total)) - set(present)) if isinstance(total, int) else []
    log.warning(where, f"chunked conversation has chunks {present} of {total}"
                       + (f" (missing {missing})" if missing else "")
                       + "; imported the chunks the store holds, in order")
    return False


def _messages(
    document: LegacyDocument,
    legacy_source: str,
    clock: LegacyClock,
    fallback: datetime | None,
    log: ParseLog,
    where: Where,
    preambles: list[str],
) -> list[ParsedMessage]:
    where = Where(where.file.rsplit("/", 1)[0] + "/" + document.chroma_id)
    parsed = parse_document(document.text, legacy_source)
    if parsed.problem is not None:
        log.warning(where, f"does not parse ({parsed.problem}); kept whole as one message")
        return [_unparsed(document, document.text, fallback)]
    messages = []
    if parsed.preamble.strip():
        if legacy_source == "docx":  # the lines before the first speaker (often the title)
            preambles.append(parsed.preamble)
        else:
            log.warning(where, "text before the first message header; kept as its own message")
            messages.append(_unparsed(document, parsed.preamble, fallback))
    expected = document.metadata.get("message_count")
    if isinstance(expected, int) and expected != len(parsed.blocks):
        log.warning(where, f"holds {len(parsed.blocks)} message headers but its metadata says "
                           f"{expected} messages (a message may quote a header); imported as "
                           "parsed", "message_count")
    for block in parsed.blocks:
        messages.append(_message(block, document, legacy_source, clock, fallback))
    return messages


def _message(
    block: Block,
    document: LegacyDocument,
    legacy_source: str,
    clock: LegacyClock,
    fallback: datetime | None,
) -> ParsedMessage:
    metadata: dict[str, Any] = {"legacy_label": block.label, "legacy_document": document.chroma_id}
    created = None
    if block.header_time is not None:
        metadata["legacy_time"] = block.header_time
        if block.header_time != UNKNOWN_TIME:
            created = clock.parse(block.header_time, naive_is_utc=legacy_source == "claude")
    if created is None and fallback is not None:
        created = fallback
        metadata["time_from"] = "earliest_ts"
    if block.original_role:
        metadata["original_role"] = block.original_role
    return ParsedMessage(role=block.role, content=block.content, created_at=created,
                         metadata=metadata)


def _unparsed(document: LegacyDocument, text: str, fallback: datetime | None) -> ParsedMessage:
    metadata: dict[str, Any] = {"legacy_document": document.chroma_id, "legacy_unparsed": True}
    if fallback is not None:
        metadata["time_from"] = "earliest_ts"
    return ParsedMessage(role=UNPARSED_ROLE, content=text, created_at=fallback, metadata=metadata)


def _conversation_time(value: Any, legacy_source: str, clock: LegacyClock) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return clock.parse(value, naive_is_utc=legacy_source == "claude")


def _derived_id(documents: list[LegacyDocument]) -> str:
    """A key for a conversation without an original id: chroma id + a hash of its text."""
    digest = hashlib.sha256("\x1e".join(d.text for d in documents).encode("utf-8")).hexdigest()
    return f"legacy-{_CHUNK_ID.sub('', documents[0].chroma_id)}-{digest[:16]}"


def _one_copy_each(
    candidates: list[LegacyConversation], skipped: list[Skipped]
) -> list[LegacyConversation]:
    """One conversation per (source, source_id): complete first, then most messages, latest."""
    best: dict[tuple[str, str], LegacyConversation] = {}
    for candidate in candidates:
        key = (candidate.parsed.source, candidate.parsed.source_id)
        other = best.get(key)
        if other is None:
            best[key] = candidate
            continue
        keep, drop = (candidate, other) if _rank(candidate) >= _rank(other) else (other, candidate)
        best[key] = keep
        skipped.append(Skipped(drop.chroma_ids, drop.parsed.title,
                               f"another copy of conversation {key[1]!r} in the store; kept "
                               f"{', '.join(keep.chroma_ids)}"))
    return list(best.values())


def _rank(conversation: LegacyConversation) -> tuple[bool, int, int]:
    return (conversation.complete, len(conversation.parsed.messages),
            max(d.seq for d in conversation.documents))
