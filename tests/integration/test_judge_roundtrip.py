"""Judging round trip over the demo archive: 10 queries pooled, a judging process killed
with SIGKILL halfway (a kernel that dies), resumed, then `dovos eval --dataset
queryset:DIR` prints metrics for all 10, and the tuning notebook tunes on it. And the
demo query set read as `queryset:` gives the same figures as `--dataset demo` on a
database holding the demo archive.

The simulated judge is blind like a person: it sees only the query and the message
and grades by the demo set's own labels (0 for a message they do not name)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eval_support import truncate

from dovos.evaluation.judging import JudgingSession
from dovos.evaluation.querysets import QuerySet, read_qrels
from dovos.resources import demo_queryset_dir

pytestmark = pytest.mark.slow
DOVOS = str(Path(sys.executable).parent / "dovos")
QUERIES = 10

# A judging "kernel": grades (by the demo labels) one item at a time and says so after
# each grade has returned (is on disk); it is killed part way through.
JUDGE = textwrap.dedent(
    """
    import json, sys
    from dovos.evaluation.judging import JudgingSession
    from dovos.evaluation.querysets import QuerySet
    labels = QuerySet.load(sys.argv[2])
    text_to_id = {q.text: q.id for q in labels.queries}
    session = JudgingSession(sys.argv[1], judge="kernel-1")
    while (item := session.next_item()) is not None:
        grade = labels.qrels.get(text_to_id[item.query.text], {}).get(item.doc, 0)
        session.grade(item.query.id, item.doc, grade)
        print(json.dumps([item.query.id, item.doc, grade]), flush=True)
    """
)


@pytest.fixture(scope="module")
def demo(database_session, embedder) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    from dovos.evaluation.pipeline import prepare_dataset

    yield prepare_dataset("demo", database_session, embedder=embedder, progress=False)
    truncate(database_session)


def _pool_ten(directory: Path, service: Any) -> QuerySet:
    """10 demo queries whose pool holds at least one labeled message (so each is scorable)."""
    labels = QuerySet.load(demo_queryset_dir())
    session = JudgingSession(directory, service=service, depth=10, judge="setup")
    for query in labels.queries:
        added = session.add_query(query.text)
        pooled = {item.doc for item in session.items(added.id)}
        if not pooled & {d for d, r in labels.qrels.get(query.id, {}).items() if r > 0}:
            raise AssertionError(f"{query.id}: no labeled message in the pool of depth 10")
        if len(session.queries) == QUERIES:
            break
    return labels


def test_judge_kill_resume_and_eval(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = tmp_path / "mine"
    labels = _pool_ten(directory, demo.service)
    total = JudgingSession(directory, service=demo.service).totals()["pooled"]
    script = tmp_path / "judge_kernel.py"
    script.write_text(JUDGE)
    process = subprocess.Popen(
        [sys.executable, str(script), str(directory), str(demo_queryset_dir())],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    reported = []
    assert process.stdout is not None
    while len(reported) < total // 2:
        line = process.stdout.readline()
        assert line, f"the judging process ended early ({process.wait()})"
        reported.append(tuple(json.loads(line)))
    os.kill(process.pid, signal.SIGKILL)  # mid-way, maybe mid-write: nothing said is lost
    process.wait()
    on_disk = read_qrels(directory / "qrels.trec")
    for qid, doc, grade in reported:
        assert on_disk[qid][doc] == grade
    QuerySet.load(directory)  # every file whole: a kill mid-write leaves at most a temp file

    resumed = JudgingSession(directory, service=demo.service, judge="kernel-2")
    first = resumed.next_item()
    assert first is not None and first.doc not in on_disk.get(first.query.id, {})
    text_to_id = {q.text: q.id for q in labels.queries}
    while (item := resumed.next_item()) is not None:
        grade = labels.qrels.get(text_to_id[item.query.text], {}).get(item.doc, 0)
        resumed.grade(item.query.id, item.doc, grade)
    progress = resumed.progress()
    assert (progress["graded"] == progress["pooled"]).all() and len(progress) == QUERIES
    assert (progress["relevant"] > 0).all()
    manifest = json.loads((directory / "queryset.json").read_text())
    assert manifest["pool_depth"] == 10 and manifest["modes"] == ["lexical", "vector", "hybrid"]
    assert {"kernel-1", "kernel-2"} <= set(manifest["judges"]) and manifest["created"]
    contribution = resumed.contribution()
    assert contribution.loc["vector", "pooled"] > 0 and contribution["relevant"].sum() > 0

    done = subprocess.run(
        [
            DOVOS,
            "eval",
            "--dataset",
            f"queryset:{directory}",
            "--json",
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["info"]["queries"] == {"mine": QUERIES}
    runs = {row["run"]: row for row in result["metrics"]}
    assert set(runs) == {"lexical", "vector", "hybrid"}
    assert all(0 < row["ndcg@10"] <= 1 for row in runs.values())
    _tune_on(directory, tmp_path)


def _tune_on(directory: Path, tmp_path: Path) -> None:
    """The tuning notebook takes the judged set as its dataset (held-out half reported)."""
    import papermill

    from dovos.resources import notebooks_dir

    results = tmp_path / "tune.json"
    papermill.execute_notebook(
        str(notebooks_dir() / "tune_hybrid_weights.ipynb"),
        str(tmp_path / "tune.ipynb"),
        parameters={
            "dataset": f"queryset:{directory}",
            "interactive": False,
            "results_path": str(results),
        },
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
    )
    tuned = json.loads(results.read_text())
    assert tuned["queryset"] == "mine"
    assert tuned["train_queries"] + tuned["test_queries"] == QUERIES


def test_demo_directory_as_queryset_equals_dataset_demo(demo, database_session) -> None:  # type: ignore[no-untyped-def]
    from dovos.evaluation.pipeline import evaluate_dataset

    by_name = evaluate_dataset("demo", database=database_session, progress=False)
    by_path = evaluate_dataset(
        f"queryset:{demo_queryset_dir()}", database=database_session, progress=False
    )
    assert by_name.info["queries"]["demo"] == by_path.info["queries"]["demo"] > 0
    left = by_name.metrics.loc["demo"].sort_index()
    right = by_path.metrics.loc["demo"].sort_index()
    assert left.round(10).equals(right.round(10)), (left, right)
