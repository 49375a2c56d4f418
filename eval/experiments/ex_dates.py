"""Issue 14, helper ex, idea 3: "when" questions prefer turns that say when.

LoCoMo turns carry no dates (the session date is the message's `created_at`); the
answer to "When did Caroline go to the LGBTQ conference?" is a turn that says
"yesterday", "last week" or "in May", read against its session date. The rule: for a
question that asks for a time (it starts with "when", or asks "what year/month/date/day"
or "how long ago"), a message whose text holds a time expression gets its lexical score
multiplied by (1 + beta); beta is chosen in fold (0 = no rule). Only the lexical leg is
boosted (the hybrid fuses the boosted leg), so the change in SQL would be one factor in
the lexical CTE. Scored by `ex_ideas.py ... dates`.
"""

from __future__ import annotations

import re

import numpy as np

from dovos.search.query import parse_query

BETAS = (0.1, 0.2, 0.3, 0.5, 1.0)
MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|"
          "december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
UNITS = r"(?:day|week|weekend|month|year|night|morning|evening|summer|winter|spring|fall|autumn)s?"
TIME_EXPRESSION = re.compile(
    r"\b(?:yesterday|today|tonight|tomorrow|recently|lately|ago|"
    rf"(?:last|next|this|past|coming|previous|few|couple of)\s+(?:\w+\s+)?{UNITS}|"
    rf"{MONTHS}|{DAYS}|(?:19|20)\d\d)\b",
    re.IGNORECASE,
)
TIME_QUESTION = re.compile(
    r"^\s*when\b|\bwhat\s+(?:year|month|date|day|time|week)\b|\bhow\s+long\s+ago\b|"
    r"\bwhich\s+(?:year|month|day)\b",
    re.IGNORECASE,
)


def asks_time(question: str) -> bool:
    return bool(TIME_QUESTION.search(question))


def has_time(text: str) -> bool:
    return bool(TIME_EXPRESSION.search(text))


def dates(lab) -> list[dict]:
    """Rows of the date-boost family (forced and with 'none'), lexical and hybrid."""
    corpus = lab.corpus
    timed = np.array([has_time(text) for text in corpus.contents])
    texts = {q.id: parse_query(q.text).text for q in lab.bench.queryset.queries}
    asking = {qid for qid, text in texts.items() if asks_time(text)}
    runs = {}
    for beta in BETAS:
        factor = 1.0 + beta * timed

        def boost(qid: str, factor: np.ndarray = factor) -> np.ndarray | None:
            return factor if qid in asking else None

        runs[f"beta={beta}"] = lab.run(lab.leg, f"beta{beta}", boost=boost)
    rows = []
    for leg, wrap in (("lexical", lambda r: r), ("hybrid", lab.fused)):
        variants = {k: wrap(v) for k, v in runs.items()}
        rows += lab.rows("time-expression boost, beta in fold (forced)", variants, leg)
        variants["none"] = lab.lexical if leg == "lexical" else lab.hybrid
        rows += lab.rows("time-expression boost, beta in fold (or none)", variants, leg)
    for row in rows:
        row["touched"] = f"{len(asking)} questions, {int(timed.sum())} of {corpus.n} messages"
    return rows


def combo(lab) -> list[dict]:
    """The date rule (beta in fold, up to 2) alone and on top of a lower BM25 b."""
    from eval.experiments.ex_lexical import Leg

    corpus = lab.corpus
    timed = np.array([has_time(text) for text in corpus.contents])
    asking = {q.id for q in lab.bench.queryset.queries if asks_time(parse_query(q.text).text)}
    rows = []
    for b in (0.5, 0.2, 0.1):
        leg = lab.leg if b == 0.5 else Leg(corpus, b=b)
        runs = {}
        for beta in (0.5, 1.0, 2.0):
            factor = 1.0 + beta * timed
            runs[f"b={b} beta={beta}"] = lab.run(
                leg, f"b{b}beta{beta}",
                boost=lambda qid, factor=factor: factor if qid in asking else None)
        for name, wrap in (("lexical", lambda r: r), ("hybrid", lab.fused)):
            rows += lab.rows(f"b {b} + date boost, beta in fold (0.5-2)",
                             {k: wrap(v) for k, v in runs.items()}, name)
    for row in rows:
        row["touched"] = f"{len(asking)} questions, {int(timed.sum())} of {corpus.n} messages"
    return rows


def increment(lab) -> list[dict]:
    """The date rule's own gain on top of b 0.2 / 0.1: fixed beta 1 against b alone."""
    from eval.experiments.ex_ideas import table_row
    from eval.experiments.ex_lexical import Leg

    timed = np.array([has_time(text) for text in lab.corpus.contents])
    asking = {q.id for q in lab.bench.queryset.queries if asks_time(parse_query(q.text).text)}
    factor = 1.0 + timed
    rows = []
    for b in (0.2, 0.1):
        leg = Leg(lab.corpus, b=b)
        alone = lab.run(leg, f"b{b}")
        boosted = lab.run(leg, f"b{b}date",
                          boost=lambda qid: factor if qid in asking else None)
        for name, wrap in (("lexical", lambda r: r), ("hybrid", lab.fused)):
            base = lab.bench.cross_validate(f"b {b}", {f"b {b}": wrap(alone)})
            result = lab.bench.cross_validate(f"b {b} + date beta 1 vs b {b} alone",
                                              {"beta 1": wrap(boosted)})
            rows += [table_row(lab.bench, result, base, name, m) for m in ("ndcg@10", "recall@10")]
    return rows
