"""Question rewrites out of fold, lexical leg and hybrid, against today's leg.

    DOVOS_HOME=/tmp/h3-ideas-home python -m eval.experiments.run_questions locomo
"""

from __future__ import annotations

import json
import sys

from eval.experiments.harness import Bench
from eval.experiments.question_variants import variants
from eval.experiments.run_prf import RESULTS, cv_rows


def main(dataset: str) -> list[dict]:
    bench = Bench(dataset)
    runs = variants(bench)
    in_sample = {label: bench.per_query(run).mean().round(4).to_dict() for label, run in runs.items()}
    families = {label: {label: run} for label, run in runs.items() if label != "today"}
    families["rewrite chosen in fold (or none)"] = runs
    rows = cv_rows(bench, families, runs["today"])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"questions-{dataset}.json").write_text(json.dumps({"rows": rows, "in_sample": in_sample}, indent=1))
    for label, scores in in_sample.items():
        print("in-sample", label, scores)
    for row in rows:
        print(json.dumps(row))
    return rows


if __name__ == "__main__":
    main(sys.argv[1])
