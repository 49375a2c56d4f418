"""Read an export file into JSON values once, turning every failure into a clear error.

An empty file, bytes that are not UTF-8, and JSON that ends early (an export cut off
mid-download) each get a message naming the file and, for JSON, the line and column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dovos.importers.errors import ExportError, ParseLog, Where


def load_json(path: Path, where: Where, log: ParseLog) -> Any:
    """The JSON value in `path` (read once; invalid UTF-8 is replaced with a warning)."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ExportError(where, f"cannot be read: {error.strerror or error}") from None
    if not raw.strip():
        raise ExportError(where, "is empty")
    text = _decode(raw, where, log)
    try:
        return json.loads(text, strict=False)  # strict=False: raw control characters in text
    except json.JSONDecodeError as error:
        raise ExportError(where, _describe(error, text)) from None
    except RecursionError:
        raise ExportError(where, "is not valid JSON: nested too deeply") from None


def _decode(raw: bytes, where: Where, log: ParseLog) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        log.warning(where, f"is not valid UTF-8 (first bad byte at offset {error.start}); "
                        "undecodable bytes were replaced with U+FFFD")
        return raw.decode("utf-8-sig", errors="replace")


def _describe(error: json.JSONDecodeError, text: str) -> str:
    message = f"is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
    if error.msg.startswith("Unterminated string") or error.pos >= len(text.rstrip()) - 1:
        message += " (the file ends before the JSON does: truncated?)"
    return message
