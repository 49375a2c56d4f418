"""Read an export file's JSON a chunk at a time, turning every failure into a clear error.

Exports are one JSON array of conversations, and heavy users' reach a gigabyte. An
`ExportStream` decodes the file in chunks (`CHUNK_BYTES`) and hands out each top-level
item as soon as it is complete, so memory holds a chunk and one conversation, never the
file. Each item is parsed by the standard library's decoder (`JSONDecoder.raw_decode`,
the C scanner behind `json.loads`), so the stream accepts exactly what loading the
whole file did: raw control characters inside strings (`strict=False`: exports hold
them), lone UTF-16 surrogate escapes (kept, then repaired with a warning by
`importers.text`), NaN; and its errors read the same. A streaming parser such as
ijson's yajl backend differs on each of these: it turns a lone `\\ud800` into `?`, fails
on `\\udc00` and on raw control characters, and gives no line or column. A top level
that is not an array (one conversation object) is read whole.

An empty file, bytes that are not UTF-8 (replaced, with one warning), and JSON that is
invalid or ends early (an export cut off mid-download) each get a message naming the
file and, for JSON, the line and column in the whole file.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from dovos.importers.errors import ExportError, ParseLog, Where

CHUNK_BYTES = 1 << 20  # bytes read at a time; an item longer than this reads on
_NEAR_END = 16  # a decode error this close to the end of the text read may be a cut item
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder(strict=False)  # strict=False: raw control characters in text


class ExportStream:
    """The top-level JSON values of one export file, read incrementally.

        with ExportStream(path, where, log) as stream:
            stream.is_list        # True for a top-level array
            for value in stream:  # its items one by one (or the one value)
                ...

    `on_read(n)` is called with the number of bytes each time more of the file is read
    (a progress bar over the file's size).
    """

    def __init__(
        self,
        path: Path,
        where: Where,
        log: ParseLog,
        on_read: Callable[[int], None] | None = None,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        try:
            self._file = path.open("rb")
        except OSError as error:
            raise ExportError(where, f"cannot be read: {error.strerror or error}") from None
        self.where, self.log, self.on_read, self.chunk_bytes = where, log, on_read, chunk_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._text = ""  # decoded text not yet discarded
        self._pos = 0  # index in _text of the next character to parse
        self._lines = 0  # newlines in the text discarded before _text
        self._column = 0  # characters after the last discarded newline
        self._bytes = 0  # bytes read so far
        self._eof = False
        self._started = False  # any text decoded yet (a byte order mark may start it)
        try:
            self.is_list = self._start()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def __iter__(self) -> Iterator[Any]:
        if not self.is_list:
            yield self._whole()
            return
        if self._next_char() == "]":
            self._pos += 1
        else:
            while True:
                yield self._value()
                separator = self._next_char(expecting="Expecting ',' delimiter")
                self._pos += 1
                if separator == "]":
                    break
                if separator != ",":
                    raise self._error("Expecting ',' delimiter", self._pos - 1)
        self._expect_end()

    # -- reading -----------------------------------------------------------------------
    def _start(self) -> bool:
        """Skip leading whitespace (and a BOM); True when the top level is an array."""
        first = self._next_char(empty_ok=True)
        if first == "":
            raise ExportError(self.where, "is empty")
        if first == "[":
            self._pos += 1
            return True
        return False

    def _read(self, size: int) -> None:
        """Append up to `size` more bytes of the file, decoded, to the text."""
        raw = self._file.read(size)
        self._bytes += len(raw)
        if self.on_read is not None and raw:
            self.on_read(len(raw))
        if not raw:
            self._eof = True
        text = self._decode(raw, final=not raw)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")  # a byte order mark, as utf-8-sig reads it
        self._discard_parsed()
        self._text += text

    def _decode(self, raw: bytes, final: bool) -> str:
        try:
            return self._decoder.decode(raw, final)
        except UnicodeDecodeError as error:
            pending = self._decoder.getstate()[0]
            offset = self._bytes - len(raw) - len(pending) + error.start
            self.log.warning(self.where, f"is not valid UTF-8 (first bad byte at offset "
                                         f"{offset}); undecodable bytes were replaced with U+FFFD")
            self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
            return self._decoder.decode(pending + raw, final)

    def _discard_parsed(self) -> None:
        """Drop the text before the parse position, counting its lines for messages."""
        if not self._pos:
            return
        done = self._text[: self._pos]
        newlines = done.count("\n")
        if newlines:
            self._lines += newlines
            self._column = len(done) - done.rfind("\n") - 1
        else:
            self._column += len(done)
        self._text, self._pos = self._text[self._pos :], 0

    def _next_char(self, empty_ok: bool = False, expecting: str = "Expecting value") -> str:
        """The next non-whitespace character (not consumed); "" at the end of the file
        when `empty_ok`, else the error `expecting` names what was missing."""
        while True:
            self._pos = _WHITESPACE.match(self._text, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._text):
                return self._text[self._pos]
            if self._eof:
                if empty_ok:
                    return ""
                raise self._error(expecting, self._pos)
            self._read(self.chunk_bytes)

    def _value(self) -> Any:
        """The JSON value at the parse position, reading on while it is incomplete."""
        self._next_char()
        want = self.chunk_bytes
        while True:
            try:
                value, end = _DECODER.raw_decode(self._text, self._pos)
            except json.JSONDecodeError as error:
                if self._eof or not self._maybe_cut(error):
                    raise self._error(error.msg, error.pos) from None
            except RecursionError:
                raise ExportError(self.where, "is not valid JSON: nested too deeply") from None
            else:
                if end < len(self._text) or self._eof:  # a number at the end might go on
                    self._pos = end
                    return value
            self._read(want)
            want *= 2  # a long item is re-parsed from its start: grow to stay linear

    def _maybe_cut(self, error: json.JSONDecodeError) -> bool:
        """Whether a decode error may only mean the item continues past the text read."""
        return (error.pos >= len(self._text) - _NEAR_END
                or error.msg.startswith("Unterminated string"))

    def _whole(self) -> Any:
        """The one top-level value of a file that is not an array."""
        while not self._eof:
            self._read(self.chunk_bytes)
        value = self._value()
        self._expect_end()
        return value

    def _expect_end(self) -> None:
        if self._next_char(empty_ok=True) != "":
            raise self._error("Extra data", self._pos)

    # -- errors ------------------------------------------------------------------------
    def _error(self, problem: str, pos: int) -> ExportError:
        """`is not valid JSON: ... (line L, column C)` for a position in the text."""
        text = self._text
        line = self._lines + text.count("\n", 0, pos) + 1
        newline = text.rfind("\n", 0, pos)
        column = pos - newline if newline >= 0 else self._column + pos + 1
        message = f"is not valid JSON: {problem} (line {line}, column {column})"
        if self._eof and (problem.startswith("Unterminated string")
                          or pos >= len(text.rstrip()) - 1):
            message += " (the file ends before the JSON does: truncated?)"
        return ExportError(self.where, message)


def load_json(path: Path, where: Where, log: ParseLog) -> Any:
    """The whole JSON value in `path` (a list for an array), for callers that want it all."""
    with ExportStream(path, where, log) as stream:
        values = list(stream)
        return values if stream.is_list else values[0]
