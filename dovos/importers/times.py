"""Timestamps as exports write them: epoch seconds, milliseconds, floats, ISO text or null.

ChatGPT writes float seconds (sometimes null), Claude ISO 8601 with `Z`, Open WebUI
integer seconds in some versions and milliseconds in others. Every importer reads them
through `to_datetime`, so a value is interpreted the same way whatever its source.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from dovos.importers.errors import ParseLog, Where

# Magnitudes above which an epoch number cannot be seconds: 1e11 s is the year 5138, so
# larger values are milliseconds (up to 1e14), microseconds (up to 1e17), nanoseconds.
_EPOCH_UNITS = ((1e17, 1e9), (1e14, 1e6), (1e11, 1e3))


class TimestampError(ValueError):
    """A value that is not a timestamp in any format an export uses."""


def to_datetime(value: object) -> datetime | None:
    """A timezone-aware UTC datetime from an export value; None for null or blank.

    Raises TimestampError for anything else (a list, NaN, an unparseable string).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise TimestampError(f"{value!r} is not a timestamp")
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    if isinstance(value, str):
        return _from_text(value.strip())
    raise TimestampError(f"{type(value).__name__} {value!r:.40} is not a timestamp")


def read_time(value: object, log: ParseLog, where: Where, field_name: str) -> datetime | None:
    """`to_datetime`, but a bad value becomes None with a warning instead of an error."""
    try:
        return to_datetime(value)
    except TimestampError as error:
        log.warning(where, f"{error}; ignored", field_name)
        return None


def _from_epoch(number: float) -> datetime:
    if not math.isfinite(number):
        raise TimestampError(f"{number!r} is not a timestamp")
    for limit, divisor in _EPOCH_UNITS:
        if abs(number) >= limit:
            number /= divisor
            break
    try:
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise TimestampError(f"{number!r} is out of range ({error})") from None


def _from_text(text: str) -> datetime | None:
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        return _from_epoch(number)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise TimestampError(f"{text[:40]!r} is neither a number nor an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
