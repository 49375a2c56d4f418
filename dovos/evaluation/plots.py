"""The workbench's matplotlib figures (notebooks call these; each returns its Figure).

Kept out of the notebooks so that they stay thin and every figure is built the same way
in a notebook, a report and a test.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np
import pandas as pd

COLORS = {"lexical": "#4c72b0", "vector": "#55a868", "hybrid": "#c44e52"}
SUPERSCRIPTS = str.maketrans(string.ascii_lowercase, "ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖqʳˢᵗᵘᵛʷˣʸᶻ")


def _color(name: str, index: int) -> str:
    import matplotlib.pyplot as plt

    return COLORS.get(name, plt.rcParams["axes.prop_cycle"].by_key()["color"][index % 10])


def significance_letters(
    metrics: pd.DataFrame, comparison: pd.DataFrame
) -> dict[tuple[str, str], str]:
    """{(run, metric): superscript letters of the runs it beats significantly}
    (dovos.evaluation.metrics.significance: both tests, p < 0.05)."""
    letters = {run: string.ascii_lowercase[i] for i, run in enumerate(metrics.index)}
    marks: dict[tuple[str, str], str] = {}
    for row in comparison.to_dict("records"):
        if not row.get("significant"):
            continue
        winner, loser = (
            (row["run_a"], row["run_b"])
            if row["mean_a"] > row["mean_b"]
            else (row["run_b"], row["run_a"])
        )
        if winner in letters and loser in letters:
            key = (winner, row["metric"])
            marks[key] = "".join(sorted(marks.get(key, "") + letters[loser]))
    return {key: value.translate(SUPERSCRIPTS) for key, value in marks.items()}


def plot_metrics(
    metrics: pd.DataFrame,
    comparison: pd.DataFrame,
    title: str = "Metrics per mode",
) -> Any:
    """Grouped bars (metric x run); a bar's superscripts name the runs it significantly beats."""
    import matplotlib.pyplot as plt

    runs, names = list(metrics.index), list(metrics.columns)
    marks = significance_letters(metrics, comparison)
    fig, ax = plt.subplots(figsize=(max(6, 1.9 * len(names) + 2), 4.2))
    width = 0.8 / len(runs)
    for i, run in enumerate(runs):
        positions = np.arange(len(names)) + (i - (len(runs) - 1) / 2) * width
        values = metrics.loc[run].to_numpy(dtype=float)
        letter = string.ascii_lowercase[i]
        bars = ax.bar(positions, values, width, label=f"{letter}: {run}", color=_color(run, i))
        for bar, metric, value in zip(bars, names, values, strict=True):
            ax.annotate(
                f"{value:.3f}{marks.get((run, metric), '')}",
                (bar.get_x() + bar.get_width() / 2, value),
                ha="center",
                va="bottom",
                fontsize=8,
                xytext=(0, 2),
                textcoords="offset points",
            )
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_ylim(0, min(1.12, float(np.nanmax(metrics.to_numpy(dtype=float))) * 1.18 + 0.02))
    ax.set_ylabel("score")
    ax.set_title(
        f"{title}\n(superscripts: runs beaten significantly: paired t-test and Fisher "
        "randomization both p<0.05)",
        fontsize=10,
    )
    ax.legend(loc="upper left", fontsize=8, ncols=len(runs))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_recall_curves(curve: pd.DataFrame, title: str = "Recall@k") -> Any:
    """recall@k against k (log scale), one line per run."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, run in enumerate(curve.columns):
        ax.plot(curve.index, curve[run], marker="o", label=run, color=_color(run, i))
    ax.set_xscale("log")
    ax.set_xticks(list(curve.index), [str(k) for k in curve.index])
    ax.set_xlabel("k")
    ax.set_ylabel("recall@k")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_categories(
    categories: pd.DataFrame, metric: str = "ndcg@10", title: str = "Per category"
) -> Any:
    """Bars of `metric` per query category and run (index: category, run)."""
    import matplotlib.pyplot as plt

    table = categories[metric].unstack("run")
    order = [run for run in COLORS if run in table.columns]
    table = table[order + [run for run in table.columns if run not in order]]
    counts = categories["queries"].groupby(level="category").first()
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(table) + 2), 4))
    width = 0.8 / len(table.columns)
    for i, run in enumerate(table.columns):
        positions = np.arange(len(table)) + (i - (len(table.columns) - 1) / 2) * width
        ax.bar(positions, table[run].to_numpy(dtype=float), width, label=run, color=_color(run, i))
    labels = [f"{category}\n(n={int(counts[category])})" for category in table.index]
    ax.set_xticks(np.arange(len(table)), labels, fontsize=8)
    ax.set_ylabel(metric)
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_drain(frame: pd.DataFrame, title: str = "Embedding queue draining") -> Any:
    """Pending/running jobs and embedding coverage against time."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(frame["seconds"], frame["pending"], label="pending", color="#dd8452")
    left.plot(frame["seconds"], frame["running"], label="running", color="#4c72b0")
    left.set_xlabel("seconds")
    left.set_ylabel("jobs")
    left.set_title("queue")
    left.legend()
    left.grid(alpha=0.3)
    right.plot(frame["seconds"], frame["percent"], color="#55a868")
    right.axhline(100, color="black", linewidth=0.8, linestyle="--")
    right.set_ylim(0, 105)
    right.set_xlabel("seconds")
    right.set_ylabel("% of the archive's messages embedded")
    right.set_title("coverage")
    right.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_weight_sweep(
    sweep: pd.DataFrame, legs: pd.Series, metric: str, chosen: float | None = None
) -> Any:
    """`metric` of in-memory fusion against the lexical weight, legs as reference lines."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for i, column in enumerate(sweep.columns):
        ax.plot(sweep.index, sweep[column], marker=".", label=column, color=f"C{i + 3}")
    for name, value in legs.items():
        ax.axhline(
            value, linestyle="--", linewidth=1, color=_color(str(name), 0), label=f"{name} alone"
        )
    if chosen is not None:
        ax.axvline(chosen, color="black", linewidth=0.8, linestyle=":", label="chosen weight")
    ax.set_xlabel("lexical weight (vector weight = 1 - lexical)")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} of the fused legs as the weight moves (test split)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


TREND_MARGIN = pd.Timedelta(hours=1)  # each side of the runs when they span (almost) no time


def trend_limits(dates: pd.Series) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The time axis of a trend: the first to the last report, 5% of the span (at least
    an hour) on each side. Matplotlib's own autoscaling gives a single point years on
    each side (2025-2029 for one report), which hides what changed."""
    first, last = dates.min(), dates.max()
    margin = max((last - first) * 0.05, TREND_MARGIN)
    return first - margin, last + margin


