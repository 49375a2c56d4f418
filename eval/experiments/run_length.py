"""BM25 length definition (distinct lexemes vs tokens) out of fold, lexical and hybrid.

    DOVOS_HOME=/tmp/h3-ideas-home python -m eval.experiments.run_length locomo

Families: token length at today's k1/b (no choice); token length with b chosen in
fold; that or today's leg chosen in fold. All against today's leg (distinct
lexemes, k1 0.9, b 0.5) under the significance rule.
"""

from __future__ import annotations

import sys

from eval.experiments.harness import Bench
from eval.experiments.length_variants import variants
from eval.experiments.run_prf import report

DEFAULT = "distinct k1=0.9 b=0.5"


def main(dataset: str) -> list[dict]:
    bench = Bench(dataset)
    runs = variants(bench)
    families = {
        "tokens, k1 0.9 b 0.5 (plain swap)": {"tokens": runs["tokens k1=0.9 b=0.5"]},
        "tokens, b in fold": {k: v for k, v in runs.items() if k.startswith("tokens")},
        "tokens (b in fold) or today's leg": runs,
    }
    return report(bench, "length", runs, families, DEFAULT)

if __name__ == "__main__":
    main(sys.argv[1])
