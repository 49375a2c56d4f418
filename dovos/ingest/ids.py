"""Time-ordered ids (UUID version 7, RFC 9562) for the rows an import inserts.

An import inserts its messages, conversations and embed jobs in one transaction, and
every btree over their ids takes one entry per row: the primary keys, the messages'
(conversation_id, position) and (conversation_id, source_message_id) indexes, and the
jobs' dedupe key (`embed_message:<message id>`). Random (version 4) ids put each entry
on a random leaf page: every page of every such index is read, split half full and
written to the WAL. Version 7 ids start with the time in milliseconds, so a new id
sorts after the ids made before it and the entries go to the right-hand end of each
index, where PostgreSQL appends them without a search from the root.

The 74 bits after the time and the version are random (os.urandom, as uuid4's are):
ids made in the same millisecond are still unique with the same odds as uuid4's 122
bits among the few thousand ids an import makes per millisecond at most. The time in an
id is when the row was planned, not when the message was written: nothing reads it.
"""

from __future__ import annotations

import os
import time
import uuid

_VERSION_7 = 0x7 << 76
_VARIANT_RFC = 0b10 << 62


def uuid7() -> uuid.UUID:
    """A new version 7 UUID: 48 bits of Unix time in ms, then 74 random bits."""
    millis = time.time_ns() // 1_000_000
    random = int.from_bytes(os.urandom(10), "big")  # 80 bits; 74 are used
    rand_a = (random >> 62) & 0xFFF  # 12 bits
    rand_b = random & ((1 << 62) - 1)  # 62 bits
    return uuid.UUID(int=(millis & ((1 << 48) - 1)) << 80 | _VERSION_7 | rand_a << 64
                     | _VARIANT_RFC | rand_b)
