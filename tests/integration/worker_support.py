"""Helpers for the worker tests: archives written through the real ingest path, a
deterministic embedder that counts (and can fail or stall) its encode calls, and
read-backs of jobs and embeddings. The database is always the real one."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
from psycopg.types.json import Jsonb

from dovos.importers.parsed import ParsedConversation, ParsedMessage
from dovos.ingest import ingest
from dovos.search.document_text import fetch_embedding_inputs

DIM = 384

# Ten sentences on unrelated topics: a real model ranks each one first for itself.
TOPICS = ["the cat sat on the warm windowsill", "stock markets fell sharply on tuesday",
          "a recipe for sourdough bread with rye", "the violin concerto moved the audience",
          "penguins huddle together in the antarctic winter", "how to repair a bicycle tyre",
          "the spacecraft entered orbit around mars", "tomatoes need plenty of sunlight",
          "the chess grandmaster sacrificed her queen", "volcanic ash grounded every flight"]


class Counting:
    """A real embedder that counts the texts it encodes (warm-up calls excluded)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name = inner, inner.name
        self.encoded: Counter[str] = Counter()

    @property
    def dim(self) -> int:
        return int(self.inner.dim)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if texts != ["warm up"]:
            self.encoded.update(texts)
        return self.inner.encode(texts, batch_size=batch_size)


def conversations(
    count: int, per_conversation: int = 20, *, tag: str = "c", text: Callable[[int], str] | None = None
) -> list[ParsedConversation]:
    """`count` messages spread over conversations `tag-0`, `tag-1`, ...; message i says
    `text(i)` (default: a distinct sentence)."""
    text = text or (lambda i: f"message number {i} about topic {i % 17} and detail {i * 7919}")
    found = []
    for start in range(0, count, per_conversation):
        messages = [
            ParsedMessage(role="user" if i % 2 == 0 else "assistant", content=text(i))
            for i in range(start, min(start + per_conversation, count))
        ]
        found.append(ParsedConversation("chatgpt", f"{tag}-{start // per_conversation}",
                                        f"conversation {start}", messages))
    return found


def store(database: Any, parsed: list[ParsedConversation]) -> None:
    """Write conversations (and their embed jobs) through `dovos.ingest`."""
    with database.connect() as connection:
        ingest(connection, parsed)


def edit(database: Any, parsed: list[ParsedConversation], changes: dict[tuple[int, int], str]) -> None:
    """Re-import `parsed` with message (conversation index, position) -> new text."""
    changed = []
    for index, conversation in enumerate(parsed):
        messages = [
            ParsedMessage(m.role, changes.get((index, position), m.content))
            for position, m in enumerate(conversation.messages)
        ]
        changed.append(ParsedConversation(conversation.source, conversation.source_id,
                                          conversation.title, messages))
    store(database, changed)


def fake_vector(text: str) -> np.ndarray:
    """A unit vector that depends only on `text`."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


class FakeEmbedder:
    """Deterministic embedder: counts every text it encodes, can stall, fail its first
    `fail_calls` calls, fail on any text containing `poison`, run `on_text` hooks (once,
    when a text ending with that key is encoded) and an `on_call` hook at the start of
    every call.

    The worker encodes what `fetch_embedding_inputs` returns, which may add context
    (the previous turn) before a message's content; so texts are matched by their end
    (`count(content)`), and poison is best placed in the last turn of a conversation.
    """

    def __init__(
        self,
        name: str = "fake-model",
        *,
        delay: float = 0.0,
        fail_calls: int = 0,
        poison: str | None = None,
        on_text: dict[str, Callable[[], None]] | None = None,
        on_call: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.name = name
        self.dim = DIM
        self.delay = delay
        self.fail_calls = fail_calls
        self.poison = poison
        self.on_text = dict(on_text or {})
        self.on_call = on_call
        self.calls = 0
        self.encoded: Counter[str] = Counter()
        self._lock = threading.Lock()

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if texts == ["warm up"]:  # the worker's model check, not a job
            return np.stack([fake_vector("warm up")])
        with self._lock:
            self.calls += 1
            failing = self.calls <= self.fail_calls
        if self.on_call is not None:
            self.on_call(texts)
        if self.delay:
            time.sleep(self.delay)
        if failing:
            raise RuntimeError(f"injected failure on call {self.calls}")
        if self.poison and any(self.poison in text for text in texts):
            raise ValueError(f"cannot embed text containing {self.poison!r}")
        for text in texts:
            for key in [key for key in self.on_text if text.endswith(key)]:
                self.on_text.pop(key)()
        with self._lock:
            self.encoded.update(texts)
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.stack([fake_vector(text) for text in texts])

    def count(self, content: str) -> int:
        """How many times a message whose own text is `content` was encoded."""
        return sum(n for text, n in self.encoded.items() if text.endswith(content))


def enqueue(
    database: Any, payload: dict[str, Any], *, dedupe_key: str | None = None,
    max_attempts: int = 5, kind: str = "embed_message",
) -> int:
    """Insert one pending job as a producer would (the table's NOTIFY trigger fires)."""
    with database.connect(autocommit=True) as connection:
        row = connection.execute(
            "INSERT INTO jobs (kind, payload, dedupe_key, max_attempts) "
            "VALUES (%s, %s, %s, %s) RETURNING id",
            (kind, Jsonb(payload), dedupe_key, max_attempts),
        ).fetchone()
    assert row is not None
    return int(row[0])


def job_counts(database: Any) -> dict[str, int]:
    """status -> number of jobs, every status present."""
    with database.connect() as connection:
        rows = connection.execute("SELECT status, count(*) FROM jobs GROUP BY status").fetchall()
    return {"pending": 0, "running": 0, "completed": 0, "failed": 0,
            **{status: int(n) for status, n in rows}}


def jobs(database: Any) -> list[dict[str, Any]]:
    """Every job as a dict, in id order."""
    with database.connect() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, status, attempts, max_attempts, lease_owner, last_error, payload, "
            "dedupe_key, run_after, now() AS now FROM jobs ORDER BY id"
        )
        names = [column.name for column in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def messages(database: Any) -> dict[uuid.UUID, tuple[int, str]]:
    """message id -> (version, content)."""
    with database.connect() as connection:
        rows = connection.execute("SELECT id, version, content FROM messages").fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


def inputs(database: Any) -> dict[uuid.UUID, tuple[int, str]]:
    """message id -> (version, text the worker embeds for it now)."""
    with database.connect() as connection, connection.cursor() as cursor:
        ids = [row[0] for row in cursor.execute("SELECT id FROM messages").fetchall()]
        return {item.message_id: (item.version, item.text)
                for item in fetch_embedding_inputs(cursor, ids)}


def embeddings(database: Any, model: str) -> dict[uuid.UUID, tuple[int, np.ndarray]]:
    """message id -> (message_version, vector) for `model`."""
    with database.connect() as connection:
        rows = connection.execute(
            "SELECT message_id, message_version, embedding::text FROM message_embeddings "
            "WHERE model = %s",
            (model,),
        ).fetchall()
    return {
        row[0]: (row[1], np.array([float(x) for x in row[2].strip("[]").split(",")], np.float32))
        for row in rows
    }


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> float:
    """Poll `condition` until true; seconds it took. Raises AssertionError on timeout."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
    return time.monotonic() - started
