"""Import CPU split (client against the one server backend), with and without parsing
ahead, in the same run (`make bench`; the 100k figures come from
`python -m dovos.benchmarks.import_cpu`)."""

from __future__ import annotations

import pytest

from dovos.benchmarks.import_cpu import format_cpu, run_cpu_benchmark
from dovos.importers import files


@pytest.mark.benchmark
def test_import_cpu_split(database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    figures = run_cpu_benchmark(database, messages=20_000, rounds=2, workdir=tmp_path)
    print(format_cpu(figures))
    runs = figures["runs"]
    assert len(runs["parse ahead 0"]) == len(runs["parse ahead 1"]) == 2
    # The backend did the writing; the client alone wrote nothing.
    assert all(run["backend_cpu_s"] > 0 for run in runs["parse ahead 1"])
    assert all(run["backend_cpu_s"] < 0.5 for run in runs["client alone"])
    assert files.PARSE_AHEAD == 1  # restored
    with database.connect() as connection:
        assert connection.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
