"""Lexical-leg ideas out of fold: BM25 k1/b, turn-context weight, names dropped.

    DOVOS_HOME=/tmp/ideas-home python -m eval.experiments.run_lexical locomo

Reads the runs `lexical_variants` cached. Each family is scored twice: the lexical leg
alone, and hybrid (the variant fused with the cached vector leg by the current default
fusion); both against the current default under the significance rule.
"""

from __future__ import annotations

import json
import sys

from eval.experiments.fusion import fuse
from eval.experiments.harness import Bench
from eval.experiments.lexical_variants import variants
from eval.experiments.run_fusion import RESULTS


def main(dataset: str) -> list[dict]:
    bench = Bench(dataset)
    lexical = variants(bench)
    vec = bench.leg("vector")
    hybrid = {label: fuse(run, vec, (0.7, 0.3)) for label, run in lexical.items()}
    families = {"BM25 k1/b": [k for k in lexical if k.startswith(("k1=", "default"))],
                "turn-context weight": [k for k in lexical if k.startswith(("context", "default"))],
                "speaker names dropped": [k for k in lexical if k.startswith(("names", "default"))]}
    base_lex = bench.cross_validate("lexical default", {"default": lexical["default"]})
    base_hyb = bench.cross_validate("hybrid default", {"default": hybrid["default"]})
    rows = []
    for family, labels in families.items():
        if len(labels) < 2:
            continue
        for leg, runs, base in (("lexical", lexical, base_lex), ("hybrid", hybrid, base_hyb)):
            result = bench.cross_validate(f"{family} ({leg})", {k: runs[k] for k in labels})
            for metric in ("ndcg@10", "recall@10"):
                rows.append(bench.compare(result, base, metric))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"lexical-{dataset}.json").write_text(json.dumps(rows, indent=1))
    for row in rows:
        print(json.dumps(row))
    return rows


if __name__ == "__main__":
    main(sys.argv[1])
