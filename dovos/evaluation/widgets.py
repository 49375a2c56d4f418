"""An ipywidgets view that re-fuses cached leg runs in memory as sliders move.

The lexical and vector legs are searched once (`tuning.leg_runs`); every slider move
then fuses them in memory with ranx (min-max weighted sum, or weighted RRF) and scores
the result against the judgments, in milliseconds, without touching the database.

    explorer = FusionExplorer(queryset, legs["lexical"], legs["vector"])
    explorer.widget()            # in a notebook cell: sliders + live metrics table
    explorer.score("wsum", 0.7)  # the same numbers as a plain call
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from ranx import Run

from dovos.evaluation.metrics import evaluate_runs
from dovos.evaluation.querysets import QuerySet
from dovos.evaluation.tuning import align_run, fuse_legs


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
        fused = fuse_legs(
            self.lexical,
            self.vector,
            method=method,
            lexical_weight=lexical_weight,
            rrf_k=rrf_k,
            name="fused",
        )
        return evaluate_runs(self.qrels, {"fused": fused}, self.metrics).loc["fused"]

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
        """Sliders (method, lexical weight, rrf k) and a table that follows them."""
        import ipywidgets as widgets
        from IPython.display import display

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
        output = widgets.Output()

        def refresh(_: Any = None) -> None:
            with output:
                output.clear_output(wait=True)
                display(self.table(method.value, weight.value, rrf_k.value).round(4))

        for control in (method, weight, rrf_k):
            control.observe(refresh, names="value")
        refresh()
        return widgets.VBox([method, weight, rrf_k, output])
