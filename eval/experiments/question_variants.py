"""Question handling for the lexical leg: question-frame words and dates dropped.

PostgreSQL's english stopword list already drops what/when/did/how/why/where/who/which;
what it keeps of a question's frame are words such as "kind", "type", "would",
"likely" (stemmed to "like", in one LoCoMo turn in nine), "might", "many", "times".
LoCoMo turns carry no dates (the session date is the message's created_at), so month
names and years in a question ("When did Melanie go camping in June?") can only match
by accident. Each rewrite is one cached service run; applied to both datasets (the
rules are not dataset-specific; NFCorpus titles rarely contain any of these words).

    DOVOS_HOME=/tmp/h3-ideas-home python -m eval.experiments.question_variants locomo
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from ranx import Run

from eval.experiments import harness
from eval.experiments.harness import Bench

harness.CACHE = Path("/tmp/h3-runs")
TODAY = {"bm25_k1": 0.9, "bm25_b": 0.5}  # explicit: the run cache is keyed by overrides
FRAME = {"kind", "kinds", "type", "types", "sort", "would", "could", "might", "likely",
         "probably", "many", "times"}
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"]
DATE = re.compile(r"^(?:" + "|".join(MONTHS) + r"|(?:19|20)\d\d)$", re.IGNORECASE)


def dropping(test: Callable[[str], bool]) -> Callable[[str], str]:
    """A rewrite that removes the words `test` accepts (punctuation kept)."""

    def rewrite(text: str) -> str:
        parts = re.split(r"(\W+)", text)
        return "".join(p for p in parts if not (p and test(p)))

    return rewrite


RULES: dict[str, Callable[[str], bool]] = {
    "frame words dropped": lambda w: w.lower() in FRAME,
    "dates dropped": lambda w: bool(DATE.match(w)),
    "frame words and dates dropped": lambda w: w.lower() in FRAME or bool(DATE.match(w)),
}


def variants(bench: Bench) -> dict[str, Run]:
    runs = {"today": bench.leg("lexical", TODAY)}
    for label, test in RULES.items():
        runs[label] = bench.leg("lexical", TODAY, query_text=dropping(test), tag=label)
    return runs


if __name__ == "__main__":
    bench = Bench(sys.argv[1])
    for label, run in variants(bench).items():
        print(label, bench.per_query(run).mean().round(4).to_dict(), flush=True)
