"""Champion lists (migration 0007): each common lexeme's best messages, rebuilt as a batch.

A message's BM25 weight for a lexeme, without the idf (the same for every message
holding it), is `tf (k1 + 1) / (tf + k1 (1 - b + b len / avgdl))`: it depends only on
the lexeme's term frequency in the message and the message's length. For every lexeme
found in more than `min_df` messages, `rebuild` keeps the `depth` messages where it
weighs most. The lexical leg (dovos/search/sql.py) takes its candidates for common
query terms from these lists instead of every message holding them.

`rebuild` runs in one REPEATABLE READ transaction (the caller's; it commits nothing):
searches keep reading the previous lists until it commits, and a process that dies
leaves them as they were. Two passes over the messages' tsvectors, no sort of all
postings: the first counts each common lexeme's messages per weight (a hash aggregate)
and derives the weight its list stops at (`floor`), the second, page range by page
range (tqdm progress), keeps the postings at or above it; ties at the floor are cut
by message id at the end. The watermark is the start of the oldest transaction still
open when the build's snapshot was taken: every message written by a transaction the
build could not see has `updated_at` at or after it, and is found by the search's
full-text path for new messages instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

# A lexeme in more messages than this gets a list; rarer ones are read whole from GIN.
DEFAULT_MIN_DF = 2_000
DEFAULT_DEPTH = 2_000  # messages kept per list
PAGES_PER_STEP = 4_096  # heap pages read by one statement of the second pass

REPEATABLE_READ_SQL = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"

# The first statement of the transaction: it takes the snapshot, and the watermark is
# no later than the start of any transaction open at that moment (this one included).
WATERMARK_SQL = """
SELECT least(now(), min(xact_start)) AS watermark,
       pg_relation_size('messages') / current_setting('block_size')::int AS pages
FROM pg_stat_activity
WHERE xact_start IS NOT NULL AND datname = current_database()
  AND backend_type = 'client backend'
"""

CLEAR_SQL = """
DELETE FROM lexeme_champions;
DELETE FROM lexeme_champion_lists;
"""

# The BM25 weight of one posting `u` of message `m` (tf from its positions, as the
# search scores it), under the corpus's average length `c.avgdl`.
_IMPACT = """(coalesce(array_length(u.positions, 1), 1)::float8 * (%(k1)s + 1.0)
     / (coalesce(array_length(u.positions, 1), 1)
        + %(k1)s * (1.0 - %(b)s + %(b)s * length(m.search_vector) / c.avgdl)))::real"""

_CORPUS = """corpus AS (
    SELECT greatest(total_length::float8 / greatest(doc_count, 1), 1.0) AS avgdl
    FROM search_corpus_stats
)"""

# Pass 1: messages per (lexeme, weight) for the common lexemes; a list's floor is the
# highest weight at which `depth` messages are reached (its lowest weight when fewer).
LISTS_SQL = f"""
WITH {_CORPUS},
common AS (
    SELECT lexeme, doc_count FROM search_lexeme_stats WHERE doc_count > %(min_df)s
),
bins AS (
    SELECT u.lexeme, {_IMPACT} AS impact, count(*) AS n
    FROM messages m CROSS JOIN corpus c, unnest(m.search_vector) AS u
    WHERE u.lexeme IN (SELECT lexeme FROM common)
    GROUP BY 1, 2
),
running AS (
    SELECT lexeme, impact, sum(n) OVER (PARTITION BY lexeme ORDER BY impact DESC) AS reached
    FROM bins
)
INSERT INTO lexeme_champion_lists (lexeme, doc_count, floor)
SELECT r.lexeme, max(s.doc_count),
       coalesce(max(r.impact) FILTER (WHERE r.reached >= %(depth)s), min(r.impact))
FROM running r JOIN common s ON s.lexeme = r.lexeme
GROUP BY r.lexeme
"""

# Pass 2, one page range: the postings of listed lexemes at or above their floor.
ENTRIES_SQL = f"""
WITH {_CORPUS}
INSERT INTO lexeme_champions (lexeme, impact, message_id)
SELECT lexeme, impact, id FROM (
    SELECT u.lexeme, {_IMPACT} AS impact, m.id, l.floor
    FROM messages m CROSS JOIN corpus c, unnest(m.search_vector) AS u
    JOIN lexeme_champion_lists l ON l.lexeme = u.lexeme
    WHERE m.ctid >= format('(%%s,0)', %(first)s::bigint)::tid
      AND m.ctid < format('(%%s,0)', %(last)s::bigint)::tid
) AS p
WHERE impact >= floor
"""

# Ties at the floor: keep `depth` per list, the lowest message ids first.
TRIM_SQL = """
DELETE FROM lexeme_champions c
USING (
    SELECT lexeme, message_id
    FROM (SELECT lexeme, message_id,
                 row_number() OVER (PARTITION BY lexeme ORDER BY impact DESC, message_id) AS rn
          FROM lexeme_champions) AS ranked
    WHERE rn > %(depth)s
) AS extra
WHERE c.lexeme = extra.lexeme AND c.message_id = extra.message_id
"""

STATE_SQL = """
INSERT INTO lexeme_champion_state AS s
    (singleton, watermark, built_at, min_df, depth, k1, b, lists, entries, seconds)
