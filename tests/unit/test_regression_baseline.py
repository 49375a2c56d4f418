"""The baseline check and update as pure functions: tolerances, directions, skips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dovos.regression import (
    BenchReport,
    Figure,
    check,
    format_verdicts,
    load_baseline,
    regressions,
    update_baseline,
)
from dovos.regression.baseline import BaselineError


def _report(**values: float) -> BenchReport:
    report = BenchReport("quick")
    for name, value in values.items():
        kind = "speed" if name.startswith("speed") else "quality"
        report.add(Figure(name, value, kind, "x" if kind == "speed" else ""))
    return report


def test_update_then_check_passes_and_keeps_edited_tolerances(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    update_baseline(_report(quality_a=0.8, speed_b=2.0), path)
    data = json.loads(path.read_text())
    assert data["quick"]["figures"]["quality_a"]["tolerance"] == 0.005
    assert data["quick"]["figures"]["speed_b"]["tolerance_type"] == "relative"
    data["quick"]["figures"]["speed_b"]["tolerance"] = 0.2  # a maintainer tightened it
    path.write_text(json.dumps(data))

    update_baseline(_report(quality_a=0.81, speed_b=2.5), path)
    figures = load_baseline(path)["quick"]["figures"]
    assert figures["speed_b"] == {**figures["speed_b"], "value": 2.5, "tolerance": 0.2}
    assert figures["quality_a"]["value"] == 0.81
    assert not regressions(check(_report(quality_a=0.81, speed_b=2.5), load_baseline(path)))


def test_quality_is_compared_tightly_and_speed_one_sided_relative(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    update_baseline(_report(quality_a=0.8, speed_b=2.0), path)
    baseline = load_baseline(path)

    def verdicts(quality: float, speed: float) -> dict[str, str]:
        return {v.figure: v.verdict for v in check(_report(quality_a=quality, speed_b=speed), baseline)}

    assert verdicts(0.796, 1.01) == {"quality_a": "ok", "speed_b": "ok"}
    assert verdicts(0.794, 0.99) == {"quality_a": "REGRESSION", "speed_b": "REGRESSION"}
    assert verdicts(0.9, 9.0) == {"quality_a": "improved", "speed_b": "improved"}


def test_lower_is_better_figures_fail_when_they_grow(tmp_path: Path) -> None:
    report = BenchReport("quick")
    report.add(Figure("speed_cost", 10.0, "speed", "x", direction="lower"))
    path = tmp_path / "baseline.json"
    update_baseline(report, path)
    worse = BenchReport("quick", {"speed_cost": Figure("speed_cost", 16.0, "speed", direction="lower")})
    better = BenchReport("quick", {"speed_cost": Figure("speed_cost", 4.0, "speed", direction="lower")})
    assert [v.verdict for v in check(worse, load_baseline(path))] == ["REGRESSION"]
    assert [v.verdict for v in check(better, load_baseline(path))] == ["improved"]


def test_missing_figures_are_skipped_new_ones_reported_and_kept_on_update(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    update_baseline(_report(quality_a=0.8, quality_locomo=0.5), path)
    run = _report(quality_a=0.8, quality_new=0.3)  # LoCoMo absent this time, a new figure
    verdicts = {v.figure: v.verdict for v in check(run, load_baseline(path))}
    assert verdicts == {"quality_a": "ok", "quality_locomo": "skipped", "quality_new": "new"}
    assert "no regression" in format_verdicts(check(run, load_baseline(path)))

    update_baseline(run, path)
    assert set(load_baseline(path)["quick"]["figures"]) == {"quality_a", "quality_locomo", "quality_new"}


def test_the_table_names_each_regression(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    update_baseline(_report(quality_a=0.8, speed_b=2.0), path)
    table = format_verdicts(check(_report(quality_a=0.5, speed_b=2.0), load_baseline(path)))
    assert "quality_a" in table.splitlines()[1] and "REGRESSION" in table.splitlines()[1]
    assert table.splitlines()[-1] == "1 regression(s): quality_a"


def test_full_section_is_separate_from_quick(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    update_baseline(_report(quality_a=0.8), path)
    full = BenchReport("full", {"quality_a": Figure("quality_a", 0.1, "quality")})
    assert [v.verdict for v in check(full, load_baseline(path))] == ["new"]
    update_baseline(full, path)
    data = load_baseline(path)
    assert data["quick"]["figures"]["quality_a"]["value"] == 0.8
    assert data["full"]["figures"]["quality_a"]["value"] == 0.1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"quick": {"figures": {"a": {"value": "high", "tolerance": 0.1}}}}', "a'].value must be a number"),
        ('{"quick": {"figures": {"a": {"value": 1, "tolerance": 0.1, "tolerance_type": "odd"}}}}',
         "tolerance_type"),
        ('{"quick": {"figures": []}}', "quick.figures must be an object"),
    ],
)
def test_bad_baseline_files_name_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(content)
    with pytest.raises(BaselineError, match=message.replace("[", r"\[").replace("]", r"\]")) as error:
        load_baseline(path)
    assert str(path) in str(error.value)


def test_missing_baseline_file_says_how_to_record_one(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="--update"):
        load_baseline(tmp_path / "absent.json")


def test_update_is_atomic_when_the_report_cannot_be_written(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    update_baseline(_report(quality_a=0.8), path)
    before = path.read_text()
    broken = _report(quality_a=0.9)
    broken.info["unserialisable"] = object()
    with pytest.raises(TypeError):
        update_baseline(broken, path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["baseline.json"]