def plot_trend(history: pd.DataFrame, columns: list[str], title: str = "Headline figures") -> Any:
    """Each headline column against the report date (one point per report); the time axis
    spans the reports (`trend_limits`)."""
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.8))
    x = pd.to_datetime(history["date"], utc=True)
    for i, column in enumerate(columns):
        if column in history and history[column].notna().any():
            ax.plot(x, history[column], marker="o", label=column, color=f"C{i}")
    low, high = trend_limits(x)
    ax.set_xlim(low.to_pydatetime(), high.to_pydatetime())
    locator = mdates.AutoDateLocator(minticks=2, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_ylabel("score")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_latency(frame: pd.DataFrame, title: str = "Latency vs the legacy baselines") -> Any:
    """Horizontal bars of p50 and p95 per endpoint (log scale) with the legacy baseline."""
    import matplotlib.pyplot as plt

    frame = frame.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(frame) + 1.6))
    positions = np.arange(len(frame))
    ax.barh(positions - 0.2, frame["p50_ms"], height=0.4, label="p50", color="#4c72b0")
    ax.barh(positions + 0.2, frame["p95_ms"], height=0.4, label="p95", color="#dd8452")
    ax.scatter(
        frame["legacy_ms"],
        positions,
        marker="|",
        s=400,
        color="black",
        label="legacy baseline",
        zorder=3,
    )
    ax.set_yticks(positions, frame["endpoint"])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds (log scale)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    return fig
