"""Shared by the notebook and report tests: the numbers a results JSON file holds."""

from __future__ import annotations


def numbers_in(value: object) -> list[float]:
    """Every number in a parsed JSON value, nested lists and objects included (booleans
    are not numbers here): a results file with none measured nothing."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in numbers_in(v)]
    if isinstance(value, list):
        return [n for v in value for n in numbers_in(v)]
    return []
