"""The write path: store parsed conversations and enqueue their embed jobs atomically.

One transaction, written in batches: `ingest()` writes a list in one call; an importer
streaming a big file opens `ingest_transaction()` and hands it the file's conversations
a batch at a time (`IngestWriter.write`), so memory holds one batch, not the file, and
the file is still all or nothing. Per batch, conversations are upserted by (source,
source_id), new messages are inserted with COPY, changed ones are updated in place (the
trigger bumps their version), and one `embed_message` job per new or changed message is
enqueued in the same transaction (the outbox). New rows get time-ordered ids
(`dovos.ingest.ids.uuid7`), so their index entries append instead of landing on random
pages. Either all of it is visible afterwards
or none of it is: a process killed or a connection lost mid-file leaves nothing of the
file, and importing it again writes it whole.

Every ingest transaction first takes the import lock (`dovos.repositories.import_lock`)
and only then reads what is stored to plan its writes: two imports of the same export
at once serialize, and the second finds the first's rows instead of inserting them a
second time.

Messages are matched to stored ones by position: a re-import of the same export changes
nothing, a newer export of a continued conversation appends only its new turns, and a
turn whose text changed gets a new version and a new job (and so does the turn after
it, whose embedding uses it as context). Stored turns beyond the end of the export are
kept (an import never deletes), with a warning.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from dovos.ingest.ids import uuid7
from dovos.ingest.records import (
    ParsedConversation,
    ParsedMessage,
    needs_repair,
    value_needs_repair,
)
from dovos.repositories import conversations, import_lock, jobs, messages
from dovos.repositories.conversations import ConversationChange, NewConversation
from dovos.repositories.messages import MessageChange, NewMessage, StoredMessage

log = logging.getLogger("dovos.ingest")


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
class _Stored:
    """A stored conversation: its id, the fields an import may change, its messages."""

    id: uuid.UUID
    title: str
    metadata: dict[str, Any]
    messages: list[StoredMessage]


@dataclass
class _Plan:
    """Rows to write, computed in Python before the first write statement."""

    new_conversations: list[NewConversation] = field(default_factory=list)
    changed_conversations: list[ConversationChange] = field(default_factory=list)
    new_messages: list[NewMessage] = field(default_factory=list)
    changed_messages: list[MessageChange] = field(default_factory=list)


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
    with ingest_transaction(connection, max_attempts=max_attempts,
                            on_progress=on_progress) as writer:
        writer.write(list(conversations))
    return writer.result


@contextmanager
def ingest_transaction(
    connection: psycopg.Connection[Any],
    *,
    max_attempts: int = 5,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[IngestWriter]:
    """One transaction (holding the import lock) to write batches of conversations in.

        with ingest_transaction(connection) as writer:
            for batch in batches:
                writer.write(batch)
        writer.result  # counts of the whole transaction

    Committed when the block ends; any exception inside it (a bad conversation found
    halfway through a file, Ctrl-C, a lost connection) rolls back every batch.
    """
    with connection.transaction():
        _take_import_lock(connection)
        yield IngestWriter(connection, max_attempts, on_progress)


def _take_import_lock(connection: psycopg.Connection[Any]) -> None:
    if import_lock.try_lock(connection):
        return
    log.warning("waiting for another import to finish (imports write one at a time)")
    import_lock.lock(connection)
    log.warning("the other import finished; importing")


class IngestWriter:
    """Writes batches inside one `ingest_transaction`, adding up their counts.

    Each batch is planned against what is stored now, earlier batches of the same
    transaction included: a conversation that appears again in a later batch updates
    the row the earlier batch wrote (the last one wins, with a warning).
    """

    def __init__(
        self,
        connection: psycopg.Connection[Any],
        max_attempts: int = 5,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.connection = connection
        self.max_attempts = max_attempts
        self.on_progress = on_progress
        self.result = IngestResult()
        self._seen: set[tuple[str, str]] = set()  # keys written by earlier batches
        self._offset = 0  # conversations before this batch, to name them in errors

    def write(self, batch: Sequence[ParsedConversation]) -> None:
        """Plan and write one batch: conversations, messages and embed jobs."""
        parsed = _deduplicate(list(batch))
        _validate(parsed.items, self._offset)
        self._offset += len(batch)
        self.result.warnings += parsed.warnings + self._repeated(parsed.items)
        connection, result = self.connection, self.result
        stored = _load_stored(connection, parsed.items)
        plan = _plan(parsed.items, stored, result)
        _write(connection, plan, self.on_progress)
        changed_ids = messages.update_changed(connection, plan.changed_messages)
        result.jobs_enqueued += jobs.copy_new_embed_jobs(
            connection, [row.id for row in plan.new_messages], self.max_attempts
        )
        # After the copy: a turn after a changed one may be new, and meets the upsert.
        result.jobs_enqueued += messages.enqueue_dependent_embed_jobs(
            connection, changed_ids, self.max_attempts
        )

    def _repeated(self, items: list[ParsedConversation]) -> list[str]:
        warnings = []
        for conversation in items:
            key = (conversation.source, conversation.source_id)
            if key in self._seen:
                warnings.append(f"conversation {conversation.source_id!r} appears more than "
                                "once; kept the last")
            self._seen.add(key)
        return warnings


def _write(
    connection: psycopg.Connection[Any], plan: _Plan, on_progress: Callable[[int], None] | None
) -> None:
    conversations.copy_new(connection, plan.new_conversations)
    conversations.update_fields(connection, plan.changed_conversations)
    messages.copy_new(connection, plan.new_messages, on_progress)


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


def _validate(conversations: list[ParsedConversation], offset: int = 0) -> None:
    """Refuse, before any write, what PostgreSQL would refuse halfway through the COPY."""
    for index, conversation in enumerate(conversations, start=offset):
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
    connection: psycopg.Connection[Any], parsed: list[ParsedConversation]
) -> dict[tuple[str, str], _Stored]:
    """Stored conversations (id, fields, messages by position) for the parsed keys."""
    found = conversations.find_by_source(connection, [(c.source, c.source_id) for c in parsed])
    by_id = {row.id: _Stored(row.id, row.title, row.metadata, []) for row in found}
    for message in messages.for_conversations(connection, list(by_id)):
        by_id[message.conversation_id].messages.append(message)
    return {(row.source, row.source_id): by_id[row.id] for row in found}


def _plan(
    parsed: list[ParsedConversation], stored: dict[tuple[str, str], _Stored], result: IngestResult
) -> _Plan:
    plan = _Plan()
    for conversation in parsed:
        created = conversation.created_at or _first_time(conversation.messages) or _now()
        existing = stored.get((conversation.source, conversation.source_id))
        if existing is None:
            cid = uuid7()
            plan.new_conversations.append(NewConversation(
                cid, conversation.title, conversation.source, conversation.source_id,
                created, _json(conversation.metadata),
            ))
            _plan_messages(plan, cid, conversation, [], created)
            result.conversations_new += 1
            result.messages_added += len(conversation.messages)
            continue
        fields_changed = (
            existing.title != conversation.title
            or existing.metadata != _normalized(conversation.metadata)
        )
        if fields_changed:
            plan.changed_conversations.append(
                ConversationChange(existing.id, conversation.title, _json(conversation.metadata))
            )
        added, changed = _plan_messages(plan, existing.id, conversation, existing.messages, created)
        result.messages_added += added
        result.messages_changed += changed
        if len(existing.messages) > len(conversation.messages):
            result.warnings.append(
                f"conversation {conversation.source_id!r}: the archive holds "
                f"{len(existing.messages)} messages, this export {len(conversation.messages)}; "
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
    stored: list[StoredMessage],
    conversation_created: datetime,
) -> tuple[int, int]:
    """Queue inserts for new positions and updates for changed ones; return the counts."""
    added = changed = 0
    previous_time = conversation_created
    for position, message in enumerate(conversation.messages):
        created = message.created_at or previous_time
        previous_time = created
        if position >= len(stored):
            plan.new_messages.append(NewMessage(
                uuid7(), conversation_id, message.role, message.content, position,
                message.source_message_id, _json(message.metadata), created,
            ))
            added += 1
        elif _differs(stored[position], message):
            plan.changed_messages.append(MessageChange(
                stored[position].id, message.role, message.content,
                message.source_message_id, _json(message.metadata),
            ))
            changed += 1
    return added, changed


def _differs(stored: StoredMessage, parsed: ParsedMessage) -> bool:
    return (
        stored.content != parsed.content
        or stored.role != parsed.role
        or stored.source_message_id != parsed.source_message_id
        or stored.metadata != _normalized(parsed.metadata)
    )


def _first_time(messages: list[ParsedMessage]) -> datetime | None:
    return next((m.created_at for m in messages if m.created_at is not None), None)


def _now() -> datetime:
    return datetime.now(UTC)


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _normalized(value: dict[str, Any]) -> Any:
    """`value` as it reads back from jsonb (dates become strings), for comparisons."""
    return json.loads(_json(value))
