"""Import memory and speed on big exports: the streaming import against loading it all.

A ChatGPT `conversations.json` of a given size is generated straight to disk (one
conversation at a time, never held whole): conversations of 10 to 40 turns with a
hidden system node and one regenerated answer each (the parser skips it), user turns
of 10-60 words, assistant answers of 100-600 words (about 2,000 characters: real
ChatGPT answers run long). Each import runs in a child process of its own, into a
scratch embedded database (its own DOVOS_HOME, started once), and reports its peak
RSS (`ru_maxrss` of that process: the Python side; the server's memory is PostgreSQL's
own, bounded by its settings) and messages per second.

Same run, same file: the import before streaming (`load_everything_import`: the whole
file read and `json.loads`-ed, every conversation parsed into one list, one `ingest`
call, as `dovos import` did until it streamed) against `import_files` (streaming,
batches in one transaction) on a reference file (150 MB by default); then the
streaming import alone on the big file (1 GB by default), whose figure is the ratio
peak RSS / file size (aim <= 0.5: flat).

    python -m dovos.benchmarks.import_memory --size-mb 1000 --reference-mb 150

or `run_memory_benchmark(size_mb=..., reference_mb=...)`. Run it niced on a shared
machine (`nice -n 10`); it needs about 4x the file size free on disk for the database.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any

from dovos.benchmarks.imports import (
    Lengths,
    Vocabulary,
    chatgpt_conversation,
    clear_benchmark_rows,
)

if TYPE_CHECKING:
    from dovos.db import Database

LONG_ANSWERS = Lengths("long answers", (10, 60), (100, 600))
AIM_RSS_RATIO = 0.5
_SENTENCES = 20_000  # a pool of generated sentences, drawn from to write turns fast


def write_chatgpt_export(
    path: Path, size_mb: float, seed: int = 11, lengths: Lengths = LONG_ANSWERS
) -> dict[str, int]:
    """Write a ChatGPT export of about `size_mb` MB to `path`, a conversation at a time.

    Returns what it holds: conversations, displayed messages, bytes.
    """
    rng = random.Random(seed)
    text = _sentence_writer(rng)
    target = int(size_mb * 1_000_000)
    conversations = messages = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("[")
        while out.tell() < target:
            count = rng.randint(10, 40)
            item = chatgpt_conversation(rng, text, conversations, count, lengths)
            out.write((",\n" if conversations else "\n") + json.dumps(item, ensure_ascii=False))
            conversations += 1
            messages += count
        out.write("\n]\n")
    return {"conversations": conversations, "messages": messages,
            "bytes": path.stat().st_size}


def _sentence_writer(rng: random.Random) -> Callable[[int], str]:
    """`text(words)`: about `words` words of Zipf-distributed made-up vocabulary."""
    vocabulary = Vocabulary.build(rng)
    pool = [vocabulary.text(rng, 12) for _ in range(_SENTENCES)]

    def text(words: int) -> str:
        return " ".join(rng.choices(pool, k=max(1, words // 12)))

    return text


def load_everything_import(path: Path, database: Database) -> int:
    """The import as it was before streaming: read and decode the whole file,
    `json.loads` it, parse every conversation into one list, clean them, one `ingest`
    call (one transaction). Returns the messages written."""
    from dovos.importers.detect import detect_format
    from dovos.importers.errors import ParseLog, Where
    from dovos.importers.files import PARSERS
    from dovos.importers.text import clean_conversation
    from dovos.ingest import ingest

    where, log = Where(str(path)), ParseLog()
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig")
    data = json.loads(text, strict=False)
    del raw, text
    found = detect_format(data, where)
    assert found is not None
    parsed = [PARSERS[found](item, where.at(conversation=index), log)
              for index, item in enumerate(data)]
    del data
    kept = [c for c in parsed if clean_conversation(c, log, where).messages]
    del parsed
    with database.connect(autocommit=True) as connection:
        return ingest(connection, kept).messages_added


def _child(mode: str, path: Path) -> dict[str, Any]:
    """One import in this process (a child of the benchmark); its figures."""
    from dovos.db import Database
    from dovos.importers.files import import_files

    database = Database.open(application=f"bench-memory-{mode}")
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = perf_counter()
    if mode == "stream":
        [result] = import_files([path], database=database, progress=False)
        if not result.ok or result.result is None:
            raise SystemExit(f"import failed: {result.error}")
        messages = result.result.messages_added
    else:
        messages = load_everything_import(path, database)
    seconds = perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    database.close()
    return {"mode": mode, "messages": messages, "seconds": round(seconds, 1),
            "messages_per_second": round(messages / seconds),
            "baseline_rss_mb": round(baseline / 1024), "peak_rss_mb": round(peak / 1024)}


def _run_child(mode: str, path: Path, home: Path) -> dict[str, Any]:
    env = {**os.environ, "DOVOS_HOME": str(home)}
    env.pop("DATABASE_URL", None)
    env.pop("DOVOS_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "dovos.benchmarks.import_memory", "--child", mode, str(path)],
        env=env, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{mode} import of {path} failed: {done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["file_mb"] = round(path.stat().st_size / 1e6)
    figures["rss_per_file_size"] = round(figures["peak_rss_mb"] * 2**20
                                         / path.stat().st_size, 2)
    return figures


def run_memory_benchmark(
    size_mb: float = 1000, reference_mb: float = 150, workdir: Path | None = None
) -> dict[str, Any]:
    """Generate the files, import them in child processes, print and return the figures."""
    from dovos.config import Settings
    from dovos.db import Database

    tmp = Path(tempfile.mkdtemp(prefix="dovos-import-memory-", dir=workdir))
    home = tmp / "home"
    database = Database.open(Settings(home=home, database_url=None), application="bench")
    try:
        figures: dict[str, Any] = {"reference": {}, "big": {}}
        small = tmp / "reference.json"
        figures["reference"]["file"] = write_chatgpt_export(small, reference_mb)
        for mode in ("whole", "stream"):
            clear_benchmark_rows(database)
            figures["reference"][mode] = _run_child(mode, small, home)
        clear_benchmark_rows(database)
        small.unlink()
        if size_mb > 0:
            big = tmp / "big.json"
            figures["big"]["file"] = write_chatgpt_export(big, size_mb, seed=12)
            figures["big"]["stream"] = _run_child("stream", big, home)
            big.unlink()
        figures["ratios"] = _ratios(figures)
    finally:
        database.close()
        if database.embedded is not None:
            database.embedded.stop(force=True)
        shutil.rmtree(tmp, ignore_errors=True)
    _print(figures)
    return figures


def _ratios(figures: dict[str, Any]) -> dict[str, float]:
    whole, stream = figures["reference"]["whole"], figures["reference"]["stream"]
    ratios = {
        "speed_stream_vs_whole": round(stream["messages_per_second"]
                                       / whole["messages_per_second"], 2),
        "peak_rss_stream_vs_whole": round(stream["peak_rss_mb"] / whole["peak_rss_mb"], 2),
    }
    if figures["big"]:
        ratios["big_rss_per_file_size"] = figures["big"]["stream"]["rss_per_file_size"]
    return ratios


def _print(figures: dict[str, Any]) -> None:
    print("\nimport memory: generated ChatGPT exports (long answers), each import in a "
          "child process, into a scratch embedded database")
    print(f"  {'file':<10} {'MB':>6} {'messages':>9} {'path':<22} {'msg/s':>7} "
          f"{'peak RSS MB':>12} {'RSS/file':>9}")
    rows = [("reference", figures["reference"].get(mode)) for mode in ("whole", "stream")]
    rows.append(("big", figures["big"].get("stream")))
    for name, row in rows:
        if row is None:
            continue
        label = "load all (before)" if row["mode"] == "whole" else "streaming"
        print(f"  {name:<10} {row['file_mb']:>6} {row['messages']:>9,} {label:<22} "
              f"{row['messages_per_second']:>7,} {row['peak_rss_mb']:>12,} "
              f"{row['rss_per_file_size']:>9}")
    ratios = figures["ratios"]
    print(f"  same file: streaming speed {ratios['speed_stream_vs_whole']}x, peak RSS "
          f"{ratios['peak_rss_stream_vs_whole']}x the load-everything import")
    if "big_rss_per_file_size" in ratios:
        print(f"  big file: peak RSS {ratios['big_rss_per_file_size']}x its size "
              f"(aim <= {AIM_RSS_RATIO})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=1000)
    parser.add_argument("--reference-mb", type=float, default=150)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child[0], Path(args.child[1]))))
        return
    figures = run_memory_benchmark(args.size_mb, args.reference_mb)
    if args.json:
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
