"""Judging and queryset: on bad input: an empty archive, a query with no hits, a query set
whose ids are not in this archive, two tabs (two processes, and two threads) grading the
same set at once, grades that are not 0/1/2."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dovos.evaluation.judging import JudgingSession, PoolItem, write_pools
from dovos.evaluation.queryset_archive import MissingDocumentsError
from dovos.evaluation.querysets import Query, QuerySet, QuerySetError, read_qrels

DOVOS = str(Path(sys.executable).parent / "dovos")


def test_empty_archive(database, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from dovos.evaluation.datasets import resolve_dataset
    from dovos.evaluation.explore import explore
    from dovos.search.service import SearchService

    service = SearchService(database, embedder)
    frame = explore("anything at all", service=service)
    assert frame.empty
    assert any("ranked lexically" in note for note in frame.attrs["notes"]["hybrid"])
    session = JudgingSession(tmp_path / "set", service=service)
    query = session.add_query("anything at all")
    assert session.items(query.id) == [] and session.next_item() is None
    assert session.totals() == {"queries": 1, "pooled": 0, "graded": 0, "relevant": 0}
    with pytest.raises(QuerySetError, match="import conversations first"):
        session.draw_known_items(3)
    with pytest.raises(QuerySetError, match="no short user turn"):
        session.draw_user_turns(3)
    from dovos.resources import demo_queryset_dir

    with pytest.raises(MissingDocumentsError, match=r"(\d+) of \1 judged message ids"):
        resolve_dataset(f"queryset:{demo_queryset_dir()}", database)


def test_query_with_no_hits_and_ids_not_in_archive(database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Lexical only (no model needed): the demo archive imported, not embedded."""
    from dovos.evaluation.datasets import demo_dataset, ensure_imported, resolve_dataset
    from dovos.search.service import SearchService

    ensure_imported(database, demo_dataset(), progress=False)
    session = JudgingSession(tmp_path / "set", service=SearchService(database), modes=["lexical"])
    nothing = session.add_query("qqxzv zzqvx")
    found = session.add_query("sourdough starter")
    assert session.items(nothing.id) == [] and len(session.items(found.id)) > 0
    item = session.next_item()
    assert item is not None and item.query.id == found.id  # the empty pool is skipped
    progress = session.progress().set_index("query_id")
    assert progress.loc[nothing.id, "pooled"] == 0

    foreign = tmp_path / "foreign"
    QuerySet(
        "foreign",
        [Query("f1", "starter"), Query("f2", "espresso")],
        {"f1": {"demo-cg01-01": 1, "not-here-1": 2}, "f2": {"not-here-2": 1, "not-here-3": 0}},
    ).save(foreign)
    with pytest.raises(MissingDocumentsError, match="2 of 3 judged message ids are not in"):
        resolve_dataset(f"queryset:{foreign}", database)
    done = subprocess.run(
        [DOVOS, "eval", "--dataset", f"queryset:{foreign}", "--modes", "lexical"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=600,
        check=False,
    )
    assert done.returncode == 1
    assert "2 of 3 judged message ids are not in this archive" in done.stderr + done.stdout
    with pytest.raises(Exception, match="does not exist"):
        resolve_dataset(f"queryset:{tmp_path / 'nowhere'}", database)


def _pooled_set(directory: Path, queries: int = 4, per_query: int = 30) -> list[tuple[str, str]]:
    """A query set with synthetic pools (no database needed to grade)."""
    session = JudgingSession(directory, judge="setup")
    pools = {
        f"q{n:03d}": [
            PoolItem(f"d{n}-{i}", "", "t", "user", "2024-01-01", "x") for i in range(per_query)
        ]
        for n in range(1, queries + 1)
    }
    write_pools(pools, directory / "pools.jsonl")
    lines = "".join(json.dumps({"id": qid, "text": f"query {qid}"}) + "\n" for qid in pools)
    (directory / "queries.jsonl").write_text(lines)
    session.refresh()
    return [(qid, item.doc) for qid, items in pools.items() for item in items]


def _grade_all(directory: str, items: list[tuple[str, str]], grade: int, judge: str) -> None:
    session = JudgingSession(directory, judge=judge)
    for qid, doc in items:
        session.grade(qid, doc, grade)


def test_two_tabs_grading_at_once_lose_nothing(tmp_path: Path) -> None:
    """Two kernels (processes) and two threads grade interleaved items of the same set."""
    items = _pooled_set(tmp_path / "set")
    halves = [items[0::4], items[1::4]]
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_grade_all, args=(str(tmp_path / "set"), half, g, f"tab-{g}"))
        for g, half in enumerate(halves, start=1)
    ]
    threads = [
        threading.Thread(target=_grade_all, args=(str(tmp_path / "set"), part, 0, "thread"))
        for part in (items[2::4], items[3::4])
    ]
    for worker in (*processes, *threads):
        worker.start()
    for thread in threads:
        thread.join(300)
    for process in processes:
        process.join(300)
        assert process.exitcode == 0
    qrels = read_qrels(tmp_path / "set" / "qrels.trec")
    graded = {(qid, doc): rel for qid, docs in qrels.items() for doc, rel in docs.items()}
    assert len(graded) == len(items)
    assert all(graded[item] == 1 for item in halves[0])
    assert all(graded[item] == 2 for item in halves[1])
    manifest = json.loads((tmp_path / "set" / "queryset.json").read_text())
    assert {"tab-1", "tab-2", "thread"} <= set(manifest["judges"])
    assert JudgingSession(tmp_path / "set").next_item() is None


def test_bad_grades_name_what_is_wrong(tmp_path: Path) -> None:
    items = _pooled_set(tmp_path / "set", queries=1, per_query=2)
    session = JudgingSession(tmp_path / "set")
    qid, doc = items[0]
    for grade in (3, -1, True, "2"):
        with pytest.raises(QuerySetError, match="is not one of"):
            session.grade(qid, doc, grade)  # type: ignore[arg-type]
    with pytest.raises(QuerySetError, match="not in the pool of query"):
        session.grade(qid, "elsewhere", 1)
    with pytest.raises(QuerySetError, match="is not in"):
        session.grade("q999", doc, 1)
    assert read_qrels(tmp_path / "set" / "qrels.trec") == {}
    with pytest.raises(QuerySetError, match="pool depth"):
        JudgingSession(tmp_path / "other", depth=0)
    with pytest.raises(QuerySetError, match="unknown mode"):
        JudgingSession(tmp_path / "other", modes=["fuzzy"])
