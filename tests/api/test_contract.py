"""Contract tests: every endpoint's response validates against the frozen models, serves
every key of the legacy golden responses with the same JSON type, and follows the
contract's rules (ordering, pagination, labels, previews, score ranges, timeline)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from dovos.api import models as m
from dovos.importers.parsed import ParsedConversation, ParsedMessage
from dovos.ingest import ingest


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def assert_serves_golden_keys(golden: Any, actual: Any, where: str = "$") -> None:
    """Every key of `golden` is in `actual` with the same JSON type, recursively (each
    item of an actual list is compared with the golden list's first item)."""
    assert json_type(actual) == json_type(golden), f"{where}: {json_type(actual)} != {json_type(golden)}"
    if isinstance(golden, dict):
        for key, value in golden.items():
            assert key in actual, f"{where}: missing key {key!r}"
            assert_serves_golden_keys(value, actual[key], f"{where}.{key}")
    elif isinstance(golden, list) and golden:
        assert actual, f"{where}: empty list where the golden response has items"
        for index, item in enumerate(actual):
            assert_serves_golden_keys(golden[0], item, f"{where}[{index}]")


@pytest.fixture(scope="module")
def golden_dir(shared_dir: Path) -> Path:
    path = shared_dir / "contract" / "golden"
    if not path.is_dir():
        pytest.skip(f"golden responses are not present at {path}")
    return path


def _golden(golden_dir: Path, name: str) -> Any:
    return json.loads((golden_dir / name).read_text(encoding="utf-8"))


# -- golden keys -----------------------------------------------------------------------------
def test_stats_serves_golden_keys(client: Any, golden_dir: Path) -> None:
    response = client.get("/api/stats")
    assert response.status_code == 200
    assert_serves_golden_keys(_golden(golden_dir, "live_stats.json"), response.json())


def test_health_serves_golden_keys(client: Any, golden_dir: Path) -> None:
    response = client.get("/api/rag/health")
    assert response.status_code == 200
    assert_serves_golden_keys(_golden(golden_dir, "live_rag_health.json"), response.json())


def test_detail_serves_golden_keys(client: Any, archive: Any, golden_dir: Path) -> None:
    response = client.get(f"/api/conversation/{archive.id_of('unknown-concurrent-worker')}")
    assert response.status_code == 200
    assert_serves_golden_keys(_golden(golden_dir, "live_conversation_detail.json"), response.json())


def test_golden_keys_check_catches_a_missing_key() -> None:
    with pytest.raises(AssertionError, match="missing key 'b'"):
        assert_serves_golden_keys({"a": [{"b": 1}]}, {"a": [{"c": 1}]})
    with pytest.raises(AssertionError, match="number != string"):
        assert_serves_golden_keys({"a": "x"}, {"a": 1})


def test_golden_detail_is_reproduced_exactly(archive: Any, client_for: Any, golden_dir: Path) -> None:
    """The legacy capture's conversation, stored here, renders to the same transcript and
    metadata (ids aside) when timestamps are written in its time zone (-06:00)."""
    golden = _golden(golden_dir, "live_conversation_detail.json")
    meta = golden["metadatas"][0]
    parts = golden["documents"][0].split("\n\n---\n\n")
    first = datetime.fromisoformat(meta["earliest_ts"])
    last = datetime.fromisoformat(meta["latest_ts"])
    step = (last - first) / (len(parts) - 1)
    roles = {"**System**": "system", "**You said**": "user", "**Assistant said**": "assistant"}
    messages = [
        ParsedMessage(role=roles[part.split(" *(on")[0]], content=part.split(":\n\n", 1)[1],
                      created_at=last if index == len(parts) - 1 else first + step * index)
        for index, part in enumerate(parts)
    ]
    conversation = ParsedConversation(source=meta["source"], source_id="golden-detail",
                                      title=meta["title"], messages=messages, created_at=first)
    database = archive.database
    with database.connect() as conn:
        ingest(conn, [conversation])
    try:
        with database.engine.connect() as conn:
            cid = str(conn.execute(text("SELECT id FROM conversations WHERE source_id = "
                                        "'golden-detail'")).scalar_one())
        client = client_for(database)
        client.app.state.adapter.tz = timezone(timedelta(hours=-6))
        body = client.get(f"/api/conversation/{cid}").json()
    finally:
        _remove_conversation(database, "golden-detail")
    assert body["documents"] == golden["documents"]
    expected = {**meta, "id": cid, "conversation_id": cid}
    assert body["metadatas"][0] == expected
    assert body["ids"] == [cid]


def _remove_conversation(database: Any, source_id: str) -> None:
    """Delete a conversation a test added, and the embed jobs its ingest enqueued."""
    with database.engine.begin() as conn:
        conn.execute(text(
            "DELETE FROM jobs WHERE (payload->>'message_id')::uuid IN (SELECT m.id FROM messages m "
            "JOIN conversations c ON c.id = m.conversation_id WHERE c.source_id = :s)"
        ), {"s": source_id})
        conn.execute(text("DELETE FROM conversations WHERE source_id = :s"), {"s": source_id})


# -- models and rules ------------------------------------------------------------------------
def test_conversations_page_validates_and_is_newest_first(client: Any) -> None:
    response = client.get("/api/conversations")
    assert response.status_code == 200
    body = m.ConversationListResponse.model_validate(response.json())
    assert body.pagination == m.Pagination(page=1, limit=50, total=6, has_next=False, has_prev=False)
    assert len(body.ids) == len(body.documents) == len(body.metadatas) == 6
    latest = [datetime.fromisoformat(meta.latest_ts) for meta in body.metadatas]
    assert latest == sorted(latest, reverse=True)
    assert [meta.id for meta in body.metadatas] == body.ids
    assert all(meta.conversation_id == meta.id and meta.is_chunk is False for meta in body.metadatas)
    saved = {meta.title for meta in body.metadatas if meta.is_saved}
    assert saved == {"Trip planning: Lisbon"}


def test_conversations_pagination_walks_every_conversation_once(client: Any) -> None:
    seen: list[str] = []
    for page in (1, 2, 3):
        body = m.ConversationListResponse.model_validate(
            client.get("/api/conversations", params={"page": page, "limit": 2}).json()
        )
        assert body.pagination.total == 6
        assert body.pagination.has_prev == (page > 1)
        assert body.pagination.has_next == (page < 3)
        seen += body.ids
    assert len(seen) == len(set(seen)) == 6
    beyond = client.get("/api/conversations", params={"page": 4, "limit": 2}).json()
    assert beyond["ids"] == [] and beyond["pagination"]["has_next"] is False


def test_conversation_previews_strip_markdown_and_cut(client: Any) -> None:
    body = client.get("/api/conversations").json()
    by_title = dict(zip([meta["title"] for meta in body["metadatas"]], body["documents"], strict=True))
    assert by_title["Python list comprehension help"] == "You are a helpful programming assistant."
    assert by_title["Untitled draft"] == ""
    for document in body["documents"]:
        assert len(document) <= 203 and "**" not in document and "`" not in document


def test_detail_transcript_labels_by_source_and_role(client: Any, archive: Any) -> None:
    expected = {
        "chatgpt-python-comprehensions": ["System", "You said", "ChatGPT said"],
        "claude-sourdough": ["You said", "Claude said"],
        "owui-docker-network": ["You said", "Tool", "OpenWebUI said"],
        "unknown-concurrent-worker": ["System", "You said", "Assistant said"],
    }
    for source_id, labels in expected.items():
        response = client.get(f"/api/conversation/{archive.id_of(source_id)}")
        body = m.ConversationDetailResponse.model_validate(response.json())
        turns = body.documents[0].split("\n\n---\n\n")
        assert body.metadatas[0].message_count == len(turns)
        found = [turn.split("** *(on ")[0].lstrip("*") for turn in turns]
        assert set(found) == set(labels), source_id
        assert all(turn.count(" *(on ") == 1 and ")*:\n\n" in turn for turn in turns)


def test_detail_of_a_saved_conversation(client: Any, archive: Any) -> None:
    body = client.get(f"/api/conversation/{archive.id_of('chatgpt-lisbon-trip')}").json()
    assert body["is_saved"] is True
    assert body["documents"][0].startswith("**You said** *(on 2025-03-18 20:45:00)*:\n\nPlan three")


def test_search_validates_and_reports_what_ran(client: Any) -> None:
    response = client.get("/api/search", params={"q": "python", "n": 2, "keyword": "true"})
    body = m.SearchResponse.model_validate(response.json())
    assert body.query == "python"
    assert body.search_metadata == m.SearchMetadata(total_results=2, truncated=True,
                                                    search_type="fts")
    assert all("python" in result.content.lower() for result in body.results)
    assert all(result.metadata.message_count == 1 for result in body.results)
    everything = m.SearchResponse.model_validate(
        client.get("/api/search", params={"q": "python", "n": 50, "search_type": "fts"}).json()
    )
    assert everything.search_metadata.truncated is False
    assert everything.search_metadata.total_results == len(everything.results) >= 3
    assert [r.metadata.message_id for r in everything.results[:2]] == \
        [r.metadata.message_id for r in body.results]  # best first, whatever n
    assert all(len(result.content) <= 303 for result in everything.results)
    assert any(result.content.endswith("...") for result in everything.results)


def test_semantic_without_embeddings_falls_back_to_full_text(client: Any) -> None:
    body = m.SearchResponse.model_validate(
        client.get("/api/search", params={"q": "python", "search_type": "semantic"}).json()
    )
    assert body.search_metadata.search_type == "fts" and body.results
    rag = client.post("/api/rag/query", json={"query": "python"}).json()
    assert rag["search_type"] == "keyword" and rag["results"]


def test_rag_query_validates_with_scores_in_range(client: Any) -> None:
    response = client.post("/api/rag/query",
                           json={"query": "sourdough starter", "n_results": 3,
                                 "search_type": "keyword"})
    assert response.status_code == 200
    body = m.RagQueryResponse.model_validate(response.json())
    assert body.search_type == "keyword" and body.results
    assert body.results[0].title == "Sourdough starter schedule"
    relevances = [result.relevance for result in body.results]
    assert relevances == sorted(relevances, reverse=True)
    for result in body.results:
        assert 0.0 <= result.distance <= 1.0
        assert result.relevance == pytest.approx(1.0 - result.distance)
        assert result.id == result.metadata.conversation_id
        assert len(result.preview) <= 503


def test_stats_validates_with_archive_counts(client: Any) -> None:
    body = m.StatsResponse.model_validate(client.get("/api/stats").json())
    assert (body.document_count, body.total_conversations, body.total_messages) == (6, 6, 17)
    assert body.total_embeddings == 0 and body.embedding_coverage_percent == 0.0
    assert body.earliest_ts == "2025-03-02T09:15:00+00:00"
    assert body.latest_ts == "2025-03-20T07:00:00+00:00"
    # 18 days: one bucket per day, from the first conversation to the last, gaps included.
    assert len(body.timeline) == 19
    assert body.timeline[0].date == "2025-03-02" and body.timeline[-1].date == "2025-03-20"
    per_source = {s: sum(getattr(b, s) for b in body.timeline)
                  for s in ("chatgpt", "claude", "openwebui", "unknown")}
    assert per_source == {"chatgpt": 2, "claude": 2, "openwebui": 1, "unknown": 1}


def test_health_reports_queue_and_latest_heartbeat(client: Any, archive: Any) -> None:
    body = m.HealthResponse.model_validate(client.get("/api/rag/health").json())
    assert body.status == "healthy" and body.document_count == 6
    assert body.queue == m.QueueCounts(pending=17, running=0, failed=0)  # one job per message
    assert body.worker == m.WorkerStatus(last_heartbeat=None, alive=0)
    # What dovos.worker writes: one worker_heartbeats row per worker (b stopped, a running).
    from datetime import datetime

    from dovos.repositories import heartbeats

    beats = [
        heartbeats.Beat("a", "h", 1, "running", 0, 5.0, None,
                        datetime.fromisoformat("2025-03-21T10:00:00+00:00")),
        heartbeats.Beat("b", "h", 2, "stopped", 0, 5.0, None,
                        datetime.fromisoformat("2025-03-21T12:30:00+02:00")),
    ]
    with archive.database.connect(autocommit=True) as connection:
        for beat in beats:
            heartbeats.record(connection, beat)
    try:
        body = m.HealthResponse.model_validate(client.get("/api/rag/health").json())
    finally:
        with archive.database.connect(autocommit=True) as connection:
            connection.execute("DELETE FROM worker_heartbeats WHERE worker_id IN ('a', 'b')")
    assert body.worker.last_heartbeat == "2025-03-21T10:30:00+00:00"
    assert body.worker.alive == 1  # a beat just now (row age), b has stopped
