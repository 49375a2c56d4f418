"""Regression benchmarks: measure quality and same-run speed ratios, compare with a
committed baseline (`eval/baselines/regression.json`), fail on a regression.

    from dovos.regression import run_bench, load_baseline, check, update_baseline
    report = run_bench(quick=True)                       # BenchReport: figures + skips
    verdicts = check(report, load_baseline("eval/baselines/regression.json"))
    update_baseline(report, "eval/baselines/regression.json")   # only when asked

`dovos bench [--quick] [--check FILE] [--update FILE] [--json]` is the same as a command.
"""

from dovos.regression.baseline import (
    Verdict,
    check,
    format_verdicts,
    load_baseline,
    regressions,
    update_baseline,
)
from dovos.regression.figures import BenchReport, Figure
from dovos.regression.run import PHASES, run_bench

__all__ = [
    "PHASES",
    "BenchReport",
    "Figure",
    "Verdict",
    "check",
    "format_verdicts",
    "load_baseline",
    "regressions",
    "run_bench",
    "update_baseline",
]
