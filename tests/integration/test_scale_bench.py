"""`dovos bench --scale N --json` end to end on a small N: the real CLI, a scratch
database next to the session's, the real import path and model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DOVOS = str(Path(sys.executable).parent / "dovos")
KEYS = ("messages", "import_msg_per_s", "hybrid_p50_ms", "hybrid_p95_ms", "lexical_p50_ms",
        "vector_p50_ms", "bare_vector_p50_ms", "bare_lexical_p50_ms", "database_mb",
        "api_conversations_p50_ms", "api_stats_p50_ms", "peak_rss_mb",
        "hybrid_filtered_p50_ms", "hybrid_over_bare_vector", "lexical_over_bare_lexical",
        "lexical_exact_p50_ms", "hybrid_exact_p50_ms", "lexical_exact_over_bare_lexical",
        "hybrid_exact_over_bare_vector")


def _databases(database) -> set[str]:  # type: ignore[no-untyped-def]
    with database.connect() as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database").fetchall()}


def test_scale_bench_json_has_every_figure(database_session) -> None:  # type: ignore[no-untyped-def]
    done = subprocess.run([DOVOS, "bench", "--scale", "2000", "--json"], capture_output=True,
                          text=True, timeout=900, env=os.environ.copy(), check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout)
    for key in KEYS:
        assert figures[key] > 0, (key, figures)
    assert figures["messages"] == 2000
    assert figures["conversations"] == 2000 // 20
    hnsw = figures["indexes"]["message_embeddings_hnsw_idx"]
    assert hnsw["build_s"] > 0 and hnsw["mb"] > 0
    # 2,000 messages: every query's terms fit the candidate budget, so the budgeted
    # lexical leg returns exactly what the exact one does.
    assert figures["lexical_overlap_at_10_with_exact"] == 1.0
    assert figures["hybrid_overlap_at_10_with_exact"] == 1.0
    assert not any(name.endswith("_scale") for name in _databases(database_session))
