"""Helpers for the evaluation tests: a tiny BEIR directory written on the fly, and the
demo archive imported and embedded once per module (the real importers, the real worker,
the real model), with the tables emptied again afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import text

TABLES = "conversations, messages, message_embeddings, jobs, settings"

TINY_CORPUS = {
    "d1": ("Sourdough starter", "Feed the starter equal weights of flour and water twice a day."),
    "d2": (
        "Espresso channeling",
        "Holes in the puck mean water found a weak path; use a WDT tool.",
    ),
    "d3": (
        "Kubernetes probes",
        "A readiness probe keeps pods out of the service until they serve.",
    ),
    "d4": ("Git reflog", "The reflog remembers every position of HEAD for ninety days."),
    "d5": ("Tomato leaves", "Yellow lower leaves on tomatoes often mean the plant lacks nitrogen."),
    "d6": ("Marathon taper", "Cut weekly volume over the last three weeks before the race."),
    "d7": ("Emergency fund", "Keep three to six months of essential expenses in instant savings."),
    "d8": (
        "Docker layers",
        "Copy requirements before the source so the dependency layer is cached.",
    ),
}
TINY_QUERIES = {
    "q1": ("how often do I feed my sourdough starter", {"d1": 1}),
    "q2": ("espresso puck has holes", {"d2": 1}),
    "q3": ("pods get traffic before they are ready", {"d3": 1}),
    "q4": ("recover lost commits after rebase", {"d4": 1}),
    "q5": ("tomato plant yellow leaves nitrogen", {"d5": 1}),
    "q6": ("reduce mileage before race day", {"d6": 2, "d7": 0}),
}


def write_tiny_beir(directory: Path) -> Path:
    """A BEIR-format directory: corpus.jsonl, queries.jsonl, qrels/test.tsv."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "corpus.jsonl", "w") as out:
        out.writelines(json.dumps({"_id": doc_id, "title": title, "text": body}) + "\n" for doc_id, (title, body) in TINY_CORPUS.items())
    with open(directory / "queries.jsonl", "w") as out:
        out.writelines(json.dumps({"_id": query_id, "text": query}) + "\n" for query_id, (query, _) in TINY_QUERIES.items())
    (directory / "qrels").mkdir(exist_ok=True)
    lines = ["query-id\tcorpus-id\tscore"] + [
        f"{qid}\t{doc}\t{rel}"
        for qid, (_, judged) in TINY_QUERIES.items()
        for doc, rel in judged.items()
    ]
    (directory / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    return directory


def truncate(database: Any) -> None:
    """Empty every table (what the conftest `database` fixture does after each test)."""
    database.engine.dispose()
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))


@contextmanager
def prepared_demo(database: Any, embedder: Any) -> Iterator[Any]:
    """The demo archive imported and embedded by the real worker; tables emptied after."""
    from dovos.evaluation.pipeline import prepare_dataset

    try:
        yield prepare_dataset("demo", database, embedder=embedder, progress=False)
    finally:
        truncate(database)
