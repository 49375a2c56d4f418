"""`/api/stats`' timeline grouped by local day in PostgreSQL (`local_start_days`) is the
one the per-slot reference (`start_slots` + `adapter.timeline`, one `astimezone` per
15-minute slot) makes, byte for byte, in every kind of time zone the API takes: named
zones across their DST changes (Berlin, New York, Lord Howe's 30 minutes, Chatham's
+12:45), Kolkata's +5:30, fixed offsets, UTC and None (the server's local zone)."""

from __future__ import annotations

import itertools
import os
import time
import uuid
import zoneinfo
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest

from dovos.api.adapter import timeline as per_slot_timeline
from dovos.api.app import create_app
from dovos.api.timeline_days import offset_runs
from dovos.repositories import conversations
from dovos.repositories.conversations import SOURCES, NewConversation
from dovos.repositories.unit_of_work import UnitOfWork

LOCAL_ZONE = "America/New_York"  # the process's zone while tz=None is tested
ZONES: list[tzinfo | None] = [
    None, UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Kolkata"), ZoneInfo("Pacific/Chatham"), ZoneInfo("Australia/Lord_Howe"),
    timezone(timedelta(hours=5, minutes=45)), timezone(timedelta(hours=-3, minutes=-30)),
    timezone(timedelta(hours=14)), timezone(timedelta(hours=-12)),
]
# DST changes in 2024 (UTC): Berlin, New York, Chatham, Lord Howe; Kolkata's midnight and
# the end of August (a month's end, where the zone decides the month).
TRANSITIONS = [
    datetime(2024, 3, 31, 1, tzinfo=UTC), datetime(2024, 10, 27, 1, tzinfo=UTC),
    datetime(2024, 3, 10, 7, tzinfo=UTC), datetime(2024, 11, 3, 6, tzinfo=UTC),
    datetime(2024, 4, 6, 14, tzinfo=UTC), datetime(2024, 9, 28, 14, tzinfo=UTC),
    datetime(2024, 4, 6, 15, tzinfo=UTC), datetime(2024, 10, 5, 15, 30, tzinfo=UTC),
    datetime(2024, 6, 1, 18, 30, tzinfo=UTC), datetime(2024, 8, 31, 23, tzinfo=UTC),
]


def _around(centre: datetime, hours: int, step: timedelta) -> list[datetime]:
    """Start times from `hours` before `centre` to `hours` after, off the slot grid."""
    first = centre - timedelta(hours=hours) + timedelta(seconds=7, microseconds=250_001)
    return [first + i * step for i in range(int(2 * hours * 3600 / step.total_seconds()))]


ARCHIVES: dict[str, list[datetime]] = {
    # month buckets: every 2024 transition, ±3 h in 7-minute steps
    "months": [t for centre in TRANSITIONS
               for t in _around(centre, 3, timedelta(minutes=7, seconds=13))],
    # day buckets: Berlin's and New York's autumn changes, a week apart, hourly
    "days": _around(datetime(2024, 10, 30, 12, tzinfo=UTC), 96, timedelta(minutes=61)),
    # week buckets: 60 days across Chatham's and Lord Howe's spring, every 5 hours
    "weeks": _around(datetime(2024, 10, 1, tzinfo=UTC), 720, timedelta(hours=5, minutes=1)),
    # 30 days of Berlin's (and New York's) wall clock but 30 days and an hour of real
    # time: day buckets in the named zones, which compare wall-clock times, week buckets
    # for tz=None, which compares instants
    "span_edge": [datetime(2024, 10, 10, 10, tzinfo=UTC), datetime(2024, 11, 9, 11, tzinfo=UTC),
                  datetime(2024, 10, 27, 0, 59, 59, 999_999, tzinfo=UTC)],
    # before and after the epoch (slots before 1970 round down too)
    "epoch": [datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),
              datetime(1969, 12, 31, 23, 44, 59, tzinfo=UTC),
              datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC), datetime(1970, 1, 20, tzinfo=UTC)],
    "empty": [],
}


