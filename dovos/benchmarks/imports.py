"""Import throughput: the real path (parse + COPY ingest + outbox jobs) against a naive one.

Both import the same generated ChatGPT export (>= 50,000 messages on the displayed
branches, with regenerated siblings the parser must skip) from the same starting state:
the benchmark's rows are deleted (and the tables vacuumed) before each run, so an
existing archive is left as it was. The naive reference is what an importer written
the obvious way does: one SQLAlchemy ORM object per conversation, message and job,
`session.add` each, `session.commit()` per conversation.

    from dovos.benchmarks.imports import run_import_benchmark
    figures = run_import_benchmark(get_database(), messages=50_000)

Run it with no worker attached to the database (a worker would start embedding the
benchmark's messages while they exist).
"""

from __future__ import annotations

import json
import random
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from dovos.importers.files import import_files, parse_file
from dovos.importers.parsed import ParsedConversation
from dovos.repositories import conversations, jobs
from dovos.repositories.jobs import EMBED_MESSAGE, embed_dedupe_key

if TYPE_CHECKING:
    from dovos.db import Database

BENCH_PREFIX = "bench-import-"
AIM_MESSAGES_PER_SECOND = 5_000
AIM_RATIO = 5.0

_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "ta", "shi", "po", "ven", "dar", "qui", "sel",
              "tor", "am", "el", "is", "on", "ur", "bre", "gla", "fin", "dex", "mor", "pla")


@dataclass
class Vocabulary:
    """A Zipf-like pool of made-up words, so texts have realistic term statistics."""

    words: list[str]
    weights: list[float]

    @classmethod
    def build(cls, rng: random.Random, size: int = 4_000) -> Vocabulary:
        words = sorted({"".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4)))
                        for _ in range(size * 2)})[:size]
        rng.shuffle(words)
        return cls(words, [1.0 / (rank + 1) for rank in range(len(words))])

    def text(self, rng: random.Random, words: int) -> str:
        chosen = rng.choices(self.words, self.weights, k=words)
        sentences = [" ".join(chosen[i:i + 12]).capitalize() + "." for i in range(0, words, 12)]
        return " ".join(sentences)


@dataclass(frozen=True)
class Lengths:
    """Words per user and per assistant turn (uniform in each range)."""

    name: str
    user: tuple[int, int]
    assistant: tuple[int, int]


# ChatGPT answers run long (about 700 characters per turn on average here); LoCoMo's
# conversational turns average 125 characters, as do these short ones.
CHATGPT_LENGTHS = Lengths("chatgpt-length turns", (10, 40), (40, 200))
SHORT_LENGTHS = Lengths("short turns", (5, 20), (8, 30))
PROFILES = (CHATGPT_LENGTHS, SHORT_LENGTHS)


def generate_chatgpt_export(
    messages: int = 50_000,
    per_conversation: int = 20,
    seed: int = 7,
    lengths: Lengths = CHATGPT_LENGTHS,
) -> list[dict[str, Any]]:
    """A ChatGPT `conversations.json` whose displayed branches hold `messages` turns.

    Each conversation has the usual hidden empty system node, alternating user and
    assistant turns of `lengths`, and one regenerated answer on a branch that
    `current_node` does not select (the parser must skip it).
    """
    rng = random.Random(seed)
    vocabulary = Vocabulary.build(rng)
    export = []
    for index in range(0, messages, per_conversation):
        count = min(per_conversation, messages - index)
        export.append(chatgpt_conversation(rng, lambda words: vocabulary.text(rng, words),
                                           len(export), count, lengths))
    return export


