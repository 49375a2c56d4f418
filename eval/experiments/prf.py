"""Pseudo-relevance feedback (RM3-style) for the lexical leg, prototyped around the service.

Per query: the default lexical leg (depth 1000); its top `f` messages give expansion
lexemes ranked by summed tf-idf (tf = the lexeme's share of the message's tokens, as
RM3's P(t|D); idf = the leg's BM25 idf from search_lexeme_stats); the top `e` of them,
minus the query's own lexemes, are searched as a second lexical query (depth 1000,
same filters). Because BM25 (and the turn-context inheritance) is a sum over query
terms, the expanded query's score is the first leg's score plus `w` times the second's:
exactly what a weighted-term BM25 over the union would give, up to the depth-1000
truncation of each list. Each (f, e) pair is one cached pair of runs; `w` is applied
in memory.

    DOVOS_HOME=/tmp/h3-ideas-home python -m eval.experiments.prf locomo
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from dovos.evaluation.runs import make_run, ranked_scores
from eval.experiments.harness import Bench

CACHE = Path("/tmp/h3-runs")
FEEDBACK = (3, 5, 10)
EXPANSION = (5, 10, 20)
WEIGHTS = (0.2, 0.3, 0.5)
DEEP = {"candidates": 1000}  # both lists deep, so the in-memory sum is near exact

# Expansion lexemes of the feedback messages. Only letters/digits lexemes that stem to
# themselves, so that searching the lexeme as a word finds exactly that lexeme.
EXPANSION_SQL = """
WITH docs AS (SELECT id, search_vector FROM messages WHERE id = ANY(%(ids)s::uuid[])),
corpus AS (SELECT greatest(doc_count, 1)::float8 AS n FROM search_corpus_stats),
tf AS (
    SELECT d.id, u.lexeme, coalesce(array_length(u.positions, 1), 1)::float8 AS n,
           sum(coalesce(array_length(u.positions, 1), 1)) OVER (PARTITION BY d.id)::float8 AS len
    FROM docs d, unnest(d.search_vector) AS u
)
SELECT tf.lexeme,
       sum(tf.n / tf.len * ln(1.0 + (c.n - s.doc_count + 0.5) / (s.doc_count + 0.5))) AS weight
FROM tf JOIN search_lexeme_stats s ON s.lexeme = tf.lexeme CROSS JOIN corpus c
WHERE tf.lexeme ~ '^[a-z0-9]+$'
  AND NOT tf.lexeme = ANY(tsvector_to_array(to_tsvector('english'::regconfig, %(query)s)))
  AND tsvector_to_array(to_tsvector('english'::regconfig, tf.lexeme)) = ARRAY[tf.lexeme]
