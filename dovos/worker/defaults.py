"""The worker's tunable defaults, in one place (the CLI's options show them)."""

from __future__ import annotations

# Chosen by `dovos.benchmarks.worker` (see docs/worker.md): 256 jobs per claim lets the
# worker sort a claim by text length into length-homogeneous model batches of 32, as
# plain `model.encode` does over a whole corpus (worker / plain-encode rate on LoCoMo
# dev: 64 per claim ~0.73, 128 ~0.81, 256 ~0.90, 512 ~0.92); two loops let one loop's
# write (~7 % of a drain, mostly the HNSW insert) overlap the other's encode.
DEFAULT_BATCH_SIZE = 256
DEFAULT_ENCODE_BATCH_SIZE = 32
# Embeddings are written, and their jobs completed, this many messages at a time (one
# transaction each), so coverage moves while a claim is encoded and a crash loses at
# most one slice of encoding.
DEFAULT_SLICE_SIZE = 32
DEFAULT_CONCURRENCY = 2
DEFAULT_LEASE_SECONDS = 30.0
DEFAULT_HEARTBEAT_SECONDS = 5.0
DEFAULT_POLL_SECONDS = 1.0
# While listening, an idle worker still re-checks this often (a lost notification).
LISTEN_RECHECK_SECONDS = 30.0
CHANNEL = "dovos_jobs"
# Reconnecting after the database went away: first wait, growth, longest wait (seconds).
# Attempts are cheap (a refused socket), and a restart takes about a second, so the
# waits stay short: 0.25, 0.38, 0.56, ... 5 s.
RECONNECT_BASE_SECONDS = 0.25
RECONNECT_FACTOR = 1.5
RECONNECT_CAP_SECONDS = 5.0
