"""A worker process killed with SIGKILL mid-batch loses nothing: its leases expire, the
next worker takes the jobs over, and every message ends with exactly one embedding of
its latest version (real model, real `dovos worker` process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from worker_support import (
    conversations,
    edit,
    embeddings,
    inputs,
    job_counts,
    jobs,
    messages,
    store,
    wait_until,
)

from dovos.worker import Worker, worker_heartbeats

MESSAGES = 2000
WORDS = ["memory", "garden", "trip", "painting", "support", "group", "camping", "adoption", "concert", "book"]


def _text(i: int) -> str:
    words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(5 + i % 23)]
    return f"Turn {i}: " + " ".join(words) + "."


@pytest.mark.slow
def test_sigkilled_worker_loses_nothing(database, embedder) -> None:
    parsed = conversations(MESSAGES, per_conversation=50, text=_text)
    store(database, parsed)
    dovos = Path(sys.executable).parent / "dovos"
    process = subprocess.Popen(
        [str(dovos), "worker", "--lease-seconds", "3", "--batch-size", "64", "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        # killed while it holds a claimed batch, after it has written some batches
        wait_until(
            lambda: len(embeddings(database, embedder.name)) >= 64
            and job_counts(database)["running"] > 0,
            300, interval=0.02,
        )
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    at_kill = job_counts(database)
    held = {row["id"] for row in jobs(database) if row["status"] == "running"}
    assert held and at_kill["completed"] < MESSAGES
    # edits land while the dead worker still holds leases and others are queued (last
    # turns: the next turn's embedding input may include its predecessor, see report)
    edit(database, parsed, {(0, 49): "edited early turn", (20, 49): "edited middle turn",
                            (39, 49): "edited last turn"})
    before = embeddings(database, embedder.name)
    stale = sum(1 for mid, (version, _) in messages(database).items()
                if before.get(mid, (0,))[0] != version)

    stats = Worker(database, embedder=embedder, lease_seconds=3, progress=False).run(
        until_empty=True)

    rows = {row["id"]: row for row in jobs(database)}
    assert job_counts(database) == {"pending": 0, "running": 0,
                                    "completed": len(rows), "failed": 0}
    assert all(rows[job_id]["attempts"] == 2 for job_id in held)  # taken over after expiry
    current = inputs(database)
    stored = embeddings(database, embedder.name)
    assert set(stored) == set(current)  # exactly one embedding (per model) for each
    assert all(stored[mid][0] == version for mid, (version, _) in current.items())
    sample = [mid for mid, (version, _) in current.items() if version == 2]
    sample += list(current)[:: MESSAGES // 50]
    expected = embedder.encode([current[mid][1] for mid in sample])
    got = np.stack([stored[mid][1] for mid in sample])
    np.testing.assert_allclose(got, expected, atol=2e-5)
    assert stats.messages_embedded == stale  # each missing or stale one once, no more
    dead = [beat for beat in worker_heartbeats(database) if beat.pid == process.pid]
    assert len(dead) == 1 and not dead[0].alive and dead[0].state != "stopped"