def chatgpt_conversation(rng: random.Random, text: Callable[[int], str], number: int,
                         count: int, lengths: Lengths) -> dict[str, Any]:
    """One generated ChatGPT conversation of `count` turns; `text(words)` writes a turn."""
    start = 1_600_000_000 + number * 3_600.5
    mapping: dict[str, Any] = {}
    root = f"{BENCH_PREFIX}{number}-root"
    mapping[root] = {"id": root, "message": None, "parent": None, "children": []}
    parent = _add_node(mapping, root, f"{BENCH_PREFIX}{number}-system", "system", "", None,
                       hidden=True)
    regenerate_at = rng.randrange(1, count, 2) if count > 1 else -1
    for turn in range(count):
        role = "user" if turn % 2 == 0 else "assistant"
        words = rng.randint(*(lengths.user if role == "user" else lengths.assistant))
        node_id = f"{BENCH_PREFIX}{number}-{turn}"
        if turn == regenerate_at:  # an earlier answer the user regenerated
            _add_node(mapping, parent, node_id + "-old", role, text(words), start + turn * 30)
        parent = _add_node(mapping, parent, node_id, role, text(words), start + turn * 30 + 5)
    return {
        "id": f"{BENCH_PREFIX}{number}",
        "conversation_id": f"{BENCH_PREFIX}{number}",
        "title": text(4).rstrip("."),
        "create_time": start,
        "update_time": start + count * 30,
        "mapping": mapping,
        "current_node": parent,
        "default_model_slug": "gpt-4o",
    }


def _add_node(mapping: dict[str, Any], parent: str, node_id: str, role: str, text: str,
              time: float | None, *, hidden: bool = False) -> str:
    mapping[node_id] = {
        "id": node_id,
        "parent": parent,
        "children": [],
        "message": {
            "id": node_id,
            "author": {"role": role, "name": None, "metadata": {}},
            "create_time": time,
            "content": {"content_type": "text", "parts": [text]},
            "status": "finished_successfully",
            "metadata": {"is_visually_hidden_from_conversation": True} if hidden else {},
            "recipient": "all",
        },
    }
    mapping[parent]["children"].append(node_id)
    return node_id


def naive_insert(database: Database, conversations: list[ParsedConversation]) -> int:
    """The reference: one ORM object per row, `session.add` each, commit per conversation."""
    from dovos.db.models import Conversation, Job, Message

    written = 0
    with database.session_factory() as session:
        for parsed in conversations:
            conversation = Conversation(
                id=uuid.uuid4(), title=parsed.title, source=parsed.source,
                source_id=parsed.source_id, created_at=parsed.created_at,
                metadata_=parsed.metadata,
            )
            session.add(conversation)
            for position, message in enumerate(parsed.messages):
                row = Message(
                    id=uuid.uuid4(), conversation_id=conversation.id, role=message.role,
                    content=message.content, position=position,
                    source_message_id=message.source_message_id,
                    metadata_=message.metadata,
                    created_at=message.created_at or parsed.created_at,
                )
                session.add(row)
                session.add(Job(
                    kind=EMBED_MESSAGE, payload={"message_id": str(row.id), "version": 1},
                    dedupe_key=embed_dedupe_key(row.id),
                ))
                written += 1
            session.commit()
    return written


def clear_benchmark_rows(database: Database) -> None:
    """Delete what a benchmark run wrote (and vacuum), leaving any other data untouched."""
    with database.connect(autocommit=True) as connection:
        with connection.transaction():
            jobs.delete_embed_jobs_of_conversations(connection, BENCH_PREFIX + "%", "chatgpt")
            conversations.delete_by_source_id(connection, BENCH_PREFIX + "%", "chatgpt")
        for table in ("conversations", "messages", "jobs"):
            connection.execute(f"VACUUM ANALYZE {table}")  # fixed names, no user input
        try:  # flush the previous run's WAL now rather than during the next run
            connection.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            pass


def _count_rows(database: Database) -> tuple[int, int]:
    with database.connect() as connection, connection.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(
            "SELECT (SELECT count(*) FROM messages m JOIN conversations c "
            "          ON c.id = m.conversation_id WHERE c.source_id LIKE %(p)s) AS messages, "
            "       (SELECT count(*) FROM jobs j JOIN messages m "
            "          ON m.id = (j.payload->>'message_id')::uuid "
            "        JOIN conversations c ON c.id = m.conversation_id "
            "        WHERE c.source_id LIKE %(p)s AND j.status = 'pending') AS pending_jobs",
            {"p": BENCH_PREFIX + "%"},
        ).fetchone()
    assert row is not None
    return int(row["messages"]), int(row["pending_jobs"])


