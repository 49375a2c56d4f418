"""A file written in many batches is still one transaction; imports take turns (the
import lock). Real database, batch limits made small so a few conversations make
many batches."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from export_support import chatgpt_conversation

from dovos.importers import files, import_files, parse_file
from dovos.ingest import ingest_transaction
from dovos.repositories import import_lock


def _export(count: int) -> list[dict[str, Any]]:
    return [chatgpt_conversation(f"c{i}", [f"question {i}", f"answer {i}", f"more {i}"]) for i in range(count)]


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _counts(database: Any) -> tuple[int, int, int]:
    with database.connect() as connection:
        row = connection.execute(
            "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages), "
            "(SELECT count(*) FROM jobs)").fetchone()
    return tuple(row)


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Batches of 6 messages (two conversations); records the size of each batch written."""
    monkeypatch.setattr(files, "BATCH_MESSAGES", 6)
    sizes: list[int] = []
    real = files.batches

    def recorded(*args: Any) -> Any:
        for batch in real(*args):
            sizes.append(len(batch))
            yield batch

    monkeypatch.setattr(files, "batches", recorded)
    return sizes


def test_a_file_of_many_batches_imports_whole_and_reimports_unchanged(
    database: Any, tmp_path: Path, small_batches: list[int]
) -> None:
    path = _write(tmp_path / "export.json", _export(41))
    [result] = import_files([path], database=database, progress=False)
    assert result.ok, result.error
    assert small_batches == [2] * 20 + [1]
    assert (result.conversations, result.messages) == (41, 123)
    assert (result.result.conversations_new, result.result.jobs_enqueued) == (41, 123)
    assert _counts(database) == (41, 123, 123)
    [again] = import_files([path], database=database, progress=False)
    assert again.result.conversations_unchanged == 41 and again.result.jobs_enqueued == 0


def test_a_bad_conversation_after_written_batches_rolls_back_the_whole_file(
    database: Any, tmp_path: Path, small_batches: list[int]
) -> None:
    data = _export(30)
    data[25]["mapping"]["c25-1"]["message"]["author"] = {}
    [result] = import_files([_write(tmp_path / "bad.json", data)], database=database,
                            progress=False)
    assert len(small_batches) == 12  # twelve batches were written before it was found
    assert result.error == (f"{tmp_path / 'bad.json'}: conversation 25 ('c25'), message 1 "
                            "('c25-1'), field 'author.role': is missing")
    assert (result.conversations, result.messages, result.result) == (0, 0, None)
    assert _counts(database) == (0, 0, 0)


def test_a_file_cut_short_after_written_batches_writes_nothing(
    database: Any, tmp_path: Path, small_batches: list[int]
) -> None:
    path = tmp_path / "cut.json"
    path.write_text(json.dumps(_export(30))[:-500])
    [result] = import_files([path], database=database, progress=False)
    assert len(small_batches) >= 10 and not result.ok
    assert "is not valid JSON" in result.error and "truncated?" in result.error
    assert _counts(database) == (0, 0, 0)


def test_a_conversation_repeated_in_a_later_batch_is_stored_once(
    database: Any, tmp_path: Path, small_batches: list[int]
) -> None:
    data = _export(10) + [chatgpt_conversation("c0", ["question 0", "answer 0", "more 0", "new turn"])]
    [result] = import_files([_write(tmp_path / "dup.json", data)], database=database,
                            progress=False)
    assert result.ok and len(small_batches) == 6
    assert any("'c0' appears more than once; kept the last" in w for w in result.warnings)
    assert _counts(database) == (10, 31, 31)  # the last c0 has one more turn


def test_a_second_import_waits_for_the_first_and_finds_it_stored(
    database: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two imports of the same conversations at once: without the lock both would plan
    them as new and the second would fail on the unique key."""
    path = _write(tmp_path / "export.json", _export(5))
    parsed = parse_file(path).conversations
    caplog.set_level(logging.WARNING, logger="dovos.ingest")
    results: list[Any] = []
    with database.connect() as first:
        with ingest_transaction(first) as writer:
            writer.write(parsed)  # written, not yet committed, lock held
            second = threading.Thread(target=lambda: results.extend(
                import_files([path], database=database, progress=False)))
            second.start()
            deadline = time.monotonic() + 30
            while not any("waiting for another import" in r.getMessage()
                          for r in caplog.records) and time.monotonic() < deadline:
                time.sleep(0.05)
            with database.connect() as observer:
                assert import_lock.holders(observer) == [first.info.backend_pid]
            assert second.is_alive()  # still waiting for the lock
        second.join(timeout=60)
    [result] = results
    assert result.ok, result.error
    assert result.result.conversations_unchanged == 5 and result.result.messages_added == 0
    assert _counts(database) == (5, 15, 15)