GROUP BY tf.lexeme
ORDER BY weight DESC, tf.lexeme
LIMIT %(limit)s
"""


# Per-term BM25 contributions (the leg's formula and parameters) of the given lexemes in
# every message of the filter scope holding one, plus the turn-context share each passes
# on to the next message of its conversation (CONTEXT_CTE): one statement per query
# scores every (f, e) expansion at once.
CONTRIBUTIONS_SQL = """
WITH corpus AS (
    SELECT greatest(doc_count, 1)::float8 AS n,
           greatest(total_length::float8 / greatest(doc_count, 1), 1.0) AS avgdl
    FROM search_corpus_stats
),
terms AS (
    SELECT s.lexeme, ln(1.0 + (c.n - s.doc_count + 0.5) / (s.doc_count + 0.5)) AS idf
    FROM search_lexeme_stats s CROSS JOIN corpus c
    WHERE s.lexeme = ANY(%(lexemes)s::text[])
),
own AS (
    SELECT m.conversation_id, m.position, m.source_message_id, u.lexeme,
           t.idf * tf.n * (%(k1)s + 1.0)
           / (tf.n + %(k1)s * (1.0 - %(b)s + %(b)s * length(m.search_vector) / cs.avgdl)) AS score
    FROM messages m {join} CROSS JOIN corpus cs
    CROSS JOIN LATERAL unnest(ts_filter(setweight(m.search_vector, 'A', %(lexemes)s::text[]),
                                        '{{a}}')) AS u
    JOIN terms t ON t.lexeme = u.lexeme
    CROSS JOIN LATERAL (SELECT coalesce(array_length(u.positions, 1), 1)::float8 AS n) AS tf
    WHERE m.search_vector @@ %(tsquery)s::tsquery {filters}
)
SELECT source_message_id, lexeme, score FROM own
UNION ALL
SELECT m.source_message_id, o.lexeme, %(context_weight)s * o.score
FROM own o JOIN messages m ON m.conversation_id = o.conversation_id AND m.position = o.position + 1
"""


def collect_by_terms(bench: Bench) -> dict[str, Any]:
    """{qid: {"orig": {doc: score}, "exp": {"f,e": {doc: score}}, "terms": {f: [...]}}},
    cached as JSON under CACHE. The expansion legs are summed from per-term contributions
    (BM25 is a sum over terms): one statement per query instead of nine searches."""
    from dovos.search.sql import filter_sql
    from dovos.search.types import SearchParams

    path = CACHE / f"prf-{bench.dataset}.json"
    if path.is_file():
        return json.loads(path.read_text())
    service, queryset = bench.service, bench.queryset
    defaults = SearchParams()
    out: dict[str, Any] = {}
    for query in tqdm(queryset.queries, desc=f"prf {bench.dataset}", mininterval=30):
        filters = queryset.search_filters(query)
        first = service.search(query.text, "lexical", k=1000, filters=filters, params=DEEP)
        record: dict[str, Any] = {"orig": _hits(first, queryset.level), "exp": {}, "terms": {}}
        for f in FEEDBACK:
            ids = [str(h.message_id) for h in first.hits[:f]]
            record["terms"][str(f)] = _expansion(service, ids, query.text, max(EXPANSION)) if ids else []
        lexemes = sorted({t for terms in record["terms"].values() for t in terms})
        contributions: dict[str, dict[str, float]] = {}
        if lexemes:
            conditions, needs_c, values = filter_sql(filters)
            join = "JOIN conversations c ON c.id = m.conversation_id" if needs_c else ""
            values.update(lexemes=lexemes, tsquery=" | ".join(lexemes),
                          k1=defaults.bm25_k1, b=defaults.bm25_b,
                          context_weight=defaults.context_weight)
            sql = CONTRIBUTIONS_SQL.format(join=join, filters=conditions)
            with service.database.pooled() as conn:
                for doc, lexeme, score in conn.execute(sql, values).fetchall():
                    per_doc = contributions.setdefault(doc, {})
                    per_doc[lexeme] = per_doc.get(lexeme, 0.0) + float(score)
        for f in FEEDBACK:
            for e in EXPANSION:
                chosen = record["terms"][str(f)][:e]
                scores = {d: sum(c.get(t, 0.0) for t in chosen) for d, c in contributions.items()}
                record["exp"][f"{f},{e}"] = {d: s for d, s in scores.items() if s > 0}
        out[query.id] = record
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return out


def _hits(response: Any, level: str) -> dict[str, float]:
    return ranked_scores(response.hits, level)


def _expansion(service: Any, ids: list[str], text: str, limit: int) -> list[str]:
    with service.database.pooled() as conn:
        rows = conn.execute(EXPANSION_SQL, {"ids": ids, "query": text, "limit": limit}).fetchall()
    return [row[0] for row in rows]


def combined(data: dict[str, Any], f: int | None, e: int | None, w: float,
             depth: int = 100, name: str = "prf"):
    """The expanded query's lexical run (top `depth`): orig + w * expansion; f None: orig."""
    runs = {}
    for qid, record in data.items():
        scores = dict(record["orig"])
        if f is not None:
            for doc, score in record["exp"][f"{f},{e}"].items():
                scores[doc] = scores.get(doc, 0.0) + w * score
        top = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:depth]
        runs[qid] = dict(top)
    from dovos.evaluation.runs import strictly_decreasing

    return make_run({q: strictly_decreasing(d) for q, d in runs.items()}, name)


if __name__ == "__main__":
    bench = Bench(sys.argv[1])
    data = collect_by_terms(bench)
    print(len(data), "queries collected")
