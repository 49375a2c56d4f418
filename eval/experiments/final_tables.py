"""The closing CV tables: lexical, vector and hybrid out of fold, per fold and mean, with
hybrid against the lexical leg under the significance rule.

    DOVOS_HOME=/tmp/ideas-home python -m eval.experiments.final_tables locomo

"hybrid (kept defaults)" is the service's fusion with the code defaults (no parameter
is fitted, so its figures are out of fold as they stand); "hybrid (weight tuned in
fold)" chooses the lexical share on the training folds, as `dovos tune` would.
"""

from __future__ import annotations

import json
import sys

from eval.experiments.fusion import fuse
from eval.experiments.harness import Bench
from eval.experiments.run_fusion import RESULTS, WEIGHTS


def main(dataset: str, lexical: dict | None = None, tag: str = "") -> dict:
    """`lexical`: lexical-leg parameters (explicit, so the run cache, which is keyed by
    overrides and not by code defaults, cannot mix defaults of different commits)."""
    bench = Bench(dataset)
    lex, vec = bench.leg("lexical", lexical), bench.leg("vector")
    results = {
        "lexical": bench.cross_validate("lexical", {"lexical": lex}),
        "vector": bench.cross_validate("vector", {"vector": vec}),
        "hybrid (kept defaults)": bench.cross_validate(
            "hybrid (kept defaults)", {"w=0.7": fuse(lex, vec, (0.7, 0.3))}),
        "hybrid (weight tuned in fold)": bench.cross_validate(
            "hybrid (weight tuned in fold)",
            {f"w={x}": fuse(lex, vec, (x, round(1 - x, 2))) for x in WEIGHTS}),
    }
    out = {"folds": [len(f) for f in bench.folds], "runs": {}, "tests": []}
    for name, result in results.items():
        out["runs"][name] = {"mean": {m: round(result.mean(m), 4) for m in ("ndcg@10", "recall@10")},
                             "folds": result.folds}
    for name in ("hybrid (kept defaults)", "hybrid (weight tuned in fold)"):
        for metric in ("ndcg@10", "recall@10"):
            out["tests"].append(bench.compare(results[name], results["lexical"], metric))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"final-{dataset}{tag}.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    # python -m eval.experiments.final_tables locomo '{"context_weight": 0.25}' -kept
    main(sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else None,
         sys.argv[3] if len(sys.argv) > 3 else "")
