"""Vector-context variants out of fold on LoCoMo dev (vector leg alone and hybrid with the
cached lexical leg at the default fusion), against the service's vector leg.

    DOVOS_HOME=/tmp/ideas-home python -m eval.experiments.run_vector_context "previous + next 200"
"""

from __future__ import annotations

import json
import sys

from eval.experiments.fusion import fuse
from eval.experiments.harness import Bench
from eval.experiments.run_fusion import RESULTS
from eval.experiments.vector_context import vector_run


def main(variants: list[str]) -> list[dict]:
    bench = Bench("locomo")
    lex, vec = bench.leg("lexical"), bench.leg("vector")
    base_vec = bench.cross_validate("vector (service)", {"service": vec})
    base_hyb = bench.cross_validate("hybrid (service)", {"service": fuse(lex, vec, (0.7, 0.3))})
    rows = []
    for variant in variants:
        run = vector_run(bench, variant)
        for name, result, base in (
            ("vector", bench.cross_validate(f"{variant} (vector)", {variant: run}), base_vec),
            ("hybrid", bench.cross_validate(f"{variant} (hybrid)",
                                            {variant: fuse(lex, run, (0.7, 0.3))}), base_hyb),
        ):
            for metric in ("ndcg@10", "recall@10"):
                rows.append(bench.compare(result, base, metric))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "vector-context-locomo.json").write_text(json.dumps(rows, indent=1))
    for row in rows:
        print(json.dumps(row))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
