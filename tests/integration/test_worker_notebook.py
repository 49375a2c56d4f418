"""The background handle in a real Jupyter kernel: the cell that starts the worker returns
at once, later cells (including ones awaiting on the kernel's event loop) run while it
works, and stop()/join() end it with whole batches written."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from worker_support import conversations, embeddings, job_counts, store

HERE = Path(__file__).resolve().parent

CELLS = [
    f"""
import sys, time
sys.path.insert(0, {str(HERE)!r})
from worker_support import FakeEmbedder
from dovos.db import Database
from dovos.worker import Worker
worker = Worker(Database.open(application="notebook-test"), batch_size=10,
                embedder=FakeEmbedder(delay=0.3), lease_seconds=10)
started = time.monotonic()
handle = worker.start_in_background()
""",
    """
import json
print(json.dumps({"returned_after": time.monotonic() - started, "running": handle.running}))
""",
    """
import asyncio
before = worker.stats.jobs_completed
await asyncio.sleep(1.5)   # the kernel's own event loop keeps turning
print(json.dumps({"before": before, "after": worker.stats.jobs_completed,
                  "running": handle.running}))
""",
    """
handle.stop()
stats = handle.join(timeout=60)
print(json.dumps({"completed": stats.jobs_completed, "state": stats.state}))
""",
]


def _last_json(cell: nbformat.NotebookNode) -> dict:  # type: ignore[type-arg]
    text = "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")
    return json.loads(text.strip().splitlines()[-1])


def test_background_worker_in_a_jupyter_kernel(database) -> None:
    store(database, conversations(200, per_conversation=200))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    started = _last_json(notebook.cells[1])
    assert started["running"] and started["returned_after"] < 5
    during = _last_json(notebook.cells[2])
    assert during["running"] and during["after"] > during["before"]  # worked meanwhile
    finished = _last_json(notebook.cells[3])
    assert finished["state"] == "stopped" and finished["completed"] % 10 == 0
    counts = job_counts(database)
    assert counts["running"] == 0 and counts["completed"] == finished["completed"] < 200
    assert len(embeddings(database, "fake-model")) == finished["completed"]