def run_import_benchmark(
    database: Database,
    messages: int = 50_000,
    profiles: tuple[Lengths, ...] = PROFILES,
    workdir: Path | None = None,
) -> list[dict[str, Any]]:
    """Import generated exports both ways; print and return msg/s and ratios per profile."""
    figures = [_measure(database, messages, lengths, workdir) for lengths in profiles]
    _print(figures)
    return figures


def _measure(
    database: Database, messages: int, lengths: Lengths, workdir: Path | None
) -> dict[str, Any]:
    """One profile: the naive path first (a cold start favours it), then the real one."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / "conversations.json"
        path.write_text(json.dumps(generate_chatgpt_export(messages, lengths=lengths)),
                        encoding="utf-8")
        size_mb = path.stat().st_size / 1e6

        clear_benchmark_rows(database)
        started = perf_counter()
        parsed = parse_file(path)
        parse_seconds = perf_counter() - started
        chars = sum(len(m.content) for c in parsed.conversations for m in c.messages)
        naive_written = naive_insert(database, parsed.conversations)
        naive_seconds = perf_counter() - started
        naive_rows = _count_rows(database)
        del parsed

        clear_benchmark_rows(database)
        started = perf_counter()
        [result] = import_files([path], database=database, progress=False)
        fast_seconds = perf_counter() - started
        fast_rows = _count_rows(database)
        clear_benchmark_rows(database)
    if not result.ok or result.result is None:
        raise RuntimeError(f"benchmark import failed: {result.error}")
    written = result.result.messages_added
    fast_rate = written / fast_seconds
    naive_rate = naive_written / naive_seconds
    fast_write = written / max(fast_seconds - parse_seconds, 1e-9)
    naive_write = naive_written / max(naive_seconds - parse_seconds, 1e-9)
    return {
        "profile": lengths.name,
        "messages": written,
        "mean_chars": round(chars / max(written, 1)),
        "file_mb": round(size_mb, 1),
        "parse_seconds": round(parse_seconds, 2),
        "fast_seconds": round(fast_seconds, 2),
        "naive_seconds": round(naive_seconds, 2),
        "fast_messages_per_second": round(fast_rate),
        "naive_messages_per_second": round(naive_rate),
        "fast_write_messages_per_second": round(fast_write),
        "naive_write_messages_per_second": round(naive_write),
        "ratio": round(fast_rate / naive_rate, 1),
        "write_ratio": round(fast_write / naive_write, 1),
        "rows_fast": fast_rows,
        "rows_naive": naive_rows,
    }


def _print(figures: list[dict[str, Any]]) -> None:
    print("\nimport benchmark: generated ChatGPT exports, end to end (read + parse + write "
          "+ embed jobs)")
    print("  reference: naive ORM, one object per message and per job, session.add each, "
          "commit per conversation")
    header = (f"  {'profile':<22} {'messages':>8} {'chars':>6} {'MB':>6} {'dovos msg/s':>12} "
              f"{'naive msg/s':>12} {'ratio':>6} {'writes-only ratio':>18}")
    print(header)
    for row in figures:
        print(f"  {row['profile']:<22} {row['messages']:>8,} {row['mean_chars']:>6} "
              f"{row['file_mb']:>6} {row['fast_messages_per_second']:>12,} "
              f"{row['naive_messages_per_second']:>12,} {row['ratio']:>5}x "
              f"{row['write_ratio']:>17}x")
    print(f"  aim: >= {AIM_MESSAGES_PER_SECOND:,} msg/s and >= {AIM_RATIO:.0f}x the naive path")
