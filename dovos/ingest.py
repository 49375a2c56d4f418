"""The write path: store parsed conversations and enqueue their embed jobs atomically.

One call is one transaction (the importer makes one call per file): conversations are
upserted by (source, source_id), new messages are inserted with COPY, changed ones are
updated in place (the trigger bumps their version), and one `embed_message` job per new
or changed message is enqueued in the same transaction (the outbox). Either all of it
is visible afterwards or none of it is.

Messages are matched to stored ones by position: a re-import of the same export changes
nothing, a newer export of a continued conversation appends only its new turns, and a
turn whose text changed gets a new version and a new job (and so does the turn after
it, whose embedding uses it as context). Stored turns beyond the end of the export are
kept (an import never deletes), with a warning.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from dovos.importers.parsed import ParsedConversation, ParsedMessage
from dovos.importers.text import needs_repair, value_needs_repair
from dovos.repositories.jobs import EMBED_MESSAGE, embed_dedupe_key
from dovos.search.document_text import dependent_inputs

_PROGRESS_EVERY = 2_000  # messages between progress callbacks


class IngestError(ValueError):
    """A conversation cannot be stored; names which one and why. Nothing was written."""


@dataclass
class IngestResult:
    """Counts of what one ingest call changed."""

    conversations_new: int = 0
    conversations_updated: int = 0
    conversations_unchanged: int = 0
    messages_added: int = 0
    messages_changed: int = 0
    jobs_enqueued: int = 0
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _StoredMessage:
    id: uuid.UUID
    role: str
    content: str
    source_message_id: str | None
    metadata: dict[str, Any]


@dataclass
class _Plan:
    """Rows to write, computed in Python before the first write statement."""

    new_conversations: list[tuple[Any, ...]] = field(default_factory=list)
    changed_conversations: list[tuple[Any, ...]] = field(default_factory=list)
    new_messages: list[tuple[Any, ...]] = field(default_factory=list)
    changed_messages: list[tuple[Any, ...]] = field(default_factory=list)


def ingest(
    connection: psycopg.Connection[Any],
    conversations: Iterable[ParsedConversation],
    *,
    max_attempts: int = 5,
    on_progress: Callable[[int], None] | None = None,
) -> IngestResult:
    """Write `conversations` and their embed jobs in one transaction on `connection`.

    `on_progress(n)` is called as messages are written (n new ones each time), for a
    progress bar; an exception it raises (KeyboardInterrupt) rolls everything back.
    """
    parsed = _deduplicate(list(conversations))
    result = IngestResult(warnings=parsed.warnings)
    _validate(parsed.items)
    with connection.transaction(), connection.cursor() as cursor:
        stored = _load_stored(cursor, parsed.items)
        plan = _plan(parsed.items, stored, result)
        _write_conversations(cursor, plan)
        _write_new_messages(cursor, plan.new_messages, on_progress)
        changed_ids = _write_changed_messages(cursor, plan.changed_messages)
        result.jobs_enqueued = _copy_new_message_jobs(
            cursor, [row[0] for row in plan.new_messages], max_attempts
        )
        # After the copy: a turn after a changed one may be new, and meets the upsert.
        result.jobs_enqueued += _enqueue_embed_jobs(
            cursor, dependent_inputs(cursor, changed_ids), max_attempts
        )
    return result


@dataclass
class _Deduplicated:
    items: list[ParsedConversation]
    warnings: list[str]


def _deduplicate(conversations: list[ParsedConversation]) -> _Deduplicated:
    """Keep the last of several conversations with the same (source, source_id)."""
    by_key: dict[tuple[str, str], ParsedConversation] = {}
    warnings = []
    for conversation in conversations:
        key = (conversation.source, conversation.source_id)
        if key in by_key:
            warnings.append(
                f"conversation {conversation.source_id!r} appears more than once; kept the last"
            )
        by_key[key] = conversation
    return _Deduplicated(list(by_key.values()), warnings)


def _validate(conversations: list[ParsedConversation]) -> None:
    """Refuse, before any write, what PostgreSQL would refuse halfway through the COPY."""
    for index, conversation in enumerate(conversations):
        problems = conversation.problems() + _unstorable(conversation)
        if problems:
            raise IngestError(
                f"conversation {index} ({conversation.source_id!r}): " + "; ".join(problems)
            )


def _unstorable(conversation: ParsedConversation) -> list[str]:
    """Strings PostgreSQL cannot store (NUL, lone surrogates) that problems() does not check.

    Importers repair these with a warning (dovos.importers.text); this catches callers
    that build ParsedConversation objects themselves.
    """
    found = []
    if needs_repair(conversation.source_id) or needs_repair(conversation.title):
        found.append("id or title holds a NUL or an invalid surrogate")
    if value_needs_repair(conversation.metadata):
        found.append("metadata holds a NUL or an invalid surrogate")
    for index, message in enumerate(conversation.messages):
        if "\x00" not in message.content and needs_repair(message.content):
            found.append(f"message {index}: content holds an invalid surrogate")
        if needs_repair(message.source_message_id or "") or value_needs_repair(message.metadata):
            found.append(f"message {index}: id or metadata holds a NUL or an invalid surrogate")
    return found


def _load_stored(
    cursor: psycopg.Cursor[Any], conversations: list[ParsedConversation]
) -> dict[tuple[str, str], tuple[uuid.UUID, dict[str, Any], list[_StoredMessage]]]:
    """Stored conversations (id, fields, messages by position) for the parsed keys."""
    if not conversations:
        return {}
    cursor.execute(
        "SELECT c.id, c.source, c.source_id, c.title, c.metadata, c.created_at "
        "FROM conversations c JOIN unnest(%s::text[], %s::text[]) AS k(source, source_id) "
        "  ON c.source = k.source AND c.source_id = k.source_id",
        ([c.source for c in conversations], [c.source_id for c in conversations]),
    )
    found = {
        (source, source_id): (cid, {"title": title, "metadata": meta, "created_at": created})
        for cid, source, source_id, title, meta, created in cursor.fetchall()
    }
    messages: dict[uuid.UUID, list[_StoredMessage]] = {cid: [] for cid, _ in found.values()}
    if found:
        cursor.execute(
            "SELECT conversation_id, id, role, content, source_message_id, metadata "
            "FROM messages WHERE conversation_id = ANY(%s) ORDER BY conversation_id, position",
            (list(messages),),
        )
        for cid, mid, role, content, source_message_id, meta in cursor.fetchall():
            messages[cid].append(_StoredMessage(mid, role, content, source_message_id, meta))
    return {key: (cid, fields, messages[cid]) for key, (cid, fields) in found.items()}


def _plan(
    conversations: list[ParsedConversation],
    stored: dict[tuple[str, str], tuple[uuid.UUID, dict[str, Any], list[_StoredMessage]]],
    result: IngestResult,
) -> _Plan:
    plan = _Plan()
    for conversation in conversations:
        created = conversation.created_at or _first_time(conversation.messages) or _now()
        existing = stored.get((conversation.source, conversation.source_id))
        if existing is None:
            cid = uuid.uuid4()
            plan.new_conversations.append(
                (cid, conversation.title, conversation.source, conversation.source_id,
                 created, _json(conversation.metadata))
            )
            _plan_messages(plan, cid, conversation, [], created)
            result.conversations_new += 1
            result.messages_added += len(conversation.messages)
            continue
        cid, fields, stored_messages = existing
        fields_changed = (
            fields["title"] != conversation.title
            or fields["metadata"] != _normalized(conversation.metadata)
        )
        if fields_changed:
            plan.changed_conversations.append(
                (cid, conversation.title, _json(conversation.metadata))
            )
        added, changed = _plan_messages(plan, cid, conversation, stored_messages, created)
        result.messages_added += added
        result.messages_changed += changed
        if len(stored_messages) > len(conversation.messages):
            result.warnings.append(
                f"conversation {conversation.source_id!r}: the archive holds "
                f"{len(stored_messages)} messages, this export {len(conversation.messages)}; "
                "kept the extra ones"
            )
        if fields_changed or added or changed:
            result.conversations_updated += 1
        else:
            result.conversations_unchanged += 1
    return plan


def _plan_messages(
    plan: _Plan,
    conversation_id: uuid.UUID,
    conversation: ParsedConversation,
    stored: list[_StoredMessage],
    conversation_created: datetime,
) -> tuple[int, int]:
    """Queue inserts for new positions and updates for changed ones; return the counts."""
    added = changed = 0
    previous_time = conversation_created
    for position, message in enumerate(conversation.messages):
        created = message.created_at or previous_time
        previous_time = created
        if position >= len(stored):
            plan.new_messages.append(
                (uuid.uuid4(), conversation_id, message.role, message.content, position,
                 message.source_message_id, _json(message.metadata), created)
            )
            added += 1
        elif _differs(stored[position], message):
            plan.changed_messages.append(
                (stored[position].id, message.role, message.content,
                 message.source_message_id, _json(message.metadata))
            )
            changed += 1
    return added, changed


def _differs(stored: _StoredMessage, parsed: ParsedMessage) -> bool:
    return (
        stored.content != parsed.content
        or stored.role != parsed.role
        or stored.source_message_id != parsed.source_message_id
        or stored.metadata != _normalized(parsed.metadata)
    )


def _write_conversations(cursor: psycopg.Cursor[Any], plan: _Plan) -> None:
    if plan.new_conversations:
        with cursor.copy(
            "COPY conversations (id, title, source, source_id, created_at, metadata) FROM STDIN"
        ) as copy:
            for row in plan.new_conversations:
                copy.write_row(row)
    if plan.changed_conversations:
        cursor.executemany(
            "UPDATE conversations SET title = %s, metadata = %s::jsonb WHERE id = %s",
            [(title, meta, cid) for cid, title, meta in plan.changed_conversations],
        )


def _write_new_messages(
    cursor: psycopg.Cursor[Any],
    rows: list[tuple[Any, ...]],
    on_progress: Callable[[int], None] | None = None,
) -> None:
    if not rows:
        return
    with cursor.copy(
        "COPY messages (id, conversation_id, role, content, position, source_message_id, "
        "metadata, created_at) FROM STDIN"
    ) as copy:
        for start in range(0, len(rows), _PROGRESS_EVERY):
            chunk = rows[start : start + _PROGRESS_EVERY]
            for row in chunk:
                copy.write_row(row)
            if on_progress is not None:
                on_progress(len(chunk))


def _write_changed_messages(
    cursor: psycopg.Cursor[Any], rows: list[tuple[Any, ...]]
) -> list[uuid.UUID]:
    """Update changed messages in one statement; return the ids whose content changed."""
    if not rows:
        return []
    cursor.execute(
        "WITH changes AS ("
        "  SELECT * FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::jsonb[])"
        "    AS t(id, role, content, source_message_id, metadata)),"
        " before AS (SELECT m.id, m.version FROM messages m JOIN changes USING (id)) "
        "UPDATE messages m SET role = c.role, content = c.content, "
        "  source_message_id = c.source_message_id, metadata = c.metadata "
        "FROM changes c JOIN before b USING (id) WHERE m.id = c.id "
        "RETURNING m.id, m.version, b.version",
        [list(column) for column in zip(*rows, strict=True)],
    )
    return [mid for mid, version, old in cursor.fetchall() if version != old]


def _copy_new_message_jobs(
    cursor: psycopg.Cursor[Any], message_ids: list[uuid.UUID], max_attempts: int
) -> int:
    """Embed jobs for messages inserted just now, by COPY.

    Their ids were generated in this transaction, so no pending job can hold their
    dedupe key yet and the upsert of `_enqueue_embed_jobs` is not needed.
    """
    if not message_ids:
        return 0
    with cursor.copy("COPY jobs (kind, payload, dedupe_key, max_attempts) FROM STDIN") as copy:
        for message_id in message_ids:
            copy.write_row((
                EMBED_MESSAGE,
                f'{{"message_id": "{message_id}", "version": 1}}',
                embed_dedupe_key(message_id),
                max_attempts,
            ))
    return len(message_ids)


def _enqueue_embed_jobs(
    cursor: psycopg.Cursor[Any], jobs: list[tuple[uuid.UUID, int]], max_attempts: int
) -> int:
    """One pending embed job per message (an existing pending one takes the new version)."""
    if not jobs:
        return 0
    cursor.execute(
        "INSERT INTO jobs (kind, payload, dedupe_key, max_attempts) "
        "SELECT %s, jsonb_build_object('message_id', t.id, 'version', t.version), "
        "       %s || t.id::text, %s "
        "FROM unnest(%s::uuid[], %s::int[]) AS t(id, version) "
        "ON CONFLICT (dedupe_key) WHERE status = 'pending' AND dedupe_key IS NOT NULL "
        "DO UPDATE SET payload = EXCLUDED.payload, run_after = now()",
        (
            EMBED_MESSAGE,
            embed_dedupe_key(""),
            max_attempts,
            [mid for mid, _ in jobs],
            [version for _, version in jobs],
        ),
    )
    return len(jobs)


def _first_time(messages: list[ParsedMessage]) -> datetime | None:
    return next((m.created_at for m in messages if m.created_at is not None), None)


def _now() -> datetime:
    return datetime.now(UTC)


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _normalized(value: dict[str, Any]) -> Any:
    """`value` as it reads back from jsonb (dates become strings), for comparisons."""
    return json.loads(_json(value))
