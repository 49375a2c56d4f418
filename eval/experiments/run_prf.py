"""Pseudo-relevance feedback (RM3-style) out of fold, lexical leg and hybrid.

    DOVOS_HOME=/tmp/h3-ideas-home python -m eval.experiments.run_prf locomo

Reads what `prf.collect_by_terms` cached (run `python -m eval.experiments.prf DATASET`
first, or let this call it). The family is {no feedback} ∪ f × e × w; the choice is
made per fold on the training queries by nDCG@10 and scored on the held-out fold, for
the lexical leg alone and fused with the vector leg at the default fusion (0.7/0.3
min-max), each against today's default under the significance rule.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ranx import Run

from eval.experiments import harness, prf
from eval.experiments.fusion import fuse
from eval.experiments.harness import Bench

harness.CACHE = Path("/tmp/h3-runs")  # the vector leg is read from (copied into) here
RESULTS = Path("/tmp/h3-results")
METRICS = ("ndcg@10", "recall@10")


def cv_rows(bench: Bench, families: dict[str, dict[str, Run]], default: Run) -> list[dict]:
    """Each family chosen in fold, lexical and hybrid, against today's lexical run
    `default` (and its fusion)."""
    vec = bench.leg("vector")
    rows = []
    for leg in ("lexical", "hybrid"):
        for family, runs in families.items():
            base_run = default
            if leg == "hybrid":
                runs = {label: fuse(run, vec, (0.7, 0.3)) for label, run in runs.items()}
                base_run = fuse(default, vec, (0.7, 0.3))
            base = bench.cross_validate("default", {"default": base_run})
            result = bench.cross_validate(family, runs)
            for metric in METRICS:
                row = bench.compare(result, base, metric)
                row.update(leg=leg, base=round(base.mean(metric), 4),
                           per_fold=[round(f[metric], 4) for f in result.folds],
                           base_per_fold=[round(f[metric], 4) for f in base.folds],
                           fold_choices=[f["chosen"] for f in result.folds])
                rows.append(row)
    return rows


def variants(bench: Bench) -> dict[str, Run]:
    data = prf.collect_by_terms(bench)
    runs = {"no feedback": prf.combined(data, None, None, 0.0)}
    for f in prf.FEEDBACK:
        for e in prf.EXPANSION:
            for w in prf.WEIGHTS:
                runs[f"f={f} e={e} w={w}"] = prf.combined(data, f, e, w)
    return runs


def report(bench: Bench, name: str, runs: dict[str, Run],
           families: dict[str, dict[str, Run]], default: str, shown: int | None = None) -> list[dict]:
    """The families' out-of-fold rows against `runs[default]`, with every run's in-sample
    means, saved under RESULTS as `<name>-<dataset>.json` and printed (the `shown` best
    in-sample runs plus the default; all when None)."""
    in_sample = {label: bench.per_query(run).mean().round(4).to_dict() for label, run in runs.items()}
    rows = cv_rows(bench, families, runs[default])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}-{bench.dataset}.json").write_text(
        json.dumps({"rows": rows, "in_sample": in_sample}, indent=1))
    printed = sorted(in_sample, key=lambda label: -in_sample[label]["ndcg@10"])[:shown]
    for label in [*printed, *([default] if default not in printed else [])]:
        print("in-sample", label, in_sample[label])
    for row in rows:
        print(json.dumps(row))
    return rows


def main(dataset: str) -> list[dict]:
    bench = Bench(dataset)
    runs = variants(bench)
    forced = {k: v for k, v in runs.items() if k != "no feedback"}
    families = {"PRF f×e×w (or none)": runs, "PRF f×e×w (feedback forced)": forced}
    return report(bench, "prf", runs, families, "no feedback", shown=8)


if __name__ == "__main__":
    main(sys.argv[1])
