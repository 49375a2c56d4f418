"""The committed baseline: load it, compare a run with it, rewrite it when asked.

The file (`eval/baselines/regression.json`) holds one section per run mode ("quick",
"full"); each figure has its value and its tolerance:

- quality figures: an absolute tolerance (default 0.005): they are deterministic, so
  anything beyond rounding noise in either the code or the data is a real change;
- speed figures: a relative, one-sided tolerance (default 0.5: fail only when a ratio
  loses more than half of its baseline value), generous enough that a noisy, shared
  2-core machine does not fail the check, tight enough to catch a slowdown that costs
  as much as the path itself.

A figure that gets better beyond its tolerance passes ("improved": refresh the
baseline); a baseline figure missing from the run (its data absent, its phase not run)
is "skipped", never a failure; a figure the baseline lacks is "new".
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dovos.regression.figures import BenchReport, Figure

DEFAULT_TOLERANCE: dict[str, tuple[float, str]] = {
    "quality": (0.005, "absolute"),
    "speed": (0.5, "relative"),
}
FAILED = "REGRESSION"


class BaselineError(ValueError):
    """The baseline file cannot be read; the message names the file and the field."""


@dataclass(frozen=True)
class Verdict:
    """One row of the check table."""

    figure: str
    baseline: float | None
    now: float | None
    tolerance: float | None
    tolerance_type: str  # "absolute" | "relative" | ""
    direction: str
    verdict: str  # ok | improved | REGRESSION | skipped | new

    @property
    def failed(self) -> bool:
        return self.verdict == FAILED

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed": self.failed}


def load_baseline(path: str | Path) -> dict[str, Any]:
    """The baseline file as a dict; BaselineError names what is wrong with it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise BaselineError(f"baseline {path} does not exist (record one with --update)") from error
    except json.JSONDecodeError as error:
        raise BaselineError(f"baseline {path} is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise BaselineError(f"baseline {path}: expected a JSON object at the top level")
    for mode, section in data.items():
        if mode in ("quick", "full"):
            _check_section(path, mode, section)
    return data


def _check_section(path: Path, mode: str, section: Any) -> None:
    figures = section.get("figures") if isinstance(section, dict) else None
    if not isinstance(figures, dict):
        raise BaselineError(f"baseline {path}: {mode}.figures must be an object")
    for name, entry in figures.items():
        where = f"baseline {path}: {mode}.figures[{name!r}]"
        if not isinstance(entry, dict):
            raise BaselineError(f"{where} must be an object")
        for key in ("value", "tolerance"):
            if not isinstance(entry.get(key), int | float) or isinstance(entry.get(key), bool):
                raise BaselineError(f"{where}.{key} must be a number")
        if entry.get("tolerance_type", "absolute") not in ("absolute", "relative"):
            raise BaselineError(f"{where}.tolerance_type must be 'absolute' or 'relative'")
        if entry.get("direction", "higher") not in ("higher", "lower"):
            raise BaselineError(f"{where}.direction must be 'higher' or 'lower'")


def check(report: BenchReport, baseline: dict[str, Any]) -> list[Verdict]:
    """Compare every figure of the report's mode with the baseline, baseline order first."""
    expected = baseline.get(report.mode, {}).get("figures", {})
    verdicts = [_verdict(name, entry, report.figures.get(name)) for name, entry in expected.items()]
    for name, figure in report.figures.items():
        if name not in expected:
            verdicts.append(Verdict(name, None, figure.value, None, "", figure.direction, "new"))
    return verdicts


def _verdict(name: str, entry: dict[str, Any], figure: Figure | None) -> Verdict:
    base = float(entry["value"])
    tolerance = float(entry["tolerance"])
    kind = entry.get("tolerance_type", "absolute")
    direction = entry.get("direction", "higher")
    if figure is None:
        return Verdict(name, base, None, tolerance, kind, direction, "skipped")
    now = figure.value
    gain = (now - base) if direction == "higher" else (base - now)
    if kind == "relative":
        gain = gain / abs(base) if base else math.inf * gain
    if math.isnan(now) or gain < -tolerance - 1e-12:
        outcome = FAILED
    elif gain > tolerance + 1e-12:
        outcome = "improved"
    else:
        outcome = "ok"
    return Verdict(name, base, now, tolerance, kind, direction, outcome)


def regressions(verdicts: list[Verdict]) -> list[Verdict]:
    """The failing rows."""
    return [verdict for verdict in verdicts if verdict.failed]


def format_verdicts(verdicts: list[Verdict]) -> str:
    """The check table: figure, baseline, now, tolerance, verdict."""
    rows = [f"{'figure':<44}{'baseline':>10}{'now':>10}  {'tolerance':<18}verdict"]
    for v in verdicts:
        tolerance = "-"
        if v.tolerance is not None:
            sign = "-" if v.direction == "higher" else "+"
            tolerance = (f"{sign}{v.tolerance:.0%} relative" if v.tolerance_type == "relative"
                         else f"{sign}{v.tolerance:g} absolute")
        rows.append(f"{v.figure:<44}{_number(v.baseline):>10}{_number(v.now):>10}  "
                    f"{tolerance:<18}{v.verdict}")
    failed = regressions(verdicts)
    rows.append(f"{len(failed)} regression(s): " + ", ".join(v.figure for v in failed)
                if failed else "no regression")
    return "\n".join(rows)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def update_baseline(report: BenchReport, path: str | Path) -> dict[str, Any]:
    """Write the report's figures into the baseline file's section for its mode.

    Tolerances already in the file are kept; new figures get the default of their kind.
    Figures of the file that this run did not measure (skipped) are kept as they were.
    """
    path = Path(path)
    data = load_baseline(path) if path.exists() else {}
    section = data.get(report.mode, {})
    old = section.get("figures", {})
    figures = {name: _entry(figure, old.get(name)) for name, figure in report.figures.items()}
    figures.update({name: entry for name, entry in old.items() if name not in figures})
    data[report.mode] = {
        "recorded": {"date": datetime.now(UTC).isoformat(timespec="seconds"), **report.info},
        "figures": figures,
    }
    _write_json(path, data)
    return data


def _entry(figure: Figure, old: dict[str, Any] | None) -> dict[str, Any]:
    tolerance, kind = DEFAULT_TOLERANCE[figure.kind]
    if old is not None:
        tolerance = float(old["tolerance"])
        kind = old.get("tolerance_type", kind)
    digits = 4 if figure.kind == "quality" else 3
    return {
        "value": round(figure.value, digits),
        "tolerance": tolerance,
        "tolerance_type": kind,
        "direction": figure.direction,
        "kind": figure.kind,
        "unit": figure.unit,
        "reference": figure.reference,
    }


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically: an interrupted update leaves the old file intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(data, file, indent=2, ensure_ascii=False)
            file.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
