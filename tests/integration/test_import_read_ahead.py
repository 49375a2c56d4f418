"""The import parses the next batch in a thread while it writes the current one: a
failure on either side still rolls the whole file back and leaves no thread running.
Real database; batch limits made small so a few conversations make many batches."""

from __future__ import annotations

import _thread
import json
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from export_support import chatgpt_conversation

from dovos.importers import ImportInterrupted, files, import_files
from dovos.ingest import IngestWriter

THREAD = "dovos-read-ahead"


def _export(count: int) -> list[dict[str, Any]]:
    return [chatgpt_conversation(f"c{i}", [f"question {i}", f"answer {i}"]) for i in range(count)]


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _counts(database: Any) -> tuple[int, int, int]:
    with database.connect() as connection:
        return tuple(connection.execute(
            "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages), "
            "(SELECT count(*) FROM jobs)").fetchone())


def _read_ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD]


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Batches of 4 messages, parsed one ahead; records each batch's size as written,
    and which thread parsed it (the read-ahead one, not the writer's)."""
    monkeypatch.setattr(files, "BATCH_MESSAGES", 4)
    monkeypatch.setattr(files, "PARSE_AHEAD", 1)
    sizes: list[int] = []
    real = IngestWriter.write

    def write(self: IngestWriter, batch: Any) -> None:
        real(self, batch)
        sizes.append(len(batch))

    monkeypatch.setattr(IngestWriter, "write", write)
    return sizes


def test_batches_are_parsed_in_the_read_ahead_thread_and_all_written(
    database: Any, tmp_path: Path, written: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed_in: set[str] = set()
    real = files.batches

    def batches(*args: Any) -> Any:
        for batch in real(*args):
            parsed_in.add(threading.current_thread().name)
            yield batch

    monkeypatch.setattr(files, "batches", batches)
    [result] = import_files([_write(tmp_path / "ok.json", _export(21))], database=database,
                            progress=False)
    assert result.ok, result.error
    assert parsed_in == {THREAD} and written == [2] * 10 + [1]
    assert _counts(database) == (21, 42, 42)
    assert not _read_ahead_threads()


def test_a_malformed_conversation_mid_file_writes_nothing(
    database: Any, tmp_path: Path, written: list[int]
) -> None:
    data = _export(20)
    data[15]["mapping"]["c15-1"]["message"]["author"] = {}
    [result] = import_files([_write(tmp_path / "bad.json", data)], database=database,
                            progress=False)
    assert len(written) >= 6  # batches were written before the parser reached it
    assert result.error == (f"{tmp_path / 'bad.json'}: conversation 15 ('c15'), message 1 "
                            "('c15-1'), field 'author.role': is missing")
    assert _counts(database) == (0, 0, 0)
    assert not _read_ahead_threads()


def test_ctrl_c_while_batches_are_written_and_parsed_writes_nothing(
    database: Any, tmp_path: Path, written: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (SIGINT reaches the main thread, wherever it is) sent from the parsing
    thread once a few batches are written: the file rolls back, the thread is gone."""
    real = files.batches

    def batches(*args: Any) -> Any:
        for number, batch in enumerate(real(*args)):
            if number == 5:
                _thread.interrupt_main()
            yield batch

    monkeypatch.setattr(files, "batches", batches)
    # Ctrl-C must raise KeyboardInterrupt, whatever SIGINT handler an earlier test left.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(ImportInterrupted) as caught:
            import_files([_write(tmp_path / "stop.json", _export(40))], database=database,
                         progress=False)
    finally:
        signal.signal(signal.SIGINT, previous)
    [stopped] = caught.value.results
    assert "interrupted; nothing of this file was written" in stopped.error
    assert len(written) >= 2  # it came after batches were written
    assert _counts(database) == (0, 0, 0)
    assert not _read_ahead_threads()


def test_a_write_error_mid_file_stops_the_parser_and_writes_nothing(
    database: Any, tmp_path: Path, written: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = IngestWriter.write  # the fixture's recording write

    def failing(self: IngestWriter, batch: Any) -> None:
        if len(written) == 3:
            raise RuntimeError("disk full")
        real(self, batch)

    monkeypatch.setattr(IngestWriter, "write", failing)
    [result] = import_files([_write(tmp_path / "fail.json", _export(200))],
                            database=database, progress=False)
    assert result.error and "disk full" in result.error
    assert _counts(database) == (0, 0, 0)
    assert not _read_ahead_threads()
