"""What a worker run did and is doing: its statistics, its state and its progress bar.

One `Progress` is shared by the threads of a run (claim loops, heartbeat, listener);
every change goes through its lock, so the statistics a notebook reads are consistent.
States: starting, running, idle, reconnecting (the database is away), stopping, stopped.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

from tqdm.auto import tqdm


@dataclass
class WorkerStats:
    """What a worker run did (also its live progress while it runs)."""

    worker_id: str
    state: str = "starting"
    jobs_completed: int = 0
    jobs_failed: int = 0
    jobs_retried: int = 0
    jobs_released: int = 0
    messages_embedded: int = 0
    messages_skipped: int = 0
    batches: int = 0
    slices: int = 0
    reconnects: int = 0
    encode_seconds: float = 0.0
    elapsed_seconds: float = 0.0

    @property
    def jobs_done(self) -> int:
        """Jobs finished for good (completed or failed)."""
        return self.jobs_completed + self.jobs_failed

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "jobs_done": self.jobs_done}


class Progress:
    """The run's statistics, state and progress bar, behind one lock."""

    def __init__(self, worker_id: str, *, show: bool) -> None:
        self.lock = threading.Lock()
        self.stats = WorkerStats(worker_id)
        self.show = show
        self._bar: Any = None
        self._busy_loops = 0
        self._database_away = False

    def open_bar(self, total: int) -> None:
        self._bar = tqdm(total=total, unit="job", desc="embedding", disable=not self.show,
                         dynamic_ncols=True)

    def close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()

    # -- state ------------------------------------------------------------------------
    def enter_busy(self) -> None:
        with self.lock:
            self._busy_loops += 1
            if not self._database_away:
                self._set("running")

    def leave_busy(self) -> None:
        with self.lock:
            self._busy_loops -= 1

    def set_state(self, state: str) -> None:
        """Record a state; `idle` only when no loop is busy, and nothing but `reconnecting`
        or a final state while the database is away."""
        with self.lock:
            if state == "idle" and (self._busy_loops or self._database_away):
                return
            self._set(state)

    def database_away(self, away: bool) -> None:
        """The database went away (state `reconnecting`) or came back (`running`, or
        `idle` when no loop holds a claim)."""
        with self.lock:
            self._database_away = away
            if away:
                self.stats.reconnects += 1
            if self.stats.state not in ("stopping", "stopped"):
                self._set("reconnecting" if away else "running" if self._busy_loops else "idle")

    def _set(self, state: str) -> None:
        self.stats.state = state
        if self._bar is not None and self.show:
            self._bar.set_postfix_str(state, refresh=False)

    # -- counts -----------------------------------------------------------------------
    def add(self, *, advance: int = 0, **counts: float) -> None:
        """Add to the named statistics and move the bar by `advance` finished jobs."""
        with self.lock:
            for name, value in counts.items():
                setattr(self.stats, name, getattr(self.stats, name) + value)
            if self._bar is not None and advance:
                if self._bar.total is not None and self._bar.n + advance > self._bar.total:
                    self._bar.total = self._bar.n + advance
                self._bar.update(advance)

    def grow_total(self, live: int) -> None:
        """At least `live` more jobs are to come (new ones were enqueued meanwhile)."""
        with self.lock:
            if self._bar is not None:
                self._bar.total = max(self._bar.total or 0, self._bar.n + live)
                self._bar.refresh()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"jobs_done": self.stats.jobs_done, "state": self.stats.state}
