"""A generated chat archive of any size, for latency benchmarks and tests without LoCoMo.

Messages are built from topic vocabularies (so lexical matches and embeddings have
structure: a question about gardening finds gardening turns), deterministically from a
seed. For very large archives, `sentence_pool_vectors` lets a benchmark embed a pool of
sentences once and give each message the normalised mean of its sentences' vectors,
which keeps a 100,000-message archive's vectors realistic without encoding 100,000
texts on a 2-core machine.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from dovos.importers.parsed import ParsedConversation, ParsedMessage

TOPICS: dict[str, str] = {
    "garden": "garden tomatoes roses soil compost seeds watering shovel greenhouse harvest "
    "weeds flowers vegetables mulch orchard",
    "travel": "flight hotel passport luggage beach museum train itinerary airport visa "
    "mountains hiking tickets suitcase island",
    "cooking": "recipe oven garlic pasta sauce bread flour butter onions soup spices "
    "dinner kitchen baking salad",
    "music": "guitar concert piano song album violin drums choir melody lyrics band "
    "festival rehearsal singer chords",
    "code": "python database query index function error deploy server bug compiler "
    "library test commit branch schema",
    "health": "doctor running workout yoga sleep therapy diet vitamins marathon gym "
    "stretching injury nurse appointment meditation",
    "family": "sister brother kids parents wedding birthday grandmother cousin school "
    "anniversary baby holidays daughter son reunion",
    "money": "budget savings mortgage taxes salary invoice loan rent bank stocks "
    "insurance pension expenses receipt refund",
}
GLUE = (
    "I think the {a} was great but the {b} needs more work",
    "Yesterday we talked about the {a} and the {b}",
    "Can you help me with my {a}? The {b} is confusing",
    "My friend recommended a new {a} for the {b}",
    "We spent the weekend on the {a}, then fixed the {b}",
    "Do you remember the {a} from last year? It reminded me of the {b}",
    "The {a} finally worked after I changed the {b}",
    "I'm worried about the {a} because of the {b}",
)
QUESTIONS = (
    "What did I say about the {a}?",
    "When did we discuss the {a} and the {b}?",
    "Who recommended the {a}?",
    "How did the {a} turn out?",
)


@dataclass(frozen=True)
class GeneratedQuery:
    text: str
    topic: str


def _sentence(rng: random.Random, words: list[str]) -> str:
    a, b = rng.sample(words, 2)
    return rng.choice(GLUE).format(a=a, b=b)


def sentence_pool(size: int, seed: int = 7) -> list[str]:
    """`size` distinct-ish sentences across the topics."""
    rng = random.Random(seed)
    topics = list(TOPICS.values())
    return [_sentence(rng, topics[i % len(topics)].split()) for i in range(size)]


def generated_conversations(
    messages: int,
    *,
    per_conversation: int = 20,
    seed: int = 7,
    pool: list[str] | None = None,
    tag: str = "gen",
) -> tuple[list[ParsedConversation], list[list[int]]]:
    """`messages` turns in conversations of `per_conversation`; with `pool`, each turn is
    1-3 pool sentences and the second result lists which (for `pool_vectors`)."""
    rng = random.Random(seed)
    topic_words = [words.split() for words in TOPICS.values()]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    conversations, used = [], []
    for number, first in enumerate(range(0, messages, per_conversation)):
        turns = []
        for position in range(min(per_conversation, messages - first)):
            if pool is not None:
                picks = [rng.randrange(len(pool)) for _ in range(rng.randint(1, 3))]
                text = ". ".join(pool[i] for i in picks) + "."
                used.append(picks)
            else:
                text = _sentence(rng, rng.choice(topic_words)) + "."
            turns.append(
                ParsedMessage(
                    role="user" if position % 2 == 0 else "assistant",
                    content=text,
                    created_at=start + timedelta(hours=number, minutes=position),
                )
            )
        conversations.append(
            ParsedConversation(
                source=("chatgpt", "claude", "openwebui")[number % 3],
                source_id=f"{tag}-{number}",
                title=f"generated conversation {number}",
                messages=turns,
                created_at=start + timedelta(hours=number),
                metadata={"dataset": "generated", "group": f"g{number % 10}"},
            )
        )
    return conversations, used


def generated_queries(count: int, seed: int = 11) -> list[GeneratedQuery]:
    """Natural-language questions over the topic vocabularies."""
    rng = random.Random(seed)
    names = list(TOPICS)
    found = []
    for _ in range(count):
        topic = rng.choice(names)
        a, b = rng.sample(TOPICS[topic].split(), 2)
        found.append(GeneratedQuery(rng.choice(QUESTIONS).format(a=a, b=b), topic))
    return found


def pool_vectors(pool_embeddings: np.ndarray, used: list[list[int]]) -> np.ndarray:
    """Each message's vector: the normalised mean of its sentences' vectors."""
    vectors = np.stack([pool_embeddings[picks].mean(axis=0) for picks in used])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)
