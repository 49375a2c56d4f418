"""Question rewrites out of fold, lexical leg and hybrid, against today's leg.

    DOVOS_HOME=/tmp/h3-ideas-home python -m eval.experiments.run_questions locomo
"""

from __future__ import annotations

import sys

from eval.experiments.harness import Bench
from eval.experiments.question_variants import variants
from eval.experiments.run_prf import report


def main(dataset: str) -> list[dict]:
    bench = Bench(dataset)
    runs = variants(bench)
    families = {label: {label: run} for label, run in runs.items() if label != "today"}
    families["rewrite chosen in fold (or none)"] = runs
    return report(bench, "questions", runs, families, "today")

if __name__ == "__main__":
    main(sys.argv[1])
