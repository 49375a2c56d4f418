"""The ranking SQL: each leg, their fusion, and the filters, as one statement per search.

Statements are assembled from the fixed fragments below only (which legs, which
fusion, which filters are present); every value, and every word of the user's query,
travels as a bind parameter. The hybrid statement runs both legs as CTEs, ranks them,
joins them with a FULL OUTER JOIN and fuses them (RRF or a weighted sum of min-max
normalised scores, as `ranx.fuse` computes them), ties broken by message id so runs
are reproducible.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dovos.repositories.champions import READ_LIST_WEIGHTS_SQL, READ_WATERMARK_SQL
from dovos.search.types import SearchFilters, SearchParams

# At most this many vocabulary corrections are searched for a query's unknown words.
FUZZY_CORRECTIONS = 8

# Lexical leg ---------------------------------------------------------------------------
# Query words -> lexemes with BM25 idf (Lucene's form, never negative) from the
# statistics the 0002 migration keeps current; `df = 0` marks words the archive never
# saw, which are the ones typo tolerance looks for.
TERMS_CTE = """
words AS (
    SELECT DISTINCT w.word
    FROM unnest(%(words)s::text[]) AS w(word)
),
word_lexemes AS (
    SELECT w.word, t.lexeme
    FROM words w, unnest(tsvector_to_array(to_tsvector('english'::regconfig, w.word))) AS t(lexeme)
),
corpus AS (
    SELECT greatest(doc_count, 1)::float8 AS n,
           greatest(total_length::float8 / greatest(doc_count, 1), 1.0) AS avgdl
    FROM search_corpus_stats
),
terms AS (
    SELECT l.lexeme,
           coalesce(s.doc_count, 0) AS df,
           ln(1.0 + (c.n - coalesce(s.doc_count, 0) + 0.5) / (coalesce(s.doc_count, 0) + 0.5))
               AS idf
    FROM (SELECT DISTINCT lexeme FROM word_lexemes) AS l
    CROSS JOIN corpus c
    LEFT JOIN search_lexeme_stats s ON s.lexeme = l.lexeme
),
tsq AS (
    SELECT to_tsquery('english'::regconfig, %(tsquery)s) AS query
),
-- Candidate generation skips terms found in more than `common_term_share` of the
-- messages (and in more than `common_term_min_docs`, so small archives are untouched)
-- when the query has rarer ones: a message holding only such a term ranks
-- low anyway, and matching it would make BM25 score a quarter of the archive. The
-- common terms still score every candidate that holds them. Lexemes are letters and
-- digits only (query.py), so quoting them as tsquery operands is exact.
-- Candidate budget (lexical_budget > 0): of those terms, the rarest are kept while their
-- document frequencies sum to at most the budget, so the candidate set stops growing
-- with the archive; when none fits and all the query's terms together exceed the
-- budget, the seed is the AND of its known terms (`fts_candidates` then caps the rows
-- read). Within the budget nothing changes; budget 0: every seed term, always.
-- Champion lists (champion_depth > 0, bound 0 without lists, with filters or budget 0):
-- the query's terms that have a list seed from it (BM25_FTS_CTE), the others as above;
-- with no such term nothing changes. As above, terms past the common share seed only
-- when the query has no rarer term.
champion_terms AS (
    SELECT t.lexeme, t.idf, l.floor
    FROM terms t JOIN lexeme_champion_lists l ON l.lexeme = t.lexeme CROSS JOIN corpus c
    WHERE %(champion_depth)s > 0
      AND (t.df <= greatest(%(common_term_share)s * c.n, %(common_term_min_docs)s)
           OR NOT EXISTS (SELECT 1 FROM terms r
                          WHERE r.df > 0
                            AND r.df <= greatest(%(common_term_share)s * c.n,
                                                 %(common_term_min_docs)s)))
),
seed_terms AS (
    SELECT t.lexeme, t.df, sum(t.df) OVER (ORDER BY t.df, t.lexeme) AS running_df
    FROM terms t, corpus c
    WHERE t.df > 0
      AND t.df <= greatest(%(common_term_share)s * c.n, %(common_term_min_docs)s)
      AND t.lexeme NOT IN (SELECT lexeme FROM champion_terms)
),
seed AS (
    SELECT CASE WHEN EXISTS (SELECT 1 FROM champion_terms)
        THEN (SELECT string_agg(quote_literal(s.lexeme), ' | ')::tsquery
              FROM seed_terms s WHERE s.running_df <= %(lexical_budget)s)
        ELSE coalesce(
        (SELECT string_agg(quote_literal(s.lexeme), ' | ')::tsquery
         FROM seed_terms s
         WHERE %(lexical_budget)s = 0 OR s.running_df <= %(lexical_budget)s),
        CASE WHEN %(lexical_budget)s > 0
                  AND (SELECT sum(t.df) FROM terms t) > %(lexical_budget)s
             THEN (SELECT string_agg(quote_literal(t.lexeme), ' & ')::tsquery
                   FROM terms t WHERE t.df > 0) END,
        tsq.query) END AS query
    FROM tsq
)"""

# Candidates: the seed's full-text matches, or, when some query terms have champion lists
# (TERMS_CTE), the `champion_candidates` best messages of their lists' first
# `champion_depth` entries (by the sum of idf x list weight: messages in several lists
# rise; `champion_floor_weight` w subtracts w x each list's floor, i.e. counts w x floor
# for a list a message is missing from: 1 = its upper bound when the whole list is read,
# measured at 1M to change little, docs/search.md), the rarer terms' full-text matches,
# and every match among the messages written since the lists were built (`updated_at`
# at or after the watermark, a literal put in
# by `bind_watermark`: the BRIN index of migration 0007 finds them). All are scored
# exactly below, from their live tsvectors: stale list entries cost nothing. They must
# still match the query: `ts_match_vq` is `@@` as a function, which the planner cannot
# answer from the GIN index, so it looks the few candidates up by id instead of reading
# every posting of the query's common terms.
# BM25 over the full-text matches. Only the query's lexemes are unnested from each
# message (setweight marks them, ts_filter keeps them): half the cost of unnesting the
# whole tsvector. Document length is the number of distinct lexemes. A champion
# candidate's tsvector is detoasted once (`|| ''`, in a LATERAL kept apart by OFFSET 0),
# not by each of ts_match_vq, length and setweight; each lexeme's idf is read from an
# array (`query_lexemes.idfs`) instead of a hash join on `terms` built per candidate.
# Same candidates, same scores (issue 16: 8% less statement time at 100k, same run).
BM25_FTS_CTE = """
query_lexemes AS (
    SELECT coalesce(array_agg(lexeme ORDER BY lexeme), '{{}}') AS lexemes,
           coalesce(array_agg(idf ORDER BY lexeme), '{{}}') AS idfs
    FROM terms
),
champion_hits AS (
    SELECT c.message_id AS id
    FROM champion_terms ct
    CROSS JOIN LATERAL (
        SELECT l.message_id, l.impact FROM lexeme_champions l
        WHERE l.lexeme = ct.lexeme
        ORDER BY l.impact DESC
        LIMIT %(champion_depth)s) AS c
    GROUP BY c.message_id
    ORDER BY sum(ct.idf * (c.impact - %(champion_floor_weight)s * ct.floor)) DESC, c.message_id
    LIMIT %(champion_candidates)s
),
champion_ids AS (
    SELECT id FROM champion_hits
    UNION
    SELECT m.id FROM messages m CROSS JOIN seed WHERE m.search_vector @@ seed.query
    UNION
    SELECT m.id FROM messages m CROSS JOIN tsq
    WHERE m.updated_at >= __WATERMARK__ AND m.search_vector @@ tsq.query
),
fts_candidates AS (
    (SELECT m.id, m.conversation_id, m.position, m.search_vector
     FROM messages m {join_conversations}
     CROSS JOIN tsq CROSS JOIN seed
     WHERE NOT EXISTS (SELECT 1 FROM champion_terms)
       AND m.search_vector @@ tsq.query AND m.search_vector @@ seed.query {filters}
     LIMIT %(candidate_cap)s)
    UNION ALL
    SELECT m.id, m.conversation_id, m.position, v.search_vector
    FROM champion_ids ci JOIN messages m ON m.id = ci.id {join_conversations}
    CROSS JOIN tsq
    CROSS JOIN LATERAL (SELECT m.search_vector || ''::tsvector AS search_vector OFFSET 0) AS v
    WHERE EXISTS (SELECT 1 FROM champion_terms)
      AND ts_match_vq(v.search_vector, tsq.query) {filters}
),
fts AS (
    SELECT m.id, m.conversation_id, m.position,
           (SELECT sum(ql.idfs[array_position(ql.lexemes, u.lexeme)] * tf.n * (%(k1)s + 1.0)
                       / (tf.n + %(k1)s * (1.0 - %(b)s + %(b)s * length(m.search_vector) / cs.avgdl)))
            FROM unnest(ts_filter(setweight(m.search_vector, 'A', ql.lexemes), '{{a}}')) AS u
            CROSS JOIN LATERAL (SELECT coalesce(array_length(u.positions, 1), 1)::float8 AS n) AS tf
           ) AS score
    FROM fts_candidates m CROSS JOIN corpus cs CROSS JOIN query_lexemes ql
    ORDER BY score DESC, m.id
    LIMIT %(pool)s
)"""

TS_RANK_CD_FTS_CTE = """
fts AS (
    SELECT m.id, m.conversation_id, m.position,
           ts_rank_cd(m.search_vector, tsq.query)::float8 AS score
    FROM messages m {join_conversations}
    CROSS JOIN tsq
    WHERE m.search_vector @@ tsq.query {filters}
    ORDER BY score DESC, m.id
    LIMIT %(pool)s
)"""

# Turn context: a message also scores `context_weight` times the BM25 of the message
# before it in its conversation (an answer rarely repeats the words of the question it
# answers), so the turn after a matching one becomes a candidate too.
CONTEXT_CTE = """
fts_context AS (
    SELECT id, sum(score) AS score
    FROM (
        SELECT id, score FROM fts
        UNION ALL
        SELECT m.id, %(context_weight)s * f.score
        FROM fts f
        JOIN messages m ON m.conversation_id = f.conversation_id AND m.position = f.position + 1
        {join_conversations}
        WHERE %(context_weight)s > 0 {filters}
    ) AS own_and_previous
    GROUP BY id
)"""

# Typo tolerance: only when full text found fewer than `fuzzy_below` messages (the
# condition is an uncorrelated sub-select, evaluated once; the lookup is skipped when it
# is false). Query words of 4+ letters that no message contains are corrected against
# the archive's vocabulary (pg_trgm similarity on the lexemes of search_lexeme_stats,
# trigram-indexed by migration 0003), and the messages holding the corrections are found
# through the full-text index. Only plain alphanumeric lexemes are offered as
# corrections, so each one is exactly one tsquery operand.
FUZZY_CTE = """
fuzzy_words AS (
    SELECT DISTINCT w.lexeme
    FROM word_lexemes w JOIN terms t ON t.lexeme = w.lexeme
    WHERE t.df = 0 AND length(w.word) >= 4
),
fuzzy_terms AS (
    SELECT s.lexeme, max(similarity(s.lexeme, f.lexeme))::float8 AS similarity
    FROM fuzzy_words f
    JOIN search_lexeme_stats s ON s.lexeme %% f.lexeme
    WHERE s.doc_count > 0 AND s.lexeme ~ '^[a-z0-9]+$'
      AND (SELECT count(*) FROM fts) < %(fuzzy_below)s
    GROUP BY s.lexeme
    ORDER BY similarity DESC, s.lexeme
    LIMIT %(fuzzy_corrections)s
),
fuzzy AS (
    SELECT m.id, sum(ft.similarity)::float8 AS score
    FROM fuzzy_terms ft
    JOIN messages m ON m.search_vector @@ ft.lexeme::tsquery {join_conversations}
    WHERE true {filters}
    GROUP BY m.id
    ORDER BY score DESC, m.id
    LIMIT %(candidates)s
)"""

# Full-text hits first, then fuzzy ones (scaled below the weakest full-text score).
LEXICAL_CTE = """
lexical AS (
    SELECT id, score, row_number() OVER (ORDER BY score DESC, id) AS rank
    FROM (
        SELECT id, score FROM fts_context
        UNION ALL
        SELECT z.id, z.score * 1e-3 FROM fuzzy z WHERE z.id NOT IN (SELECT id FROM fts_context)
    ) AS both_kinds
    ORDER BY score DESC, id
    LIMIT %(candidates)s
)"""

# Vector leg ----------------------------------------------------------------------------
# ORDER BY the bare distance so the HNSW index serves it (iterative scans keep filtered
# queries at `candidates` rows); ranks are recomputed from the scores afterwards.
# One model's vectors only: the expression and the predicate are those of the model's
# partial HNSW index (migration 0006), so the planner uses that index. The service puts
# in the model as a quoted literal and its dimension as an integer
# (dovos.search.service.bind_model): a literal, not a bind parameter, so that a cached
# generic plan can never lose the index. messages is joined only when a filter needs
# it (every embedding has its message: ON DELETE CASCADE); unfiltered, the join was a
# hundred index probes per search that changed nothing.
VECTOR_MODEL = "__MODEL__"
VECTOR_DIMENSIONS = "__DIMENSIONS__"
VECTOR_CTE = """
vec_hits AS (
    SELECT e.message_id AS id,
           e.embedding::vector(__DIMENSIONS__) <=> %(qvec)s::vector(__DIMENSIONS__) AS distance
    FROM message_embeddings e {join_messages}
    WHERE e.model = __MODEL__ {filters}
    ORDER BY e.embedding::vector(__DIMENSIONS__) <=> %(qvec)s::vector(__DIMENSIONS__)
    LIMIT %(candidates)s
),
vector AS (
    SELECT id, (1.0 - distance)::float8 AS score,
           row_number() OVER (ORDER BY distance, id) AS rank
    FROM vec_hits
)"""

# Fusion --------------------------------------------------------------------------------
RRF_SCORE = """coalesce(%(lexical_weight)s / (%(rrf_k)s + l.rank), 0.0)
             + coalesce(%(vector_weight)s / (%(rrf_k)s + v.rank), 0.0)"""

# ranx's min-max: (s - min) / max(max - min, 1e-9); a leg that missed a message adds 0.
WEIGHTED_SCORE = """%(lexical_weight)s * coalesce(
                 (l.score - b.lmin) / greatest(b.lmax - b.lmin, 1e-9), 0.0)
             + %(vector_weight)s * coalesce(
                 (v.score - b.vmin) / greatest(b.vmax - b.vmin, 1e-9), 0.0)"""

FUSED_CTE = """
bounds AS (
    SELECT (SELECT min(score) FROM lexical) AS lmin, (SELECT max(score) FROM lexical) AS lmax,
           (SELECT min(score) FROM vector) AS vmin, (SELECT max(score) FROM vector) AS vmax
),
ranked AS (
    SELECT coalesce(l.id, v.id) AS id,
           ({fused})::float8 AS score,
           l.score AS lexical_score, l.rank AS lexical_rank,
           v.score AS vector_score, v.rank AS vector_rank
    FROM lexical l FULL OUTER JOIN vector v ON v.id = l.id CROSS JOIN bounds b
)"""

LEXICAL_ONLY = """
ranked AS (
    SELECT id, score, score AS lexical_score, rank AS lexical_rank,
           NULL::float8 AS vector_score, NULL::bigint AS vector_rank
    FROM lexical
)"""

VECTOR_ONLY = """
ranked AS (
    SELECT id, score, NULL::float8 AS lexical_score, NULL::bigint AS lexical_rank,
           score AS vector_score, rank AS vector_rank
    FROM vector
)"""

FINAL_SELECT = """
SELECT r.id AS message_id, m.conversation_id, c.title AS conversation_title,
       c.source_id AS conversation_source_id, m.source_message_id, m.role, c.source,
       m.created_at, m.content, m.metadata,
       r.score, r.lexical_score, r.lexical_rank, r.vector_score, r.vector_rank,
       {vector_count} AS vector_count
