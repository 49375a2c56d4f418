"""BM25 document length: distinct lexemes (today) vs tokens (Lucene's definition).

Lucene's BM25Similarity takes a field's length from its norm: the number of tokens the
analyzer emitted (positions; overlapping tokens discounted), not the number of distinct
terms. Today's leg uses length(tsvector) = distinct lexemes, and the corpus average
comes from search_corpus_stats.total_length (the same definition, kept by migration
0002's trigger). To measure the token definition without a migration, this patches the
leg's SQL in this process only: the length becomes the number of positions in the
tsvector and the average the corpus's token average, computed once here.

    DOVOS_HOME=/tmp/h3-ideas-home python -m eval.experiments.length_variants locomo
"""

from __future__ import annotations

import sys
from pathlib import Path

from ranx import Run

import dovos.search.sql as search_sql
from eval.experiments import harness
from eval.experiments.harness import Bench

harness.CACHE = Path("/tmp/h3-runs")
GRID = [(0.9, 0.5), (0.9, 0.3), (0.9, 0.75)]  # tokens at each; distinct at today's only
TOKENS = "(SELECT sum(coalesce(array_length(p.positions, 1), 1)) FROM unnest(m.search_vector) AS p)"
AVG_TOKENS_SQL = """
SELECT avg((SELECT sum(coalesce(array_length(p.positions, 1), 1)) FROM unnest(m.search_vector) AS p))
FROM messages m
"""
DISTINCT_SQL = search_sql.BM25_FTS_CTE


def token_statement(avgdl: float) -> str:
    """The leg's BM25 CTE with token length and the token average."""
    patched = DISTINCT_SQL.replace("length(m.search_vector)", TOKENS)
    patched = patched.replace("cs.avgdl", repr(float(avgdl)))
    assert patched != DISTINCT_SQL
    return patched


def variants(bench: Bench) -> dict[str, Run]:
    """Label -> lexical run: distinct (today's k1/b) and token length over the grid."""
    with bench.service.database.pooled() as conn:
        avg_tokens = float(conn.execute(AVG_TOKENS_SQL).fetchone()[0])
    search_sql.BM25_FTS_CTE = DISTINCT_SQL
    runs = {"distinct k1=0.9 b=0.5": bench.leg("lexical", {"bm25_k1": 0.9, "bm25_b": 0.5})}
    for k1, b in GRID:
        params = {"bm25_k1": k1, "bm25_b": b}
        search_sql.BM25_FTS_CTE = token_statement(avg_tokens)
        runs[f"tokens k1={k1} b={b}"] = bench.leg("lexical", params, tag="tokens")
    search_sql.BM25_FTS_CTE = DISTINCT_SQL
    return runs


if __name__ == "__main__":
    bench = Bench(sys.argv[1])
    for label, run in variants(bench).items():
        print(label, bench.per_query(run).mean().round(4).to_dict(), flush=True)