VALUES (true, %(watermark)s, now(), %(min_df)s, %(depth)s, %(k1)s, %(b)s,
        (SELECT count(*) FROM lexeme_champion_lists),
        (SELECT count(*) FROM lexeme_champions), %(seconds)s)
ON CONFLICT (singleton) DO UPDATE SET
    watermark = EXCLUDED.watermark, built_at = EXCLUDED.built_at, min_df = EXCLUDED.min_df,
    depth = EXCLUDED.depth, k1 = EXCLUDED.k1, b = EXCLUDED.b, lists = EXCLUDED.lists,
    entries = EXCLUDED.entries, seconds = EXCLUDED.seconds
RETURNING watermark, built_at, min_df, depth, k1, b, lists, entries, seconds
"""

READ_STATE_SQL = """
SELECT watermark, built_at, min_df, depth, k1, b, lists, entries, seconds
FROM lexeme_champion_state
"""

READ_WATERMARK_SQL = "SELECT watermark FROM lexeme_champion_state"

# The BM25 k1 and b the lists' weights were computed with (a search scoring with other
# values reads lists ordered for them: `dovos db champions` rebuilds them).
READ_LIST_WEIGHTS_SQL = "SELECT ARRAY[k1, b] FROM lexeme_champion_state"

# Drop the lists: searches go back to the full-text candidates.
DROP_STATE_SQL = """
DELETE FROM lexeme_champions;
DELETE FROM lexeme_champion_lists;
DELETE FROM lexeme_champion_state;
"""

SIZE_SQL = """
SELECT pg_total_relation_size('lexeme_champions') + pg_total_relation_size('lexeme_champion_lists')
"""


@dataclass(frozen=True)
class ChampionState:
    """What the last rebuild produced and under which parameters."""

    watermark: datetime  # messages updated at or after it are found through GIN
    built_at: datetime
    min_df: int
    depth: int
    k1: float
    b: float
    lists: int
    entries: int
    seconds: float


def rebuild(conn: psycopg.Connection[Any], *, k1: float, b: float,
            min_df: int = DEFAULT_MIN_DF, depth: int = DEFAULT_DEPTH,
            progress: Any = None) -> ChampionState:
    """Rebuild every list in `conn`'s transaction, which must not have started yet (the
    caller commits). `k1`, `b`: the BM25 parameters searches score with (no default
    here: a list ordered by other ones would not hold the exact top entries).
    `progress`: a tqdm bar, its total set here in heap pages."""
    if min_df < 1 or depth < 1:
        raise ValueError(f"champion lists need min_df >= 1 and depth >= 1 "
                         f"(got min_df={min_df}, depth={depth})")
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("rebuild needs a connection with no transaction open")
    started = time.perf_counter()
    conn.execute(REPEATABLE_READ_SQL)
    watermark, pages = conn.execute(WATERMARK_SQL).fetchone()
    values = {"min_df": min_df, "depth": depth, "k1": k1, "b": b}
    conn.execute(CLEAR_SQL)
    conn.execute(LISTS_SQL, values)
    if progress is not None:
        progress.reset(total=int(pages))
    for first in range(0, int(pages) + 1, PAGES_PER_STEP):
        conn.execute(ENTRIES_SQL, {**values, "first": first, "last": first + PAGES_PER_STEP})
        if progress is not None:
            progress.update(min(PAGES_PER_STEP, max(int(pages) - first, 0)))
    conn.execute(TRIM_SQL, values)
    row = conn.execute(STATE_SQL, {**values, "watermark": watermark,
                                   "seconds": time.perf_counter() - started}).fetchone()
    return ChampionState(*row)


def state(conn: psycopg.Connection[Any]) -> ChampionState | None:
    """The last rebuild's state, or None when no lists were ever built (or dropped)."""
    row = conn.execute(READ_STATE_SQL).fetchone()
    return ChampionState(*row) if row else None


def watermark(conn: psycopg.Connection[Any]) -> datetime | None:
    """The lists' watermark (what a search needs), or None when there are no lists."""
    row = conn.execute(READ_WATERMARK_SQL).fetchone()
    return row[0] if row else None


def drop(conn: psycopg.Connection[Any]) -> None:
    """Remove every list (the caller commits)."""
    conn.execute(DROP_STATE_SQL)


def size_bytes(conn: psycopg.Connection[Any]) -> int:
    """Disk used by the lists and their indexes."""
    return int(conn.execute(SIZE_SQL).fetchone()[0])
