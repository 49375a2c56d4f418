"""The import computes search vectors on a second connection and supplies them with
its COPY (migration 0011, `dovos.ingest.search_vectors`): every stored vector must be
exactly what the column's expression gives for the stored content, for real exports
and odd text; other writers get it from the trigger; and a failure on any side (a
malformed conversation, Ctrl-C, either connection lost) rolls the whole file back and
leaves no thread and no second connection behind. Real database, real fixtures."""

from __future__ import annotations

import _thread
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from export_support import chatgpt_conversation

from dovos.importers import ImportInterrupted, files, import_files
from dovos.ingest import ParsedConversation, ParsedMessage, ingest, ingest_transaction
from dovos.ingest import search_vectors as ahead
from dovos.repositories import messages
from tests.tables import TABLES

THREADS = {"dovos-read-ahead"}
EXPRESSION = "to_tsvector('english'::regconfig, left(content, 100000))"
# Rows whose stored vector is not the column's expression over the stored content.
MISMATCHES = f"SELECT count(*) FROM messages WHERE search_vector IS DISTINCT FROM {EXPRESSION}"

ODD_TEXTS = [
    "",  # empty
    "   \t\n  ",  # whitespace only
    "the and of",  # stop words only: an empty vector
    "Ünïcödé naïve café résumé, ÆØÅ æøå, straße STRASSE",
    "中文分词 日本語のテキスト 한국어 텍스트 العربية עברית",
    "emoji 🤖🔥 and a flag 🇳🇴, e\u0301 combining, zero\u200bwidth",
    "quotes 'single' \"double\" it's O'Reilly's back\\slash C:\\path\\to and tab\there",
    "copy escapes \\N \\. \\\\ \r\n crlf | pipes , commas ; {braces} [x]",
    "url https://example.com/a?b=c&d=e#f mail someone@example.org 3.14159 -42 1e10",
    "hyphenated-words state-of-the-art self-supervised x86_64 snake_case CamelCase",
    "repeat " * 20_000,  # many positions of one lexeme (positions cap at 16383)
    ("long " + "word%d " * 3) * 9_000 + " tail beyond the prefix " + "zzyzx " * 10,
    "a" * 3_000,  # one word longer than a lexeme may be (2047 bytes): dropped
]


def _rows(database: Any, sql: str) -> list[tuple[Any, ...]]:
    with database.connect() as connection:
        return connection.execute(sql).fetchall()


def _counts(database: Any) -> tuple[int, int, int]:
    [row] = _rows(database, "SELECT (SELECT count(*) FROM conversations), "
                            "(SELECT count(*) FROM messages), (SELECT count(*) FROM jobs)")
    return row


