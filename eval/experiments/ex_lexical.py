"""The service's BM25 lexical leg in memory, so its variants can be scored out of fold.

Reproduces `dovos/search/sql.py` (BM25_FTS_CTE, CONTEXT_CTE, LEXICAL_CTE) over the
messages of the database in $DOVOS_HOME (one dataset per database: the corpus
statistics are that dataset's, as in a `dovos tune` database): the query's words become
lexemes through PostgreSQL's `to_tsvector('english', word)`, the tsquery matches come
from PostgreSQL, and everything else (idf, seed terms under the common-term share and
the candidate budget, BM25 with the distinct-lexeme length, the pool of 1000, the turn
context, the top 100 ordered by score then message id) is computed here on numpy arrays.
Fuzzy hits (only when full text finds fewer than `fuzzy_below` messages) are taken from
the service's cached lexical run. Champion lists are not built in these databases, so
the service does not read them either.

Variants: the document length as positions (tokens) with avgdl to match, and
RM3-style pseudo-relevance feedback (`Leg.rank(..., feedback=...)`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from dovos.evaluation.querysets import Query, QuerySet
from dovos.search.query import parse_query
from dovos.search.types import SearchParams

DEFAULTS = SearchParams()
TSVECTOR_ENTRY = re.compile(r"'((?:[^']|'')*)'(?::([0-9A-D,]+))?")

MESSAGES_SQL = """
SELECT m.id::text, coalesce(m.source_message_id, ''), m.conversation_id::text, m.position,
       coalesce(c.metadata->>'sample_id', ''), m.search_vector::text, m.created_at, m.content
FROM messages m JOIN conversations c ON c.id = m.conversation_id
"""
LEXEMES_SQL = """
SELECT w.word, tsvector_to_array(to_tsvector('english'::regconfig, w.word))
FROM unnest(%(words)s::text[]) AS w(word)
"""
MATCHES_SQL = """
SELECT m.id::text FROM messages m
WHERE m.search_vector @@ to_tsquery('english'::regconfig, %(tsquery)s)
"""
STATS_SQL = "SELECT doc_count, total_length FROM search_corpus_stats"


def parse_tsvector(text: str) -> dict[str, int]:
    """lexeme -> number of positions (1 when the tsvector kept none)."""
    out = {}
    for match in TSVECTOR_ENTRY.finditer(text):
        lexeme = match.group(1).replace("''", "'")
        out[lexeme] = len(match.group(2).split(",")) if match.group(2) else 1
    return out


@dataclass
class Corpus:
    """Every message of the database: ids, turn order, term frequencies, lengths."""

    uuids: list[str]
    docs: list[str]  # source_message_id: the run's doc id
    scopes: np.ndarray  # LoCoMo sample id per message ('' for NFCorpus)
    prev: np.ndarray  # index of the message before it in its conversation, -1 if none
    tfs: list[dict[str, int]]
    created: list
    contents: list[str]
    postings: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def load(cls, conn) -> Corpus:
        rows = sorted(conn.execute(MESSAGES_SQL).fetchall())  # by uuid: the SQL tie order
        where = {(r[2], r[3]): i for i, r in enumerate(rows)}
        prev = np.array([where.get((r[2], r[3] - 1), -1) for r in rows])
        corpus = cls([r[0] for r in rows], [r[1] for r in rows], np.array([r[4] for r in rows]),
                     prev, [parse_tsvector(r[5]) for r in rows], [r[6] for r in rows],
                     [r[7] for r in rows])
        lists: dict[str, tuple[list[int], list[int]]] = {}
        for i, tf in enumerate(corpus.tfs):
            for lexeme, n in tf.items():
                entry = lists.setdefault(lexeme, ([], []))
                entry[0].append(i)
                entry[1].append(n)
        corpus.postings = {k: (np.array(a), np.array(b, dtype=float)) for k, (a, b) in lists.items()}
        return corpus

    @property
    def n(self) -> int:
        return len(self.uuids)

    @cached_property
    def distinct(self) -> np.ndarray:
        return np.array([len(tf) for tf in self.tfs], dtype=float)

    @cached_property
    def tokens(self) -> np.ndarray:
        return np.array([sum(tf.values()) for tf in self.tfs], dtype=float)

    def df(self, lexeme: str) -> int:
        entry = self.postings.get(lexeme)
        return 0 if entry is None else len(entry[0])

    def idf(self, lexeme: str) -> float:
        df = self.df(lexeme)
        return float(np.log(1.0 + (self.n - df + 0.5) / (df + 0.5)))


@dataclass
class QueryTerms:
    """One question's lexemes and the messages its tsquery matches (in scope)."""

    lexemes: list[str]
    matches: np.ndarray  # bool per message
    scope: np.ndarray  # bool per message: the question's LoCoMo sample (or all)
    fuzzy: dict[str, float]  # the service's fuzzy hits (doc -> score), usually empty


