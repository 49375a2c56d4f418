"""Import ids are UUID version 7: unique, and later ids sort after earlier ones."""

from __future__ import annotations

import time
import uuid

from dovos.ingest.ids import uuid7


def test_uuid7_has_version_7_and_the_rfc_variant() -> None:
    made = uuid7()
    assert made.version == 7 and made.variant == uuid.RFC_4122
    assert uuid.UUID(str(made)) == made


def test_uuid7_starts_with_the_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= made.int >> 80 <= after


def test_later_ids_sort_after_earlier_ones_and_all_are_unique() -> None:
    first = [uuid7() for _ in range(10_000)]
    time.sleep(0.002)
    second = [uuid7() for _ in range(10_000)]
    assert len(set(first + second)) == 20_000
    assert max(first) < min(second)  # the btree appends instead of inserting at random
    assert max(str(i) for i in first) < min(str(i) for i in second)  # so do the job keys
