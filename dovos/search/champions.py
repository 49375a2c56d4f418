"""Refresh the lexical leg's champion lists: `dovos db champions`, or `refresh(database)`.

A batch, not part of importing (import speed is an aim of its own): run it after large
imports. Until it runs again, messages written since are found through the full-text
index (dovos.repositories.champions explains the watermark), so searches stay correct
and only their cost grows with what was written since. The weights use the archive's
stored BM25 k1 and b (they only order each list: candidates are scored exactly).
"""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm

from dovos.repositories import champions, settings
from dovos.search import params as params_module
from dovos.search.types import SEARCH_PARAMS_KEY


def refresh(database: Any, *, min_df: int = champions.DEFAULT_MIN_DF,
            depth: int = champions.DEFAULT_DEPTH, progress: bool = True) -> dict[str, Any]:
    """Rebuild every list in one transaction (Ctrl-C leaves the previous lists in place);
    returns what was built, its time and its size on disk."""
    with database.connect() as conn:
        stored = params_module.from_setting(settings.get(conn, SEARCH_PARAMS_KEY))
        conn.commit()
        with tqdm(desc="champion lists", unit="page", disable=not progress) as bar:
            state = champions.rebuild(conn, min_df=min_df, depth=depth,
                                      k1=stored.bm25_k1, b=stored.bm25_b, progress=bar)
        conn.commit()
        size = champions.size_bytes(conn)
    return {"lists": state.lists, "entries": state.entries, "min_df": state.min_df,
            "depth": state.depth, "seconds": round(state.seconds, 1),
            "size_mb": round(size / 1e6, 1), "watermark": state.watermark.isoformat()}


def drop(database: Any) -> None:
    """Remove the lists: searches read every full-text match again (the candidate budget)."""
    with database.connect() as conn:
        champions.drop(conn)
        conn.commit()