FROM (SELECT * FROM ranked ORDER BY score DESC, id LIMIT %(k)s) AS r
JOIN messages m ON m.id = r.id
JOIN conversations c ON c.id = m.conversation_id
ORDER BY r.score DESC, r.id"""


@dataclass(frozen=True)
class RankedRow:
    """One row of a ranking statement, read by name (`class_row(RankedRow)`)."""

    message_id: uuid.UUID
    conversation_id: uuid.UUID
    conversation_title: str
    conversation_source_id: str
    source_message_id: str | None
    role: str
    source: str
    created_at: datetime
    content: str
    metadata: dict[str, Any] | None
    score: float
    lexical_score: float | None
    lexical_rank: int | None
    vector_score: float | None
    vector_rank: int | None
    vector_count: int | None  # rows of the vector leg (None: no vector leg)


# This transaction's HNSW and trigram knobs (SET LOCAL: they end with it).
SEARCH_KNOBS_SQL = """
SELECT set_config('hnsw.ef_search', %(ef_search)s, true),
       set_config('hnsw.iterative_scan', 'relaxed_order', true),
       set_config('pg_trgm.similarity_threshold', %(fuzzy_threshold)s, true)
"""

# The knobs and, in the same round trip, the champion lists' watermark (NULL: no lists)
# and the k1, b they were built with, for a statement that reads the lists
# (`uses_champion_lists`).
SEARCH_KNOBS_AND_WATERMARK_SQL = (
    SEARCH_KNOBS_SQL.rstrip() + f",\n       ({READ_WATERMARK_SQL}) AS watermark,"
    f"\n       ({READ_LIST_WEIGHTS_SQL}) AS list_weights\n")

# Whether any message has an embedding by the model (why a vector leg found nothing).
ANY_EMBEDDING_SQL = "SELECT EXISTS (SELECT 1 FROM message_embeddings WHERE model = %(model)s)"


def filter_sql(filters: SearchFilters | None) -> tuple[str, bool, dict[str, Any]]:
    """(AND-ed conditions on m/c, whether they need conversations, their parameters)."""
    if filters is None:
        return "", False, {}
    parts, values, needs_c = [], {}, False
    if filters.sources:
        parts.append("c.source = ANY(%(f_sources)s::text[])")
        values["f_sources"] = list(filters.sources)
        needs_c = True
    if filters.conversation_metadata:
        from psycopg.types.json import Jsonb

        parts.append("c.metadata @> %(f_metadata)s")
        values["f_metadata"] = Jsonb(filters.conversation_metadata)
        needs_c = True
    if filters.date_from is not None:
        parts.append("m.created_at >= %(f_date_from)s")
        values["f_date_from"] = filters.date_from
    if filters.date_to is not None:
        parts.append("m.created_at <= %(f_date_to)s")
        values["f_date_to"] = filters.date_to
    if filters.conversation_ids:
        parts.append("m.conversation_id = ANY(%(f_conversations)s::uuid[])")
        values["f_conversations"] = list(filters.conversation_ids)
    if filters.roles:
        parts.append("m.role = ANY(%(f_roles)s::text[])")
        values["f_roles"] = list(filters.roles)
    return "".join(f" AND {part}" for part in parts), needs_c, values


def uses_champion_lists(mode: str, params: SearchParams,
                        filters: SearchFilters | None) -> bool:
    """Whether the statement for these arguments can read the champion lists, i.e.
    needs their watermark: a BM25 lexical leg, lists and a candidate budget on, no
    filter (a global list would keep almost nothing of a selective filter's messages).
    Otherwise no watermark is read: a search pays no round trip for lists it ignores."""
    return (mode in ("lexical", "hybrid") and params.lexical_scorer == "bm25"
            and params.champion_depth > 0 and params.lexical_budget > 0
            and not filter_sql(filters)[0])


def build_statement(
    mode: str, params: SearchParams, filters: SearchFilters | None,
    watermark: datetime | None = None,
) -> tuple[str, dict[str, Any]]:
    """The SQL text for `mode` and the filter/parameter values it binds (not the query's).
    `watermark`: the champion lists' (None: no lists, the full-text candidates); read
    only when `uses_champion_lists` says so, and ignored otherwise."""
    lists = watermark is not None and uses_champion_lists(mode, params, filters)
    conditions, needs_c, values = filter_sql(filters)
    join = JOIN_CONVERSATIONS if needs_c else ""
    ctes = []
    if mode in ("lexical", "hybrid"):
        ctes += lexical_ctes(params, conditions, join)
    if mode in ("vector", "hybrid"):
        ctes.append(vector_cte(conditions, join))
    if mode == "hybrid":
        ctes.append(fused_cte(params))
    else:
        ctes.append(LEXICAL_ONLY if mode == "lexical" else VECTOR_ONLY)
    vector_count = "(SELECT count(*) FROM vector)" if mode != "lexical" else "NULL::bigint"
    sql = "WITH" + ",".join(ctes) + FINAL_SELECT.format(vector_count=vector_count)
    sql = bind_watermark(sql, watermark if lists else None)
    return sql, {**values, **statement_values(params, lists)}


JOIN_CONVERSATIONS = "JOIN conversations c ON c.id = m.conversation_id"


def lexical_ctes(params: SearchParams, conditions: str, join: str) -> list[str]:
    """The lexical leg's CTEs, ending in `lexical` (id, score, rank)."""
    fts = BM25_FTS_CTE if params.lexical_scorer == "bm25" else TS_RANK_CD_FTS_CTE
    return [
        TERMS_CTE,
        fts.format(join_conversations=join, filters=conditions),
        CONTEXT_CTE.format(join_conversations=join, filters=conditions),
        FUZZY_CTE.format(join_conversations=join, filters=conditions),
        LEXICAL_CTE,
    ]


def vector_cte(conditions: str, join: str) -> str:
    """The vector leg's CTEs, ending in `vector` (messages joined only for a filter)."""
    join_messages = f"JOIN messages m ON m.id = e.message_id {join}" if conditions else ""
    return VECTOR_CTE.format(join_messages=join_messages, filters=conditions)


def fused_cte(params: SearchParams) -> str:
    """The fusion of `lexical` and `vector` into `ranked`."""
    return FUSED_CTE.format(fused=RRF_SCORE if params.fusion == "rrf" else WEIGHTED_SCORE)


def statement_values(params: SearchParams, lists: bool) -> dict[str, Any]:
    """The parameters' bind values (`lists`: whether the champion lists are read)."""
    return {
        "candidates": params.candidates,
        "pool": max(params.candidates, params.lexical_pool),
        "context_weight": float(params.context_weight),
        "common_term_share": float(params.common_term_share),
        "common_term_min_docs": int(params.common_term_min_docs),
        "lexical_budget": int(params.lexical_budget),
        "champion_depth": int(params.champion_depth) if lists else 0,
        "champion_candidates": int(params.champion_candidates),
        "champion_floor_weight": float(params.champion_floor_weight),
        "candidate_cap": int(params.lexical_budget) or None,  # LIMIT NULL: no cap
        "k1": params.bm25_k1,
        "b": params.bm25_b,
        "fuzzy_below": params.fuzzy_below,
        "fuzzy_corrections": FUZZY_CORRECTIONS,
        "rrf_k": float(params.rrf_k),
        "lexical_weight": float(params.lexical_weight),
        "vector_weight": float(params.vector_weight),
    }


WATERMARK = "__WATERMARK__"


def bind_watermark(statement: str, watermark: datetime | None) -> str:
    """`statement` with the champion lists' watermark put in as a literal, so the planner
    sees how recent it is (few rows: the BRIN index), even in a cached generic plan.
    Made from a datetime, never from user input."""
    if watermark is None:
        return statement.replace(WATERMARK, "'infinity'::timestamptz")
    if not isinstance(watermark, datetime) or watermark.tzinfo is None:
        raise ValueError(f"watermark {watermark!r} must be an aware datetime")
    return statement.replace(WATERMARK, f"'{watermark.isoformat()}'::timestamptz")


# Hybrid in two statements (issue 16) ----------------------------------------------------
# The lexical leg runs while the query is embedded (dovos.search.overlap); the second
# statement gets its rows back as arrays and runs the vector leg, the fusion and the
# final select: the same fragments as the one-statement hybrid, so the same results.
LEXICAL_LEG_SELECT = """
SELECT id, score, rank FROM lexical ORDER BY rank"""

LEXICAL_ROWS_CTE = """
lexical AS (
    SELECT l.id, l.score, l.rank
    FROM unnest(%(lexical_ids)s::uuid[], %(lexical_scores)s::float8[],
                %(lexical_ranks)s::bigint[]) AS l(id, score, rank)
)"""


def build_lexical_leg(params: SearchParams, filters: SearchFilters | None,
                      watermark: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """The hybrid statement's lexical leg alone: its rows (id, score, rank), best first,
    at most `candidates`. Same values as `build_statement("hybrid", ...)`."""
    lists = watermark is not None and uses_champion_lists("hybrid", params, filters)
    conditions, needs_c, values = filter_sql(filters)
    ctes = lexical_ctes(params, conditions, JOIN_CONVERSATIONS if needs_c else "")
    sql = bind_watermark("WITH" + ",".join(ctes) + LEXICAL_LEG_SELECT,
                         watermark if lists else None)
    return sql, {**values, **statement_values(params, lists)}


def build_from_lexical_rows(mode: str, params: SearchParams,
                            filters: SearchFilters | None) -> tuple[str, dict[str, Any]]:
    """The rest of the `mode` statement ("hybrid": vector leg and fusion; "lexical": the
    lexical ranking alone) over the lexical leg's rows, bound with `lexical_rows`."""
    if mode not in ("hybrid", "lexical"):
        raise ValueError(f"mode {mode!r}: the lexical rows feed a hybrid or lexical ranking")
    conditions, needs_c, values = filter_sql(filters)
    ctes = [LEXICAL_ROWS_CTE]
    if mode == "hybrid":
        ctes += [vector_cte(conditions, JOIN_CONVERSATIONS if needs_c else ""),
                 fused_cte(params)]
        vector_count = "(SELECT count(*) FROM vector)"
    else:
        ctes.append(LEXICAL_ONLY)
        vector_count = "NULL::bigint"
    sql = "WITH" + ",".join(ctes) + FINAL_SELECT.format(vector_count=vector_count)
    return sql, {**values, **statement_values(params, lists=False)}


def lexical_rows(rows: list[tuple[Any, float, int]]) -> dict[str, list[Any]]:
    """The lexical leg's rows (id, score, rank) as the arrays `LEXICAL_ROWS_CTE` binds.
    Scores travel as Python floats (repr round-trips a float8 exactly)."""
    return {"lexical_ids": [row[0] for row in rows],
            "lexical_scores": [float(row[1]) for row in rows],
            "lexical_ranks": [int(row[2]) for row in rows]}