@pytest.fixture
def local_zone() -> Iterator[None]:
    """The process's local time zone (what tz=None means) set to LOCAL_ZONE."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = LOCAL_ZONE
    time.tzset()
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


def _store(database, starts: list[datetime]) -> None:  # type: ignore[no-untyped-def]
    rows = [NewConversation(id=uuid.uuid4(), title=f"c{i}", source=SOURCES[i % len(SOURCES)],
                            source_id=f"st-{i}", created_at=start, metadata_json="{}")
            for i, start in enumerate(starts)]
    with database.connect() as connection:
        conversations.copy_new(connection, rows)
        connection.commit()


@pytest.mark.parametrize("archive", list(ARCHIVES))
def test_grouped_timeline_is_the_per_slot_one(database, local_zone, archive: str) -> None:  # type: ignore[no-untyped-def]
    _store(database, ARCHIVES[archive])
    with UnitOfWork(database) as uow:
        slots = conversations.start_slots(uow.connection)
    bodies = {}
    for tz in ZONES:
        stats = create_app(database=database, tz=tz).state.adapter.stats()
        reference = stats.model_copy(update={"timeline": per_slot_timeline(slots, tz)})
        assert stats.model_dump_json() == reference.model_dump_json(), (archive, tz)
        started = sum(b.chatgpt + b.claude + b.openwebui + b.unknown for b in stats.timeline)
        assert started == len(ARCHIVES[archive])
        bodies[str(tz)] = [b.model_dump_json() for b in stats.timeline]
    if archive != "empty":  # the zone matters: the test would see a wrong offset
        assert len(set(map(tuple, bodies.values()))) > 1
    if archive == "span_edge":
        # None is New York here, whose clocks also fell back (Nov 3): 30 days of its
        # wall clock (31 daily buckets in the named zone), 5 weeks by instant
        assert len(bodies["Europe/Berlin"]) == len(bodies["America/New_York"]) == 31
        assert len(bodies["None"]) == 5


def test_days_do_not_depend_on_the_session_time_zone(database) -> None:  # type: ignore[no-untyped-def]
    _store(database, ARCHIVES["days"])
    berlin = ZoneInfo("Europe/Berlin")
    starts, offsets = offset_runs(berlin, datetime(2024, 10, 26, tzinfo=UTC),
                                  datetime(2024, 11, 4, tzinfo=UTC))
    assert offsets == [timedelta(hours=2), timedelta(hours=1)]
    assert starts[1] == datetime(2024, 10, 27, 1, tzinfo=UTC)  # found to the slot
    found = []
    for session_zone in ("UTC", "America/St_Johns", "Asia/Kathmandu"):
        with database.connect() as connection:
            connection.execute(f"SET TimeZone = '{session_zone}'")
            found.append(conversations.local_start_days(connection, starts, offsets))
    assert found[0] == found[1] == found[2] and len(found[0]) == 10  # a day is split by the change
    with pytest.raises(ValueError, match="one offset per run"), database.connect() as connection:
        conversations.local_start_days(connection, starts, offsets[:1])


def test_no_zone_changes_offset_and_back_within_a_day() -> None:
    """`offset_runs` reads offsets at UTC midnights and only looks inside a day whose two
    midnights differ: no zone in this tz database changes twice within a day (its rules
    after the tables change twice a year)."""
    from zoneinfo import _common  # the TZif reader; no public API lists transitions

    checked = 0
    for key in sorted(zoneinfo.available_timezones()):
        try:
            with _open_tzif(key) as handle:
                indices, times, utcoffsets, *_ = _common.load_data(handle)
        except (OSError, ValueError):
            continue
        changes, previous = [], utcoffsets[0]
        for moment, index in zip(times, indices, strict=True):
            if utcoffsets[index] != previous:
                changes.append(moment)
                previous = utcoffsets[index]
        assert all(b - a >= 86_400 for a, b in itertools.pairwise(changes)), key
        checked += bool(changes)
    assert checked > 300


def _open_tzif(key: str):  # type: ignore[no-untyped-def]
    for root in zoneinfo.TZPATH:
        path = os.path.join(root, key)
        if os.path.isfile(path):
            return open(path, "rb")  # the caller closes it
    from importlib import resources

    return resources.files("tzdata.zoneinfo").joinpath(key).open("rb")
