"""Fixtures of the API tests: the fixed small archive in tests/api/data, loaded once for
the package through the real ingest path, and TestClients on apps built around it.

Every test here uses `database_session` (not `database`, which empties the tables after
each test), so the archive stays loaded for the whole package and is removed at the end.
Conversation and message ids are random UUIDs (ingest makes them); `Archive.normalize`
replaces them with stable names so responses can be compared with snapshots.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from dovos.importers.parsed import ParsedConversation, ParsedMessage
from dovos.ingest import ingest
from tests.tables import TABLES

DATA_FILE = Path(__file__).parent / "data" / "conversations.json"
SAVED_SOURCE_ID = "chatgpt-lisbon-trip"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def load_dataset(path: Path = DATA_FILE) -> list[ParsedConversation]:
    """The fixed archive as parsed conversations (what an importer would produce)."""
    conversations = []
    for item in json.loads(path.read_text(encoding="utf-8")):
        messages = [
            ParsedMessage(
                role=msg["role"],
                content=msg["content"],
                created_at=datetime.fromisoformat(msg["created_at"]),
                source_message_id=msg.get("source_message_id"),
            )
            for msg in item["messages"]
        ]
        conversations.append(
            ParsedConversation(
                source=item["source"],
                source_id=item["source_id"],
                title=item["title"],
                messages=messages,
                created_at=datetime.fromisoformat(item["created_at"]),
                metadata=item.get("metadata", {}),
            )
        )
    return conversations


@dataclass
class Archive:
    """The loaded archive: its database and how ids map to stable names."""

    database: Any
    conversation_ids: dict[str, str] = field(default_factory=dict)  # source_id -> uuid
    names: dict[str, str] = field(default_factory=dict)  # uuid -> stable name

    def id_of(self, source_id: str) -> str:
        return self.conversation_ids[source_id]

    def normalize(self, value: Any) -> Any:
        """`value` with every known UUID replaced by its stable name."""
        if isinstance(value, str):
            return _UUID.sub(lambda match: self.names.get(match.group(0), "<unknown-uuid>"), value)
        if isinstance(value, list):
            return [self.normalize(item) for item in value]
        if isinstance(value, dict):
            return {key: self.normalize(item) for key, item in value.items()}
        return value


def truncate(database: Any) -> None:
    database.engine.dispose()
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="package")
def archive(database_session: Any) -> Iterator[Archive]:
    """The fixed archive ingested into an otherwise empty database (one saved conversation)."""
    truncate(database_session)
    with database_session.connect() as conn:
        ingest(conn, load_dataset())
    loaded = Archive(database_session)
    with database_session.engine.begin() as conn:
        rows = conn.execute(text(
            "SELECT c.source_id, c.id AS cid, m.id AS mid, m.position "
            "FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id"
        )).all()
        conn.execute(text("UPDATE conversations SET is_saved = true WHERE source_id = :s"),
                     {"s": SAVED_SOURCE_ID})
    for row in rows:
        loaded.conversation_ids[row.source_id] = str(row.cid)
        loaded.names[str(row.cid)] = f"<conversation:{row.source_id}>"
        if row.mid is not None:
            loaded.names[str(row.mid)] = f"<message:{row.source_id}#{row.position}>"
    yield loaded
    truncate(database_session)


def make_client(database: Any, **settings: Any) -> TestClient:
    """A TestClient on a fresh app (timestamps in UTC, so snapshots do not depend on the
    machine's time zone); `settings` override fields of the configured Settings."""
    from dovos.api.app import create_app
    from dovos.config import get_settings

    configured = get_settings().model_copy(update=settings)
    return TestClient(create_app(database=database, settings=configured, tz=UTC),
                      raise_server_exceptions=False)


@pytest.fixture(scope="package")
def client_for() -> Any:
    """`client_for(database, **settings)`: a TestClient on a fresh app (see make_client)."""
    return make_client


@pytest.fixture(scope="package")
def client(archive: Archive) -> Iterator[TestClient]:
    with make_client(archive.database) as test_client:
        yield test_client


def random_uuid() -> str:
    return str(uuid.uuid4())
