"""Shared set-up for the search tests: a small real archive, embedded with the real model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from dovos.benchmarks.search_setup import embed_missing
from dovos.benchmarks.search_synthetic import generated_conversations
from dovos.importers.parsed import ParsedConversation, ParsedMessage
from dovos.ingest import ingest
from tests.tables import TABLES


def handmade() -> list[ParsedConversation]:
    """Conversations whose answers the tests know."""
    day = datetime(2023, 5, 8, tzinfo=UTC)
    return [
        ParsedConversation(
            "claude", "hand-1", "Caroline & Melanie — session 1",
            [
                ParsedMessage("user", "Caroline: I went to a LGBTQ support group yesterday."),
                ParsedMessage("assistant", "Melanie: That sounds powerful! How did it feel?"),
                ParsedMessage("user", "Caroline: My vegetable patch gave us loads of courgettes."),
                ParsedMessage("assistant", "Melanie: Swimming lessons for the kids start Monday."),
            ],
            created_at=day, metadata={"dataset": "hand", "sample_id": "s1"},
        ),
        ParsedConversation(
            "chatgpt", "hand-2", "Postgres tuning",
            [
                ParsedMessage("user", "How do I tune the support group of autovacuum workers?"),
                ParsedMessage("assistant", "Raise autovacuum_max_workers and watch the logs."),
                ParsedMessage("user", "Explain the HNSW ef_search parameter of pgvector."),
            ],
            created_at=datetime(2024, 2, 1, tzinfo=UTC), metadata={"dataset": "hand", "sample_id": "s2"},
        ),
    ]


def build_archive(database: Any, embedder: Any, generated: int = 160) -> None:
    """Handmade conversations plus `generated` synthetic turns, all embedded."""
    parsed = handmade() + generated_conversations(generated, per_conversation=16)[0]
    with database.connect() as conn:
        ingest(conn, parsed)
    embed_missing(database, embedder, progress=False)


def truncate(database: Any) -> None:
    database.engine.dispose()
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
