"""Legacy timestamps: naive local times of the indexing machine, or UTC wall times.

Legacy Dovos wrote ChatGPT times with `datetime.fromtimestamp` (naive, in the zone of
the machine that indexed them) and docx dates the same way, while Claude times are the
wall time of the export's UTC string. Only the user knows the zone of that machine, so
it is an option; by default the zone of this machine, which is right when the store is
imported where it was built.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class LegacyTimezoneError(ValueError):
    """The time zone option names no zone this machine knows."""


class LegacyClock:
    """Turns the texts legacy wrote into aware UTC datetimes."""

    def __init__(self, timezone: str | None = None) -> None:
        if timezone:
            try:
                self.zone: ZoneInfo | None = ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise LegacyTimezoneError(
                    f"time zone {timezone!r} is unknown (expected an IANA name such as "
                    "'America/Chicago' or 'UTC')"
                ) from None
            self.name = timezone
        else:
            self.zone, self.name = _local_zone()

    def local(self, naive: datetime) -> datetime:
        """A naive local time of the legacy machine, as UTC."""
        if naive.tzinfo is not None:
            return naive.astimezone(UTC)
        if self.zone is None:  # the C library's local rules (DST included)
            return naive.astimezone().astimezone(UTC)
        return naive.replace(tzinfo=self.zone).astimezone(UTC)

    def parse(self, text: str, naive_is_utc: bool) -> datetime | None:
        """A header time or ISO string; None when it is not a time at all."""
        try:
            value = datetime.fromisoformat(text.strip())
        except ValueError:
            return None
        if value.tzinfo is not None:
            return value.astimezone(UTC)
        return value.replace(tzinfo=UTC) if naive_is_utc else self.local(value)


def _local_zone() -> tuple[ZoneInfo | None, str]:
    """This machine's zone by IANA name when it can be found ($TZ, /etc/localtime)."""
    candidates = [os.environ.get("TZ", "").removeprefix(":")]
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():
        target = str(localtime.resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    for name in filter(None, candidates):
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError):
            continue
    offset = datetime.now().astimezone().strftime("%z")
    return None, f"local ({datetime.now().astimezone().tzname()}, UTC{offset} now)"
