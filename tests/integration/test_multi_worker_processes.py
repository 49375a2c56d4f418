"""Two `dovos worker --until-empty` PROCESSES, each with its own DOVOS_HOME, against one
DATABASE_URL (a private embedded server, reached through its URL as a worker on another
host would): every message is embedded exactly once at its latest input, by the real
model, no job is lost or left, and both processes did work.

The cluster and its audit trigger (every row written to message_embeddings recorded in
the same transaction) are test_worker_faults' fixtures; the texts are the packaged demo
archive plus, when ../shared is present, LoCoMo dev turns.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from test_worker_faults import (  # noqa: F401 - fixtures used by name
    _assert_each_message_embedded_once_at_its_latest_input,
    _writes,
    faults_db,
    private_database,
)
from worker_support import edit, job_counts, jobs, wait_until

from dovos.benchmarks.worker import finish_worker_processes, worker_process
from dovos.db import Database
from dovos.importers.files import import_files
from dovos.importers.parsed import ParsedConversation
from dovos.regression.run import default_locomo_path
from dovos.resources import demo_archive_dir

pytestmark = pytest.mark.slow

LOCOMO_MESSAGES = 200


def _locomo_turns(database: Database) -> list[ParsedConversation]:
    """About LOCOMO_MESSAGES LoCoMo dev turns in whole sessions, stored (none without
    ../shared: the demo archive alone is then the workload)."""
    from worker_support import store

    from dovos.evaluation.locomo import load_locomo

    path = default_locomo_path()
    if not path.is_file():
        return []
    taken: list[ParsedConversation] = []
    for conversation in load_locomo(path).conversations:
        if sum(len(c.messages) for c in taken) >= LOCOMO_MESSAGES:
            break
        taken.append(conversation)
    store(database, taken)
    return taken


def test_two_worker_processes_share_one_queue(faults_db: Database, embedder) -> None:  # noqa: F811
    results = import_files(sorted(demo_archive_dir().rglob("*.json")), database=faults_db,
                           progress=False)
    assert results and all(result.ok for result in results)
    locomo = _locomo_turns(faults_db)
    total = job_counts(faults_db)["pending"]
    assert total >= 200
    root = Path(tempfile.mkdtemp(prefix="dovos-processes-"))
    # one torch thread each: two processes on a 2-core machine, not four threads
    workers = [worker_process(faults_db.url, root / f"home-{index}", "--until-empty",
                              "--batch-size", "16", torch_threads=1)
               for index in range(2)]
    try:
        if locomo:  # an edit while both run: its message must end at the new version
            wait_until(lambda: len(_writes(faults_db)) >= 16, 300, interval=0.05)
            edit(faults_db, locomo, {(0, 3): "edited while two processes were embedding"})
        stats = finish_worker_processes(workers, stop=False)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        homes = sorted(root.iterdir())
        shutil.rmtree(root, ignore_errors=True)
    completed = [int(item["jobs_completed"]) for item in stats]
    assert all(done > 0 for done in completed), completed  # both processes did work
    assert all(item["jobs_failed"] == 0 for item in stats)
    counts = job_counts(faults_db)
    assert counts["completed"] == sum(completed) >= total
    _assert_each_message_embedded_once_at_its_latest_input(faults_db, embedder.name)
    owners = Counter(row["lease_owner"] for row in jobs(faults_db))
    assert len(owners) == 2, owners  # the jobs were completed by the two processes
    assert len(homes) == 2 and not any((home / "pgdata").exists() for home in homes), homes
    print(f"\ntwo processes: {completed} jobs, {len(_writes(faults_db))} embeddings written")
