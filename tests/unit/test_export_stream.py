"""The export stream: items handed out as the file is read, same values and errors as
loading it whole, whatever the chunk size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dovos.importers import ExportError, open_export
from dovos.importers.errors import ParseLog, Where
from dovos.importers.files import batches
from dovos.importers.load import ExportStream


def _values(path: Path, chunk_bytes: int) -> Any:
    log = ParseLog()
    with ExportStream(path, Where(str(path)), log, chunk_bytes=chunk_bytes) as stream:
        values = list(stream)
        return (values if stream.is_list else values[0]), log.warnings


def _loaded(path: Path) -> Any:
    return json.loads(path.read_bytes().decode("utf-8-sig"), strict=False)


def _chatgpt(conversation_id: str, text: str) -> dict[str, Any]:
    node = f"{conversation_id}-0"
    return {"id": conversation_id, "title": conversation_id, "current_node": node, "mapping": {
        node: {"id": node, "parent": None, "message": {
            "id": node, "author": {"role": "user"}, "create_time": 1_700_000_000,
            "content": {"content_type": "text", "parts": [text]}}}}}


def test_first_conversation_comes_before_the_file_is_read(tmp_path: Path) -> None:
    """What makes memory flat: a 6 MB export hands out its first conversation after
    reading one 1 MiB chunk, not the file."""
    path = tmp_path / "big.json"
    path.write_text(json.dumps([_chatgpt(f"c{i}", "word " * 1_000) for i in range(1_200)]))
    read: list[int] = []
    with open_export(path, on_read=read.append) as export:
        first = next(export.conversations)
        assert first.source_id == "c0" and sum(read) <= 1 << 20 < path.stat().st_size
        rest = list(export.conversations)
    assert len(rest) == 1_199 and sum(read) == path.stat().st_size


@pytest.mark.parametrize("chunk_bytes", [1, 5, 64, 1 << 20])
def test_values_equal_json_loads_at_any_chunk_size(tmp_path: Path, chunk_bytes: int) -> None:
    path = tmp_path / "export.json"
    # escapes, a lone surrogate, raw control characters, multi-byte text split anywhere,
    # numbers cut by a chunk boundary, nested lists, a byte order mark
    items = ['{"a": "caf\u00e9 \\u00e9 \\ud83d\\ude00 \\ud800 lone", "n": 123456789}',
             '{"b": "raw\tcontrol\x01char", "x": [1.5e3, NaN, null, true, [[], {}]]}',
             '12345678', '"\U0001f600 emoji"']
    path.write_bytes(b"\xef\xbb\xbf [\n" + ",\n".join(items).encode() + b"\n]\n")
    assert _values(path, chunk_bytes) == (_loaded(path), [])


@pytest.mark.parametrize("text", [
    '[{"a": 1}, {"b": "cut',         # ends inside a string
    '[{"a": 1}, {"b": 2}',           # ends before the closing bracket
    '[\n{"a": 1},\n\n {"b": ]\n]',   # invalid on line 4
    '[{"a": 1} {"b": 2}]',           # missing comma
    '[{"a": 1}] trailing',           # data after the array
])
@pytest.mark.parametrize("chunk_bytes", [1, 4, 1 << 20])
def test_errors_name_the_same_line_and_column_as_json_loads(
    tmp_path: Path, text: str, chunk_bytes: int
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(json.JSONDecodeError) as expected:
        _loaded(path)
    with pytest.raises(ExportError) as caught:
        _values(path, chunk_bytes)
    error = expected.value
    assert f"is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})" \
        in str(caught.value)


def test_a_cut_file_says_truncated(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text(json.dumps([_chatgpt(f"c{i}", "text") for i in range(50)])[:-300])
    with pytest.raises(ExportError, match=r"truncated\?"):
        _values(path, 64)


def test_invalid_utf8_across_chunks_is_replaced_once_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'[{"a": "caf\xe9"}, {"b": "na\xefve \xc3\xa9"}]')
    values, warnings = _values(path, 3)
    assert values == [{"a": "caf\ufffd"}, {"b": "na\ufffdve \u00e9"}]
    assert warnings == [(f"{path}: is not valid UTF-8 (first bad byte at offset 11); "
                         "undecodable bytes were replaced with U+FFFD")]


def test_a_top_level_object_is_one_value(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps(_chatgpt("solo", "hello")))
    with open_export(path) as export:
        assert export.format == "chatgpt"
        assert [c.source_id for c in export.conversations] == ["solo"]


def test_a_bad_conversation_late_in_the_file_names_its_index(tmp_path: Path) -> None:
    path = tmp_path / "late.json"
    data = [_chatgpt(f"c{i}", "fine") for i in range(300)]
    del data[250]["mapping"]
    path.write_text(json.dumps(data))
    with open_export(path) as export, pytest.raises(ExportError) as caught:
        list(export.conversations)
    assert str(caught.value) == f"{path}: conversation 250 ('c250'), field 'mapping': is missing"


def test_batches_are_bounded_by_messages_and_characters(tmp_path: Path) -> None:
    from dovos.importers.parsed import ParsedConversation, ParsedMessage

    def conversation(n: int, chars: int) -> ParsedConversation:
        return ParsedConversation("chatgpt", f"c{n}", "t",
                                  [ParsedMessage("user", "x" * chars) for _ in range(3)])

    sizes = [[len(b) for b in batches([conversation(n, 10) for n in range(10)], 7, 10**6)],
             [len(b) for b in batches([conversation(n, 100) for n in range(10)], 10**6, 500)]]
    assert sizes == [[3, 3, 3, 1], [2, 2, 2, 2, 2]]
