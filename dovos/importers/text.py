"""Make parsed text storable in PostgreSQL, with a warning for every repair.

PostgreSQL `text` and `jsonb` cannot hold NUL characters, and a lone UTF-16 surrogate
(JSON lets an export write `"\\ud83d"` without its pair) cannot be encoded as UTF-8, so
either would fail the whole file's transaction at write time. They are repaired here,
before the database is touched: NULs are removed, lone surrogates become U+FFFD, and
each repair is reported with the file, conversation, message and field it was found in.
"""

from __future__ import annotations

import re
from typing import Any

from dovos.importers.errors import ParseLog, Where
from dovos.importers.parsed import ParsedConversation
from dovos.ingest.records import needs_repair, value_needs_repair

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str, log: ParseLog, where: Where, field_name: str) -> str:
    """`text` without NULs and with lone surrogates replaced, warning about each repair."""
    if "\x00" in text:
        count = text.count("\x00")
        text = text.replace("\x00", "")
        log.warning(where, f"removed {count} NUL character(s) (PostgreSQL text cannot hold them)",
                 field_name)
    if _SURROGATE.search(text):
        count = len(_SURROGATE.findall(text))
        # Pairs that arrived split are joined; what is left alone becomes U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        log.warning(where, f"replaced invalid UTF-16 surrogate(s) ({count} code unit(s)) with U+FFFD",
                 field_name)
    return text


def clean_value(value: Any, log: ParseLog, where: Where, field_name: str) -> Any:
    """A JSON-like value (metadata) with every string and key cleaned by `clean_text`."""
    if isinstance(value, str):
        return clean_text(value, log, where, field_name) if needs_repair(value) else value
    if isinstance(value, dict):
        return {
            clean_value(str(key), log, where, field_name): clean_value(
                item, log, where, f"{field_name}.{key}"
            )
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [clean_value(item, log, where, field_name) for item in value]
    return value


def clean_conversation(
    conversation: ParsedConversation, log: ParseLog, where: Where
) -> ParsedConversation:
    """Repair, in place, every string of `conversation` that PostgreSQL could not store.

    Checks first and builds locations only for what needs repair: nearly every message
    is clean, and this runs on every message of every import.
    """
    where = where.at(conversation_id=conversation.source_id)
    conversation.source_id = _clean(conversation.source_id, log, where, "id")
    conversation.title = _clean(conversation.title, log, where, "title")
    if value_needs_repair(conversation.metadata):
        conversation.metadata = clean_value(conversation.metadata, log, where, "metadata")
    for index, message in enumerate(conversation.messages):
        if not (needs_repair(message.content) or needs_repair(message.source_message_id or "")
                or value_needs_repair(message.metadata)):
            continue
        at = where.at(message=index, message_id=message.source_message_id)
        message.content = _clean(message.content, log, at, "content")
        if message.source_message_id is not None:
            message.source_message_id = _clean(message.source_message_id, log, at, "id")
        message.metadata = clean_value(message.metadata, log, at, "metadata")
    return conversation


def _clean(text: str, log: ParseLog, where: Where, field_name: str) -> str:
    return clean_text(text, log, where, field_name) if needs_repair(text) else text