def _second_connections(database: Any) -> int:
    """Backends of the import's second connection still on the server (a closed
    connection's backend exits asynchronously: wait a little for it)."""
    deadline = time.monotonic() + 5
    while True:
        [(count,)] = _rows(database, "SELECT count(*) FROM pg_stat_activity "
                                     f"WHERE application_name = '{ahead.APPLICATION_NAME}'")
        if count == 0 or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate()} & THREADS


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def supplied(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Small batches, vectors computed ahead; counts new rows written with and without
    a supplied vector, and the batches whose vectors the second thread computed."""
    monkeypatch.setattr(files, "BATCH_MESSAGES", 4)
    monkeypatch.setattr(files, "TSVECTOR_AHEAD", True)
    seen = {"with": 0, "without": 0, "computed_in_thread": 0}
    copy_new, vectors = messages.copy_new, files.batch_vectors

    def counting_copy(connection: Any, rows: Any, on_progress: Any = None) -> None:
        for row in rows:
            seen["with" if row.search_vector is not None else "without"] += 1
        copy_new(connection, rows, on_progress)

    def counting_vectors(connection: Any, batch: Any) -> Any:
        if threading.current_thread().name == "dovos-read-ahead":
            seen["computed_in_thread"] += 1
        return vectors(connection, batch)

    monkeypatch.setattr(messages, "copy_new", counting_copy)
    monkeypatch.setattr(files, "batch_vectors", counting_vectors)
    return seen


def test_real_exports_store_exactly_the_columns_vectors(
    database: Any, exports_dir: Path, supplied: dict[str, int]
) -> None:
    paths = [p for p in sorted(exports_dir.rglob("*.json")) if p.parent.name != "invalid"]
    results = import_files(paths, database=database, progress=False)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    [(stored,)] = _rows(database, "SELECT count(*) FROM messages")
    assert stored > 50 and supplied["with"] == stored and supplied["without"] == 0
    assert supplied["computed_in_thread"] >= len(paths)
    assert _rows(database, MISMATCHES) == [(0,)]
    [(empty,)] = _rows(database, "SELECT count(*) FROM messages WHERE length(search_vector) = 0 "
                                 "AND content ~ '[a-z]{4}'")
    assert empty == 0  # not vacuous: real text got real vectors
    assert not _threads() and _second_connections(database) == 0


def test_odd_text_in_an_export_file_stores_the_columns_vectors(
    database: Any, tmp_path: Path, supplied: dict[str, int]
) -> None:
    """Odd text through the whole import: JSON, cleaning (NUL removed, with a warning),
    COPY escaping of both the content and the vector's text."""
    texts = [t or "x" for t in ODD_TEXTS] + ["a NUL\x00 in the middle", "lone \ud800 surrogate"]
    data = [chatgpt_conversation(f"c{i}", [text, f"answer {i}"]) for i, text in enumerate(texts)]
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    [result] = import_files([path], database=database, progress=False)
    assert result.ok, result.error
    [(stored,)] = _rows(database, "SELECT count(*) FROM messages")
    assert stored >= 2 * len(texts) - 1  # the whitespace-only turn is dropped
    assert supplied["with"] == stored and supplied["without"] == 0
    assert _rows(database, MISMATCHES) == [(0,)]
    [(nul,)] = _rows(database, "SELECT count(*) FROM messages WHERE content LIKE 'a NUL%'")
    assert nul == 1
    assert _rows(database, "SELECT search_vector @@ to_tsquery('english', 'zzyzx') "
                           "FROM messages WHERE content LIKE 'long %'") == [(False,)]


def test_odd_text_written_with_vectors_from_the_second_connection(database: Any) -> None:
    """The writer path itself, empty content included (an importer drops empty turns)."""
    conversation = ParsedConversation(
        source="chatgpt", source_id="odd", title="odd",
        messages=[ParsedMessage(role="user", content=text) for text in ODD_TEXTS])
    with database.connect(autocommit=True) as connection, \
            ahead.second_connection(connection) as second:
        vectors = ahead.batch_vectors(second, [conversation])
        assert set(vectors) == set(ODD_TEXTS)
        with ingest_transaction(connection) as writer:
            writer.vectors = vectors
            writer.write([conversation])
    assert _rows(database, MISMATCHES) == [(0,)]
    stored = dict(_rows(database, "SELECT content, search_vector::text FROM messages"))
    assert stored == vectors  # what was supplied is what is stored, text for text
    assert stored[""] == "" and stored["the and of"] == ""
    assert "'repeat':" in stored["repeat " * 20_000]


def test_other_writers_get_the_vector_from_the_trigger(database: Any) -> None:
    """No vector supplied (ingest() without vectors, plain SQL): the trigger computes it;
    an UPDATE of the content recomputes it, and an UPDATE cannot set a foreign one."""
    ingest_conversation = ParsedConversation(
        source="chatgpt", source_id="t", title="t",
        messages=[ParsedMessage(role="user", content="Gardening tomatoes in July"),
                  ParsedMessage(role="assistant", content="Water them deeply")])
    with database.connect(autocommit=True) as connection:
        ingest(connection, [ingest_conversation])
        connection.execute(
            "INSERT INTO messages (conversation_id, role, content, position) "
            "SELECT id, 'user', 'Pruning the roses', 2 FROM conversations")
        assert connection.execute(MISMATCHES).fetchone() == (0,)
        connection.execute("UPDATE messages SET content = 'Harvesting pumpkins' WHERE position = 0")
        connection.execute("UPDATE messages SET search_vector = 'bogus:1' WHERE position = 1")
        connection.execute("UPDATE messages SET metadata = '{\"k\": 1}' WHERE position = 2")
        assert connection.execute(MISMATCHES).fetchone() == (0,)
        rows = connection.execute(
            "SELECT position, search_vector::text FROM messages ORDER BY position").fetchall()
    assert rows == [(0, "'harvest':1 'pumpkin':2"), (1, "'deepli':3 'water':1"),
                    (2, "'prune':1 'rose':3")]


def test_the_old_path_and_the_new_store_the_same_vectors(
    database: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = [chatgpt_conversation(f"c{i}", [t or "x", f"answer {i}"])
            for i, t in enumerate(ODD_TEXTS)]
    stored = []
    for on in (False, True):
        monkeypatch.setattr(files, "TSVECTOR_AHEAD", on)
        [result] = import_files([_write(tmp_path / f"{on}.json", data)], database=database,
                                progress=False)
        assert result.ok, result.error
        stored.append(_rows(database, "SELECT content, position, search_vector::text "
                                      "FROM messages ORDER BY content, position"))
        with database.connect(autocommit=True) as connection:
            connection.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    assert stored[0] == stored[1] and len(stored[0]) == 2 * len(ODD_TEXTS) - 1  # no blank turn


def _big_export(count: int) -> list[dict[str, Any]]:
    return [chatgpt_conversation(f"c{i}", [f"question {i} about gardens", f"answer {i}"])
            for i in range(count)]


def test_a_malformed_conversation_mid_file_writes_nothing(
    database: Any, tmp_path: Path, supplied: dict[str, int]
) -> None:
    data = _big_export(40)
    data[30]["mapping"]["c30-1"]["message"]["author"] = {}
    [result] = import_files([_write(tmp_path / "bad.json", data)], database=database,
                            progress=False)
    assert result.error and "conversation 30 ('c30')" in result.error
    assert supplied["with"] >= 10  # batches with vectors were written before it
    assert _counts(database) == (0, 0, 0)
    assert not _threads() and _second_connections(database) == 0


def test_ctrl_c_while_vectors_are_computed_writes_nothing(
    database: Any, tmp_path: Path, supplied: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (SIGINT reaches the main thread) sent from the vectors thread mid-file."""
    real = files.batch_vectors  # the fixture's counting one

    def interrupting(connection: Any, batch: Any) -> Any:
        if supplied["computed_in_thread"] == 6:
            _thread.interrupt_main()
        return real(connection, batch)

    monkeypatch.setattr(files, "batch_vectors", interrupting)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(ImportInterrupted) as caught:
            import_files([_write(tmp_path / "stop.json", _big_export(60))], database=database,
                         progress=False)
    finally:
        signal.signal(signal.SIGINT, previous)
    [stopped] = caught.value.results
    assert "interrupted; nothing of this file was written" in stopped.error
    assert supplied["with"] >= 2
    assert _counts(database) == (0, 0, 0)
    assert not _threads() and _second_connections(database) == 0


def _terminate(database: Any, where: str) -> None:
    with database.connect(autocommit=True) as connection:
        [(done,)] = connection.execute(
            f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE {where}"
        ).fetchall()
    assert done == 1


def test_the_second_connection_lost_mid_file_writes_nothing(
    database: Any, tmp_path: Path, supplied: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = files.batch_vectors

    def losing(connection: Any, batch: Any) -> Any:
        if supplied["computed_in_thread"] == 5:
            _terminate(database, f"application_name = '{ahead.APPLICATION_NAME}'")
        return real(connection, batch)

    monkeypatch.setattr(files, "batch_vectors", losing)
    [result] = import_files([_write(tmp_path / "lost2.json", _big_export(60))],
                            database=database, progress=False)
    assert result.error and "nothing" in result.error and "terminat" in result.error
    assert supplied["with"] >= 2
    assert _counts(database) == (0, 0, 0)
    assert not _threads() and _second_connections(database) == 0


def test_the_writing_connection_lost_mid_file_closes_the_second_one(
    database: Any, tmp_path: Path, supplied: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = files.batch_vectors
    with database.connect(autocommit=True) as connection:
        pid = connection.info.backend_pid

        def losing(second: Any, batch: Any) -> Any:
            if supplied["computed_in_thread"] == 5:
                _terminate(database, f"pid = {pid}")
            return real(second, batch)

        monkeypatch.setattr(files, "batch_vectors", losing)
        result = files.import_file(_write(tmp_path / "lost1.json", _big_export(60)), connection)
    assert result.error and "connection was lost" in result.error
    assert _counts(database) == (0, 0, 0)
    assert not _threads() and _second_connections(database) == 0


def test_the_second_connection_is_read_only(database: Any) -> None:
    with database.connect(autocommit=True) as connection, \
            ahead.second_connection(connection) as second, \
            pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        second.execute("CREATE TABLE nope (x int)")


def test_0011_down_restores_the_generated_column_and_up_the_trigger(database: Any) -> None:
    """Downgrade: the generated column again (same vectors, GIN index rebuilt, BM25
    statistics untouched); upgrade: a plain column filled by the trigger."""
    generated = ("SELECT attgenerated FROM pg_attribute WHERE attrelid = 'messages'::regclass "
                 "AND attname = 'search_vector'")
    stats = "SELECT * FROM search_corpus_stats"
    conversation = ParsedConversation(
        source="chatgpt", source_id="m", title="m",
        messages=[ParsedMessage(role="user", content=t) for t in ODD_TEXTS[3:9]])
    with database.connect(autocommit=True) as connection:
        ingest(connection, [conversation])
    before = _rows(database, "SELECT id, search_vector::text FROM messages ORDER BY id")
    stats_before = _rows(database, stats)
    assert _rows(database, generated) == [("",)]
    try:
        database.downgrade("0010")
        assert _rows(database, generated) == [("s",)]
        assert _rows(database, "SELECT id, search_vector::text FROM messages ORDER BY id") == before
        assert _rows(database, "SELECT count(*) FROM pg_indexes "
                               "WHERE indexname = 'messages_search_vector_idx'") == [(1,)]
        assert _rows(database, stats) == stats_before
    finally:
        database.migrate("head")
    assert _rows(database, generated) == [("",)]
    assert _rows(database, "SELECT tgname FROM pg_trigger WHERE tgrelid = 'messages'::regclass "
                           "AND tgname LIKE 'messages_search_vector%' ORDER BY 1") == [
        ("messages_search_vector_insert",), ("messages_search_vector_update",)]
    assert _rows(database, "SELECT id, search_vector::text FROM messages ORDER BY id") == before
