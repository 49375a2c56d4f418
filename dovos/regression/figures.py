"""What a benchmark run produces: named figures, each with its direction and reference.

Quality figures (nDCG@10, recall@10) are deterministic for a given archive and code, so
a baseline compares them tightly. Speed figures are always ratios of two timings taken
in the same run on the same machine (never absolute milliseconds), so a busy machine
slows both sides and the ratio stays put.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Direction = Literal["higher", "lower"]
Kind = Literal["quality", "speed"]


@dataclass(frozen=True)
class Figure:
    """One measured number and what it means."""

    name: str  # baseline key, e.g. "demo.hybrid.ndcg@10"
    value: float
    kind: Kind
    unit: str = ""  # "" for metrics, "x" for ratios
    direction: Direction = "higher"  # which way is better
    reference: str = ""  # what it is measured against (speed) or on (quality)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BenchReport:
    """All figures of one run, the phases skipped (with why) and run details."""

    mode: Literal["quick", "full"]
    figures: dict[str, Figure] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # phase -> reason
    seconds: dict[str, float] = field(default_factory=dict)  # phase -> wall time
    info: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: Figure) -> None:
        self.figures[figure.name] = figure

    def value(self, name: str) -> float:
        return self.figures[name].value

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "figures": {name: figure.as_dict() for name, figure in self.figures.items()},
            "skipped": dict(self.skipped),
            "seconds": dict(self.seconds),
            "info": dict(self.info),
        }

    def format(self) -> str:
        """The figures as a plain table (what `dovos bench` prints without --check)."""
        rows = [f"{'figure':<44}{'value':>10}  {'against'}"]
        for figure in self.figures.values():
            value = f"{figure.value:.4f}" if figure.kind == "quality" else f"{figure.value:.3f}x"
            rows.append(f"{figure.name:<44}{value:>10}  {figure.reference}")
        for phase, reason in self.skipped.items():
            rows.append(f"{phase + ' (skipped)':<44}{'-':>10}  {reason}")
        total = sum(self.seconds.values())
        rows.append(f"{self.mode} run: {total:.0f} s (" + ", ".join(
            f"{phase} {seconds:.0f} s" for phase, seconds in self.seconds.items()) + ")")
        return "\n".join(rows)
