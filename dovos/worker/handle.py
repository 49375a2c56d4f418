"""The notebook handle: a worker running in a background thread.

    handle = Worker().start_in_background()
    handle            # <WorkerHandle ... running: 412 jobs done, state reconnecting>
    handle.state      # "running", "idle", "reconnecting" (database away), "stopped", ...
    handle.stop(); handle.join()
"""

from __future__ import annotations

import html
import threading
from typing import TYPE_CHECKING

from dovos.worker.progress import WorkerStats

if TYPE_CHECKING:
    from dovos.worker.service import Worker


class WorkerHandle:
    """A worker running in a background thread: `stop()`, `join()`, live `stats`/`state`."""

    def __init__(self, worker: Worker, until_empty: bool) -> None:
        self.worker = worker
        self.result: WorkerStats | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._target, args=(until_empty,), daemon=True,
                                       name=f"dovos-worker-{worker.worker_id}")

    def _target(self, until_empty: bool) -> None:
        try:
            self.result = self.worker.run(until_empty=until_empty)
        except BaseException as error:  # noqa: BLE001 - re-raised by join()
            self.error = error

    @property
    def stats(self) -> WorkerStats:
        return self.worker.stats

    @property
    def state(self) -> str:
        """The worker's state; `reconnecting` while the database is away."""
        return self.worker.state

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def stop(self, *, abort: bool = False) -> None:
        """Ask the worker to finish its claim and exit; returns at once (then `join()`)."""
        self.worker.stop(abort=abort)

    def join(self, timeout: float | None = None) -> WorkerStats | None:
        """Wait for the worker; its statistics, or None if still running after `timeout`.
        Re-raises the error the worker stopped on."""
        self.thread.join(timeout)
        if self.thread.is_alive():
            return None
        if self.error is not None:
            raise self.error
        return self.result

    def _summary(self) -> str:
        status = "running" if self.running else "finished"
        stats = self.stats
        return (f"{self.worker.worker_id} {status}: {stats.jobs_done} jobs done, "
                f"state {stats.state}, {stats.reconnects} reconnects")

    def __repr__(self) -> str:
        return f"<WorkerHandle {self._summary()}>"

    def _repr_html_(self) -> str:
        """How a notebook shows the handle (re-run the cell to refresh)."""
        colour = {"reconnecting": "#b45309", "stopped": "#6b7280"}.get(self.state, "#047857")
        return (f"<code>WorkerHandle</code> {html.escape(self.worker.worker_id)}: "
                f"<b style='color:{colour}'>{html.escape(self.state)}</b>, "
                f"{self.stats.jobs_done} jobs done, {self.stats.reconnects} reconnects")
