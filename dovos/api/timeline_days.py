"""The stats timeline from starts per local day: the time zone's offsets over the archive's
span, worked out in Python, so PostgreSQL can group conversations by local day.

Grouping by 15-minute slot (every real UTC offset is a multiple of 15 minutes) and
converting each slot in Python cost one row and one `astimezone` per slot, about one per
conversation: 1.3 s at 50,000 conversations. The offset of a zone only changes at its
transitions, a few a year, so Python sends PostgreSQL the runs of constant offset (found
with the API's own `tzinfo`, so the days are the ones `astimezone` gives) and PostgreSQL
sends back one row per local day.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo

from dovos.api import formatting as fmt
from dovos.api import models as m
from dovos.repositories.conversations import SLOT_SECONDS, SOURCES, LocalStartDay

DAY = timedelta(days=1)
SLOT = timedelta(seconds=SLOT_SECONDS)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_offset(instant: datetime, tz: tzinfo | None) -> timedelta:
    """The offset of `tz` (None: the server's local zone) at `instant`, as
    `datetime.astimezone` applies it."""
    offset = instant.astimezone(tz).utcoffset()
    assert offset is not None  # astimezone always gives an aware datetime
    return offset


def offset_runs(tz: tzinfo | None, earliest: datetime, latest: datetime
                ) -> tuple[list[datetime], list[timedelta]]:
    """Runs of constant offset of `tz` on the 15-minute slot grid, covering every slot from
    `earliest`'s UTC day to `latest`'s: (each run's first slot, its offset).

    The offset is read at every UTC midnight of the span, and at every slot of a day
    whose two midnights differ. Assumed: no zone changes its offset and back within one
    UTC day (tests/integration/test_stats_buckets.py checks the zones' transitions).
    """
    first = _utc_midnight(earliest)
    end = _utc_midnight(latest) + DAY
    starts, offsets = [first], [utc_offset(first, tz)]
    previous, midnight = offsets[0], first + DAY
    while midnight <= end:
        current = utc_offset(midnight, tz)
        if current != previous:
            slot = midnight - DAY + SLOT
            while slot <= midnight:
                offset = utc_offset(slot, tz)
                if offset != offsets[-1]:
                    starts.append(slot)
                    offsets.append(offset)
                slot += SLOT
        previous, midnight = current, midnight + DAY
    return starts, offsets


def timeline(days: Sequence[LocalStartDay], offsets: Sequence[timedelta], tz: tzinfo | None
             ) -> list[m.TimelineBucket]:
    """Conversations per bucket and source, every bucket from first to last (gaps = 0):
    what `adapter.timeline` makes of the same conversations' 15-minute slots. `offsets`
    are the runs' offsets the days were grouped with.

    As there, the first and last start decide the bucket size and range; `astimezone(tz)`
    gives all of them the same tzinfo object unless `tz` is None, and Python compares and
    subtracts such datetimes by wall-clock time, the others by instant.
    """
    if not days:
        return []
    shifts = [timedelta(0)] * len(offsets) if tz is None else list(offsets)
    first_day = min(days, key=lambda d: _naive_utc(d.first_slot) + shifts[d.run - 1])
    last_day = max(days, key=lambda d: _naive_utc(d.last_slot) + shifts[d.run - 1])
    first = _naive_utc(first_day.first_slot) + shifts[first_day.run - 1]
    last = _naive_utc(last_day.last_slot) + shifts[last_day.run - 1]
    unit = fmt.bucket_unit(first, last)
    counts: dict[date, Counter[str]] = defaultdict(Counter)
    for day in days:
        bucket = counts[fmt.bucket_start(day.day, unit)]
        for source in SOURCES:
            bucket[source] += getattr(day, source)
    return [
        m.TimelineBucket(date=start.isoformat(), **counts.get(start, {}))
        for start in fmt.bucket_range(first_day.day, last_day.day, unit)
    ]


def _naive_utc(moment: datetime) -> datetime:
    """`moment`'s UTC wall-clock time: compared and subtracted as the instants are."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _utc_midnight(moment: datetime) -> datetime:
    """The UTC midnight at or before `moment` (aware, as the repositories return them)."""
    return _EPOCH + (moment - _EPOCH) // DAY * DAY
