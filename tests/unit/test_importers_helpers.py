"""Shared importer helpers: timestamps, branch selection, format detection."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dovos.importers.detect import detect_format
from dovos.importers.errors import Where
from dovos.importers.times import TimestampError, to_datetime
from dovos.importers.tree import select_branch

MOMENT = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


@pytest.mark.parametrize("value", [
    1_700_000_000, 1_700_000_000.0, "1700000000", 1_700_000_000_000,
    1_700_000_000_000_000, 1_700_000_000_000_000_000,
    "2023-11-14T22:13:20Z", "2023-11-14T22:13:20+00:00", "2023-11-14T22:13:20",
    "2023-11-14T23:13:20.000000+01:00",
])
def test_timestamps_in_every_unit_and_format(value: object) -> None:
    assert to_datetime(value) == MOMENT


@pytest.mark.parametrize("value", [None, "", "   "])
def test_null_and_blank_are_no_time(value: object) -> None:
    assert to_datetime(value) is None


@pytest.mark.parametrize("value", [True, [1], float("nan"), "soon", 1e30])
def test_non_timestamps_raise(value: object) -> None:
    with pytest.raises(TimestampError):
        to_datetime(value)


def test_branch_walks_from_current_to_root() -> None:
    parents = {"r": None, "a": "r", "b": "a", "b2": "a", "c": "b"}
    branch = select_branch(parents, "b2", {}, pointer_field="current")
    assert branch.node_ids == ["r", "a", "b2"] and branch.leaf_count == 2 and not branch.notes


def test_branch_without_times_takes_last_listed_leaf() -> None:
    branch = select_branch({"r": None, "x": "r", "y": "r"}, None, {}, pointer_field="current")
    assert branch.node_ids == ["r", "y"]
    assert branch.notes == [("current", "missing; took the most recent leaf 'y'")]


def test_branch_survives_a_cycle() -> None:
    branch = select_branch({"a": "b", "b": "a"}, "a", {}, pointer_field="current")
    assert branch.node_ids == ["b", "a"]
    assert branch.notes[0][0] == "parent"


@pytest.mark.parametrize(("data", "expected"), [
    ([{"mapping": {}}], "chatgpt"),
    ({"mapping": {}, "title": "single"}, "chatgpt"),
    ([{"chat_messages": []}], "claude"),
    ([{"chat": {"history": {"messages": {}}}}], "openwebui"),
    ({"history": {"messages": {}}}, "openwebui"),
    ([], None),
])
def test_detection_by_content(data: object, expected: str | None) -> None:
    assert detect_format(data, Where("x.json")) == expected
