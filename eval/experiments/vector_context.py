"""What the vector leg embeds for a LoCoMo turn: variants encoded in memory.

Each variant builds a turn's text from the turn and its neighbours (previous/next
turn, session date); all dev turns are encoded with the product's embedder (vectors
cached under /tmp/ideas-vectors) and ranked by exact cosine within the question's
sample, to the service's depth, as a Run comparable with the service's vector leg.
NFCorpus documents are one-message conversations: no variant changes their text.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from ranx import Run

from dovos.embeddings import get_embedder
from dovos.evaluation.runs import make_run
from dovos.search.query import parse_query
from eval.experiments.harness import DEPTH, Bench

CACHE = Path("/tmp/ideas-vectors")
Turn = tuple[str, str, str, str]  # (previous text, text, next text, session date)


def _tail(text: str, chars: int) -> str:
    return text[-chars:] + "\n" if text and chars else ""


def _said(text: str) -> str:
    """'Caroline: hi' -> 'Caroline said: hi' (LoCoMo turns start with the speaker's name)."""
    name, sep, rest = text.partition(": ")
    return f"{name} said: {rest}" if sep and name and len(name.split()) <= 3 else text


VARIANTS: dict[str, Callable[[Turn], str]] = {
    "turn alone": lambda t: t[1],
    "previous 500 chars (current)": lambda t: _tail(t[0], 500) + t[1],
    "previous 200 chars": lambda t: _tail(t[0], 200) + t[1],
    "previous 1000 chars": lambda t: _tail(t[0], 1000) + t[1],
    "previous + next 200": lambda t: _tail(t[0], 500) + t[1] + ("\n" + t[2][:200] if t[2] else ""),
    "session date + previous": lambda t: f"{t[3]}\n" + _tail(t[0], 500) + t[1],
    "speaker said + previous": lambda t: _tail(_said(t[0]), 500) + _said(t[1]),
}


def turns() -> tuple[list[str], list[str], list[Turn]]:
    """(doc ids, sample ids, turn context) for every LoCoMo dev turn, in order."""
    from eval.experiments.prepare import datasets

    ids, samples, contexts = [], [], []
    for conversation in datasets()["locomo"].load_conversations():
        texts = [m.content for m in conversation.messages]
        date = conversation.metadata.get("session_date", "")
        for i, message in enumerate(conversation.messages):
            ids.append(message.source_message_id or "")
            samples.append(conversation.metadata["sample_id"])
            previous = texts[i - 1] if i else ""
            following = texts[i + 1] if i + 1 < len(texts) else ""
            contexts.append((previous, texts[i], following, date))
    return ids, samples, contexts


def encoded(name: str, texts: list[str]) -> np.ndarray:
    """Unit vectors of `texts` (cached by variant name)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / (name.replace(" ", "_").replace("(", "").replace(")", "") + ".npy")
    if path.is_file():
        return np.load(path)
    vectors = get_embedder().encode(texts, batch_size=64)
    np.save(path, vectors)
    return vectors


def vector_run(bench: Bench, variant: str) -> Run:
    """Exact cosine ranking of each question's sample turns under `variant`."""
    ids, samples, contexts = turns()
    docs = encoded(variant, [VARIANTS[variant](c) for c in contexts])
    questions = bench.queryset.queries
    queries = encoded("questions", [parse_query(q.text).embedding_text for q in questions])
    ids_arr, samples_arr = np.array(ids), np.array(samples)
    data = {}
    for query, qvec in zip(questions, queries, strict=True):
        mask = samples_arr == query.id.rsplit(":", 1)[0]
        scores = docs[mask] @ qvec
        top = np.argsort(-scores, kind="stable")[:DEPTH]
        data[query.id] = {str(ids_arr[mask][i]): float(scores[i]) for i in top}
    return make_run(data, "vector")
