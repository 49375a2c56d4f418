"""An ipywidgets view that re-fuses cached leg runs in memory as sliders move.

The lexical and vector legs are searched once (`tuning.leg_runs`); every slider move
then fuses them in memory (`tuning.fused_scores`: the min-max weighted sum that ranx.fuse
and the service compute, or weighted RRF) and scores the result with ranx against the
judgments, without touching the database (`dovos.benchmarks.evaluation` measures how
much faster that is than re-ranking through the database).

    explorer = FusionExplorer(queryset, legs["lexical"], legs["vector"])
    explorer.widget()            # in a notebook cell: sliders + live metrics table
    explorer.score("wsum", 0.7)  # the same numbers as a plain call
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from ranx import Qrels, Run, evaluate

from dovos.evaluation.metrics import evaluate_runs
from dovos.evaluation.querysets import QuerySet
from dovos.evaluation.tuning import align_run, fused_scores


class FusionExplorer:
    """Fuse two cached leg runs with any weights and show the metrics."""

    def __init__(
        self,
        queryset: QuerySet,
        lexical: Run,
        vector: Run,
        metrics: list[str] | None = None,
    ) -> None:
        self.queryset = queryset.judged()
        self.qrels = self.queryset.to_ranx()
        self.lexical = align_run(lexical, self.queryset)
        self.vector = align_run(vector, self.queryset)
        self.metrics = metrics or ["ndcg@10", "recall@10", "mrr"]
        self._legs = (self.lexical.to_dict(), self.vector.to_dict())
        # Queries neither leg answered score 0 whatever the weights: score the others and
        # scale by their share, so each move converts no more than it must.
        judged = self.qrels.to_dict()
        self._answered = [q for q in sorted(judged) if self._legs[0].get(q) or self._legs[1].get(q)]
        self._answered_qrels = Qrels.from_dict({q: judged[q] for q in self._answered})
        self._share = len(self._answered) / len(judged)
        self._score = lru_cache(maxsize=512)(self._compute)

    def legs(self) -> pd.DataFrame:
        """The two legs alone, for reference next to any fusion."""
        return evaluate_runs(
            self.qrels, {"lexical": self.lexical, "vector": self.vector}, self.metrics
        )

    def score(
        self, method: str = "wsum", lexical_weight: float = 0.5, rrf_k: int = 60
    ) -> pd.Series:
        """Metrics of the legs fused with `method` ("wsum" or "rrf") and these weights."""
        if method not in ("wsum", "rrf"):
            raise ValueError(f"method must be 'wsum' or 'rrf', got {method!r}")
        if not 0.0 <= lexical_weight <= 1.0:
            raise ValueError(f"lexical_weight must be in [0, 1], got {lexical_weight}")
        return self._score(method, round(float(lexical_weight), 4), int(rrf_k)).copy()

    def _compute(self, method: str, lexical_weight: float, rrf_k: int) -> pd.Series:
        if not self._answered:
            return pd.Series(0.0, index=self.metrics)
        fused = fused_scores(*self._legs, method, lexical_weight, 1.0 - lexical_weight, rrf_k)
        run = Run.from_dict({q: fused[q] for q in self._answered})
        asked = list(dict.fromkeys([*self.metrics, "mrr", "map"]))  # ranx needs two or more
        values = evaluate(self._answered_qrels, run, asked, save_results_in_run=False)
        return pd.Series({m: float(values[m]) * self._share for m in self.metrics})

    def sweep(self, metric: str | None = None, steps: int = 11, rrf_k: int = 60) -> pd.DataFrame:
        """`metric` for lexical weights 0..1 (rows) under wsum and rrf (columns)."""
        metric = metric or self.metrics[0]
        weights = [round(w, 4) for w in np.linspace(0.0, 1.0, steps)]
        frame = pd.DataFrame(
            {
                method: [self.score(method, w, rrf_k)[metric] for w in weights]
                for method in ("wsum", "rrf")
            },
            index=pd.Index(weights, name="lexical_weight"),
        )
        return frame

    def table(self, method: str, lexical_weight: float, rrf_k: int) -> pd.DataFrame:
        """Legs and the current fusion side by side."""
        frame = self.legs()
        frame.loc[f"{method} (lexical {lexical_weight:.2f})"] = self.score(
            method, lexical_weight, rrf_k
        )
        return frame

    def widget(self) -> Any:
        """Sliders (method, lexical weight, rrf k) and a table that follows them.

        The table is an HTML widget whose value is replaced on every move (not an Output
        widget capturing display calls, which can stall a headless papermill run).
        """
        import ipywidgets as widgets

        method = widgets.ToggleButtons(options=["wsum", "rrf"], value="wsum", description="fusion")
        weight = widgets.FloatSlider(
            value=0.5,
            min=0.0,
            max=1.0,
            step=0.05,
            description="lexical weight",
            continuous_update=True,
        )
        rrf_k = widgets.IntSlider(value=60, min=1, max=200, step=1, description="rrf k")
        table = widgets.HTML()

        def refresh(_: Any = None) -> None:
            frame = self.table(method.value, weight.value, rrf_k.value).round(4)
            table.value = frame.to_html(border=0)

        for control in (method, weight, rrf_k):
            control.observe(refresh, names="value")
        refresh()
        return widgets.VBox([method, weight, rrf_k, table])
