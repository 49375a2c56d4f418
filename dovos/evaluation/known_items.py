"""Known-item queries generated from any imported archive, for users without labels.

Method (the "discriminative" known-item simulation of Azzopardi, de Rijke and Balog,
"Building simulated queries for known-item topics", SIGIR 2007), with a seed:

1. Candidates: user and assistant messages with at least `min_terms` distinct content
   words (lower-cased alphanumeric words of 3+ letters that are not stop words),
   ordered by md5(seed, message id from the export) so the same archive and seed give
   the same order whichever database holds it.
2. Document frequencies are counted over a sample of up to `df_sample` messages.
3. For each of the first `count` candidates (the known item), a query length l is
   drawn uniformly from [min_length, max_length], and l distinct words of the message
   are drawn without replacement with probability proportional to tf(w, d) * idf(w):
   words frequent in the message and rare in the archive, the ones a person who
   remembers the message would type.
4. With probability `noise`, one of the words is replaced by a word drawn from another
   candidate message (people misremember), so not every query is answerable by exact
   term overlap.

Each query judges exactly its source message relevant (grade 1): a perfect system
ranks it first, so MRR and recall@k measure how often the remembered message is found.
The words are kept in the message's order of first appearance.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections import Counter
from typing import Any

from dovos.evaluation.querysets import Query, QuerySet, QuerySetError

WORD = re.compile(r"[a-z][a-z0-9]{2,}")
_STOP_TEXT = """
a about above after again against all also am an and any are as at be because been before
being below between both but by can cannot could did do does doing down during each few for
from further had has have having he her here hers herself him himself his how if in into is
it its itself me more most my myself no nor not of off on once only or other ought our ours
ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why with would you your yours yourself yourselves will
just like get got use using used one two may might much many well really want need make made
sure thing things yes okay hello thanks thank please let know think way new good great first
even still something anything don didn doesn isn aren wasn weren won wouldn shouldn couldn
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def content_words(text: str) -> list[str]:
    """Lower-cased words of 3+ characters, stop words removed, in order of appearance."""
    return [w for w in WORD.findall(text.lower()) if w not in STOP_WORDS]


def _seed_key(seed: int) -> str:
    return hashlib.sha256(str(seed).encode()).hexdigest()[:16]


def fetch_candidates(
    database: Any, seed: int, limit: int, scope: dict[str, Any] | None = None
) -> list[tuple[str, str]]:
    """(doc id, content) of up to `limit` user/assistant messages in seeded order."""
    from dovos.repositories import messages

    with database.connect() as conn:
        rows = messages.seeded_sample(conn, _seed_key(seed), limit, scope or {})
    return [(row.doc, row.content) for row in rows]


def generate_known_items(
    database: Any,
    count: int = 50,
    seed: int = 0,
    *,
    min_length: int = 2,
    max_length: int = 5,
    min_terms: int = 8,
    noise: float = 0.2,
    df_sample: int = 20000,
    scope: dict[str, Any] | None = None,
) -> QuerySet:
    """`count` known-item queries over the archive (see the module docstring)."""
    if count < 1 or not 1 <= min_length <= max_length:
        raise QuerySetError("known items need count >= 1 and 1 <= min_length <= max_length")
    sample = fetch_candidates(database, seed, df_sample, scope)
    documents = [(doc, content_words(text)) for doc, text in sample]
    df = Counter(word for _, words in documents for word in set(words))
    candidates = [(doc, words) for doc, words in documents if len(set(words)) >= min_terms]
    if not candidates:
        raise QuerySetError(
            f"the archive has no message with {min_terms}+ distinct content words to build "
            "known-item queries from; import conversations first"
        )
    rng = random.Random(seed)
    queries, qrels = [], {}
    for index, (doc, words) in enumerate(candidates[:count]):
        terms = _draw_terms(words, df, len(documents), rng, rng.randint(min_length, max_length))
        if rng.random() < noise and len(candidates) > 1:
            terms = _add_noise(terms, candidates, doc, rng)
        qid = f"ki-{seed}-{index + 1:03d}"
        queries.append(Query(qid, " ".join(terms), "known-item", metadata={"source": doc}))
        qrels[qid] = {doc: 1}
    return QuerySet(
        name="known-items",
        queries=queries,
        qrels=qrels,
        level="message",
        description=f"{len(queries)} simulated known-item queries (seed {seed}, "
        f"lengths {min_length}-{max_length}, noise {noise})",
        filters={"conversation_metadata": scope} if scope else {},
    )


def _draw_terms(
    words: list[str], df: Counter[str], total: int, rng: random.Random, length: int
) -> list[str]:
    """`length` distinct words drawn without replacement, weight tf * idf."""
    tf = Counter(words)
    vocabulary = list(dict.fromkeys(words))  # order of first appearance
    weights = {w: tf[w] * math.log((total + 1) / (df.get(w, 0) + 0.5)) for w in vocabulary}
    chosen: set[str] = set()
    for _ in range(min(length, len(vocabulary))):
        pool = [w for w in vocabulary if w not in chosen]
        chosen.add(rng.choices(pool, weights=[max(weights[w], 1e-6) for w in pool])[0])
    return [w for w in vocabulary if w in chosen]


def _add_noise(
    terms: list[str], candidates: list[tuple[str, list[str]]], doc: str, rng: random.Random
) -> list[str]:
    """Replace one term with a word of another candidate message."""
    others = [words for other, words in candidates if other != doc]
    replacement = rng.choice(rng.choice(others))
    position = rng.randrange(len(terms))
    return [replacement if i == position else term for i, term in enumerate(terms)]