@dataclass
class Leg:
    """The lexical leg over one corpus, with the length definition and k1/b as knobs."""

    corpus: Corpus
    k1: float = DEFAULTS.bm25_k1
    b: float = DEFAULTS.bm25_b
    length: str = "distinct"  # or "tokens"
    context_weight: float = DEFAULTS.context_weight
    _cache: dict = field(default_factory=dict)

    @cached_property
    def lengths(self) -> np.ndarray:
        return self.corpus.distinct if self.length == "distinct" else self.corpus.tokens

    @cached_property
    def avgdl(self) -> float:
        return max(float(self.lengths.sum()) / max(self.corpus.n, 1), 1.0)

    def term_scores(self, lexeme: str) -> np.ndarray:
        """BM25 of `lexeme` alone for every message (dense; 0 where absent)."""
        if lexeme not in self._cache:
            out = np.zeros(self.corpus.n)
            entry = self.corpus.postings.get(lexeme)
            if entry is not None:
                idx, tf = entry
                norm = self.k1 * (1.0 - self.b + self.b * self.lengths[idx] / self.avgdl)
                out[idx] = self.corpus.idf(lexeme) * tf * (self.k1 + 1.0) / (tf + norm)
            self._cache[lexeme] = out
        return self._cache[lexeme]

    def contains_any(self, lexemes: list[str]) -> np.ndarray:
        mask = np.zeros(self.corpus.n, dtype=bool)
        for lexeme in lexemes:
            entry = self.corpus.postings.get(lexeme)
            if entry is not None:
                mask[entry[0]] = True
        return mask

    def candidates(self, terms: QueryTerms) -> np.ndarray:
        """The SQL's seed rule: rare terms select candidates, common ones only score."""
        c = self.corpus
        threshold = max(DEFAULTS.common_term_share * c.n, DEFAULTS.common_term_min_docs)
        known = sorted((c.df(t), t) for t in terms.lexemes if c.df(t) > 0)
        seeds, running = [], 0
        for df, lexeme in known:
            if df <= threshold:
                running += df
                if running <= DEFAULTS.lexical_budget:
                    seeds.append(lexeme)
        if seeds:
            seed = self.contains_any(seeds)
        elif sum(df for df, _ in known) > DEFAULTS.lexical_budget:
            seed = np.ones(c.n, dtype=bool)
            for _, lexeme in known:
                seed &= self.contains_any([lexeme])
        else:
            seed = np.ones(c.n, dtype=bool)
        return terms.matches & seed & terms.scope

    def fts(self, score: np.ndarray, candidates: np.ndarray, pool: int) -> np.ndarray:
        """Scores of the top `pool` candidates (0 elsewhere) and their mask."""
        idx = np.flatnonzero(candidates)
        order = idx[np.lexsort((idx, -score[idx]))][:pool]  # score desc, then uuid order
        keep = np.zeros(self.corpus.n, dtype=bool)
        keep[order] = True
        return keep

    def with_context(self, score: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A message's own score plus context_weight x its previous turn's (fts only)."""
        own = np.where(keep, score, 0.0)
        prev = self.corpus.prev
        inherited = np.where(prev >= 0, own[np.maximum(prev, 0)], 0.0)
        member = keep | ((prev >= 0) & keep[np.maximum(prev, 0)])
        if self.context_weight <= 0:
            member = keep
        return own + self.context_weight * inherited, member

    def score(self, lexemes: list[str], weights: list[float] | None = None) -> np.ndarray:
        total = np.zeros(self.corpus.n)
        for i, lexeme in enumerate(lexemes):
            total += (1.0 if weights is None else weights[i]) * self.term_scores(lexeme)
        return total

    def rank(self, terms: QueryTerms, depth: int = DEFAULTS.candidates,
             extra: tuple[list[str], list[float]] | None = None,
             boost: np.ndarray | None = None) -> list[tuple[str, float]]:
        """The leg's top `depth` as (doc id, score), ordered as the SQL orders them.
        `extra`: expansion lexemes and weights (pseudo-relevance feedback) added to the
        query's BM25 and to its candidates; `boost`: a multiplier per message applied
        to the final score (the date rule)."""
        candidates = self.candidates(terms)
        score = self.score(terms.lexemes)
        if extra is not None and extra[0]:
            score = score + self.score(*extra)
            candidates = candidates | (self.contains_any(extra[0]) & terms.scope)
        keep = self.fts(score, candidates, max(DEFAULTS.candidates, DEFAULTS.lexical_pool))
        final, member = self.with_context(score, keep)
        if boost is not None:
            final = final * boost
        idx = np.flatnonzero(member)
        order = idx[np.lexsort((idx, -final[idx]))]
        ranked = [(self.corpus.docs[i], float(final[i])) for i in order]
        if len(np.flatnonzero(keep)) < DEFAULTS.fuzzy_below and terms.fuzzy:
            have = {d for d, _ in ranked}
            ranked += sorted(((d, s) for d, s in terms.fuzzy.items() if d not in have),
                             key=lambda item: -item[1])
        return ranked[:depth]


def nudge(ranked: list[tuple[str, float]]) -> dict[str, float]:
    """Strictly decreasing scores in the given order (ranx then keeps that order)."""
    out, previous = {}, np.inf
    for doc, score in ranked:
        value = score if score < previous else float(np.nextafter(previous, -np.inf))
        out[doc] = value
        previous = value
    return out


def query_terms(conn, corpus: Corpus, queryset: QuerySet,
                service_run: dict[str, dict[str, float]] | None) -> dict[str, QueryTerms]:
    """Lexemes, tsquery matches and scope of every query of `queryset`."""
    parsed = {q.id: parse_query(q.text) for q in queryset.queries}
    words = sorted({w for p in parsed.values()
                    for w in list(p.terms) + [x for ph in p.phrases for x in ph.split()]})
    lexemes_of = dict(conn.execute(LEXEMES_SQL, {"words": words}).fetchall())
    index = {u: i for i, u in enumerate(corpus.uuids)}
    out = {}
    for query in queryset.queries:
        p = parsed[query.id]
        qwords = list(p.terms) + [x for ph in p.phrases for x in ph.split()]
        lexemes = sorted({lx for w in qwords for lx in (lexemes_of.get(w) or [])})
        matches = np.zeros(corpus.n, dtype=bool)
        tsquery = p.tsquery()
        if tsquery:
            hits = [index[r[0]] for r in conn.execute(MATCHES_SQL, {"tsquery": tsquery})]
            matches[hits] = True
        scope = _scope(corpus, queryset, query)
        out[query.id] = QueryTerms(lexemes, matches, scope,
                                   _fuzzy(corpus, matches, scope,
                                          (service_run or {}).get(query.id, {})))
    return out


def _scope(corpus: Corpus, queryset: QuerySet, query: Query) -> np.ndarray:
    filters = queryset.search_filters(query)
    sample = ((filters.conversation_metadata if filters else None) or {}).get("sample_id")
    if sample is None:
        return np.ones(corpus.n, dtype=bool)
    return corpus.scopes == sample


def _fuzzy(corpus: Corpus, matches: np.ndarray, scope: np.ndarray,
           service: dict[str, float]) -> dict[str, float]:
    """The service run's hits that full text cannot explain (fuzzy corrections)."""
    if not service or int((matches & scope).sum()) >= DEFAULTS.fuzzy_below:
        return {}
    known = {corpus.docs[i] for i in np.flatnonzero(matches & scope)}
    known |= {corpus.docs[i] for i in np.flatnonzero(scope)
              if corpus.prev[i] >= 0 and matches[corpus.prev[i]]}
    return {d: s for d, s in service.items() if d not in known}
