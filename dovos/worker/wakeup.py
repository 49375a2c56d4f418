"""The listener thread: NOTIFYs on channel `dovos_jobs` wake an idle worker at once.

Ingest notifies the channel when it enqueues jobs. While the listener is connected
(`listening` set) an idle loop sleeps up to `LISTEN_RECHECK_SECONDS`; without it the
loops poll every `poll_seconds`. After the database went away the listener connects
again (its `Link`) and wakes the loops, since notifications sent meanwhile are lost.
"""

from __future__ import annotations

import logging
import threading

import psycopg

from dovos.worker.connection import Cancelled, Link, first_line
from dovos.worker.defaults import CHANNEL

log = logging.getLogger("dovos.worker")


def listen(
    link: Link,
    *,
    wake: threading.Event,
    done: threading.Event,
    listening: threading.Event,
    poll_seconds: float,
    worker_id: str,
) -> None:
    """LISTEN and set `wake` on each notification until `done`."""
    try:
        while not done.is_set():
            try:
                connection = link.connection()
                connection.execute(f"LISTEN {CHANNEL}")
                listening.set()
                wake.set()  # jobs enqueued before LISTEN took effect
                while not done.is_set():
                    for _ in connection.notifies(timeout=0.25):
                        wake.set()
            except psycopg.Error as error:
                if link.lost(error):
                    continue  # the database went away: `link.connection()` waits for it
                log.warning("worker %s cannot listen (%s); polling every %.1fs",
                            worker_id, first_line(error), poll_seconds)
                link.close()
            finally:
                listening.clear()
            done.wait(max(poll_seconds, 1.0))
    except Cancelled:
        pass
    finally:
        link.close()
