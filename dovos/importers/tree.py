"""Pick the displayed branch of a message tree (ChatGPT `mapping`, Open WebUI `history`).

Both formats store every regeneration and edit as a sibling node and name the branch
the user last looked at (`current_node`, `history.currentId`). Importing that branch,
and only it, keeps regenerations from appearing as duplicate turns. When the pointer is
missing or names a node that is not there, the most recent leaf stands in for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass
class Branch:
    """Node ids from the root to the selected leaf, and what had to be guessed."""

    node_ids: list[str]
    leaf_count: int
    notes: list[tuple[str, str]] = field(default_factory=list)  # (field, problem)


def select_branch(
    parents: Mapping[str, str | None],
    current: str | None,
    times: Mapping[str, datetime | None],
    *,
    pointer_field: str,
) -> Branch:
    """Walk from `current` (or the most recent leaf) up through `parents` to the root.

    `parents` maps every node id to its parent id (None or an unknown id at the root);
    `times` gives each node's time for choosing a leaf; insertion order breaks ties.
    """
    leaves = _leaves(parents)
    notes: list[tuple[str, str]] = []
    if not parents:
        return Branch([], 0, notes)
    if current is None or current not in parents:
        start = _latest(leaves, times)
        if current is None:
            notes.append((pointer_field, f"missing; took the most recent leaf {start!r}"))
        else:
            notes.append(
                (pointer_field, (f"names {current!r}, which is not in the export; "
                                f"took the most recent leaf {start!r}"))
            )
    else:
        start = current
    return Branch(_path_to_root(start, parents, notes), len(leaves), notes)


def _leaves(parents: Mapping[str, str | None]) -> list[str]:
    has_children = {parent for parent in parents.values() if parent is not None}
    return [node for node in parents if node not in has_children]


def _latest(leaves: list[str], times: Mapping[str, datetime | None]) -> str | None:
    """The leaf with the latest time; among equal (or missing) times, the last listed."""
    if not leaves:
        return None
    return max(enumerate(leaves), key=lambda item: (times.get(item[1]) or _NEVER, item[0]))[1]


def _path_to_root(
    start: str | None, parents: Mapping[str, str | None], notes: list[tuple[str, str]]
) -> list[str]:
    path: list[str] = []
    seen: set[str] = set()
    node = start
    while node is not None and node in parents:
        if node in seen:
            notes.append(("parent", f"node {node!r} is its own ancestor; stopped the walk there"))
            break
        seen.add(node)
        path.append(node)
        node = parents[node]
    path.reverse()
    return path
