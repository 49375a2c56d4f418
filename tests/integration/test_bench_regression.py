"""The regression check end to end: real sibling databases on the session's server, the
real model and worker, the demo archive. A baseline recorded from this code passes; a
hybrid vector weight forced to zero and a slowed-down search path each fail it, naming
the figure; `dovos bench --check` exits non-zero on a regression."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dovos.regression import check, load_baseline, regressions, run_bench, update_baseline
from dovos.search.service import SearchService

DOVOS = str(Path(sys.executable).parent / "dovos")
FAST_PHASES = ["demo", "search"]


class SlowSearchService(SearchService):
    """An injected regression: every search pays 60 ms more (e.g. a lost index)."""

    def search(self, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.06)
        return super().search(*args, **kwargs)


@pytest.fixture(scope="module")
def baseline(database_session, embedder, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """A quick-mode baseline of the fast phases, recorded from the code under test."""
    path = tmp_path_factory.mktemp("bench") / "regression.json"
    report = run_bench(True, database=database_session, embedder=embedder,
                       phases=FAST_PHASES, progress=False)
    update_baseline(report, path)
    return path


def _names(database: Any) -> set[str]:
    with database.connect() as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database").fetchall()}


@pytest.mark.slow
def test_check_passes_against_a_baseline_of_the_same_code(database_session, embedder, baseline) -> None:  # type: ignore[no-untyped-def]
    report = run_bench(True, database=database_session, embedder=embedder,
                       phases=FAST_PHASES, progress=False)
    verdicts = check(report, load_baseline(baseline))
    assert not regressions(verdicts), verdicts
    recorded = load_baseline(baseline)["quick"]["figures"]
    for mode in ("lexical", "vector", "hybrid"):  # deterministic: equal to the recording
        name = f"demo.{mode}.ndcg@10"
        assert abs(report.value(name) - recorded[name]["value"]) < 1e-3
    assert 0 < report.value("search.hybrid_vs_bare_legs") < 1  # the legs alone are cheaper
    assert not any(name.endswith("_bench") for name in _names(database_session))


@pytest.mark.slow
def test_zero_vector_weight_fails_the_hybrid_quality_figures(database_session, embedder, baseline) -> None:  # type: ignore[no-untyped-def]
    report = run_bench(True, database=database_session, embedder=embedder, phases=["demo"],
                       params={"vector_weight": 0.0}, progress=False)
    verdicts = {v.figure: v for v in check(report, load_baseline(baseline))}
    assert verdicts["demo.hybrid.ndcg@10"].failed
    assert verdicts["demo.lexical.ndcg@10"].verdict == "ok"
    assert verdicts["search.hybrid_vs_bare_legs"].verdict == "skipped"  # not run: no failure


@pytest.mark.slow
def test_a_slower_search_path_fails_the_search_ratio(database_session, embedder, baseline) -> None:  # type: ignore[no-untyped-def]
    report = run_bench(True, database=database_session, embedder=embedder, phases=["search"],
                       search_service=SlowSearchService, progress=False)
    failed = regressions(check(report, load_baseline(baseline)))
    assert [v.figure for v in failed] == ["search.hybrid_vs_bare_legs"]


def _dovos(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DOVOS, *args], capture_output=True, text=True, timeout=600,
                          env=os.environ.copy(), check=False)


@pytest.mark.slow
def test_cli_check_exits_non_zero_and_names_the_regression(database_session, baseline, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = load_baseline(baseline)
    data["quick"]["figures"]["demo.hybrid.recall@10"]["value"] = 0.999  # now out of reach
    raised = tmp_path / "raised.json"
    raised.write_text(json.dumps(data))

    done = _dovos("bench", "--quick", "--phase", "demo", "--check", str(raised), "--json")
    assert done.returncode == 1, done.stderr[-2000:]
    verdicts = {v["figure"]: v for v in json.loads(done.stdout)["verdicts"]}
    assert verdicts["demo.hybrid.recall@10"]["verdict"] == "REGRESSION"
    assert verdicts["demo.hybrid.ndcg@10"]["verdict"] == "ok"
    assert verdicts["search.hybrid_vs_bare_legs"]["verdict"] == "skipped"

    done = _dovos("bench", "--quick", "--phase", "demo", "--check", str(baseline))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "no regression" in done.stdout
    assert "figure" in done.stdout and "tolerance" in done.stdout and "verdict" in done.stdout


def test_unknown_phase_and_bad_baseline_are_clear_errors(database_session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="unknown phase"):
        run_bench(True, database=database_session, phases=["demo", "nonsense"])
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    done = _dovos("bench", "--quick", "--check", str(broken))
    assert done.returncode == 1
    assert "broken.json is not valid JSON" in done.stderr


def test_a_role_that_cannot_create_databases_gets_a_clear_error(database_session, embedder) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from sqlalchemy.engine import make_url

    from dovos.regression.scratch import ScratchDatabaseError

    with database_session.connect(autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS bench_no_createdb")
        conn.execute("CREATE ROLE bench_no_createdb LOGIN NOCREATEDB")
    url = make_url(database_session.url).set(username="bench_no_createdb")
    try:
        with pytest.raises(ScratchDatabaseError, match="CREATEDB") as error:
            run_bench(True, database=SimpleNamespace(url=url.render_as_string(False)),
                      embedder=embedder, phases=["demo"], progress=False)
        assert "_bench" in str(error.value)
    finally:
        with database_session.connect(autocommit=True) as conn:
            conn.execute("DROP ROLE bench_no_createdb")
