"""Evaluation datasets by name: "demo", "locomo:PATH", "beir:PATH[@SPLIT]", "known-items[:N]",
"queryset:PATH" (a query-set directory over the archive already in the database).

"beir:PATH@dev" judges with `qrels/dev.tsv`; plain "beir:PATH" with `qrels/test.tsv`, or
with the directory's only split when it has no test split (dovos.evaluation.beir).

A Dataset pairs an archive (parsed conversations, tagged with conversation metadata
{"dataset": <tag>}) with its query sets, whose filters keep every search inside that
archive, so evaluating on a database that also holds the user's own chats measures the
dataset alone. `ensure_imported` writes the archive only when the database does not
already hold all of it (ingest is idempotent, so a partial import is completed, not
duplicated), in batches that are each one transaction.

    dataset = resolve_dataset("demo")
    ensure_imported(database, dataset)        # no-op the second time
    dataset.queryset                          # the primary QuerySet
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from dovos.evaluation.querysets import Query, QuerySet
from dovos.importers.parsed import ParsedConversation

IMPORT_BATCH = 1000  # conversations per transaction


class DatasetError(ValueError):
    """A dataset spec cannot be resolved; the message names the spec or the path."""


@dataclass
class Dataset:
    """An archive to import plus query sets over it (the first one is the primary set)."""

    name: str
    tag: str  # conversations.metadata->>'dataset' of its conversations ("" = none imported)
    querysets: dict[str, QuerySet]
    load_conversations: Callable[[], list[ParsedConversation]]
    description: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def queryset(self) -> QuerySet:
        return next(iter(self.querysets.values()))

    def conversations(self) -> list[ParsedConversation]:
        """The archive, each conversation tagged {"dataset": tag} in its metadata."""
        conversations = self.load_conversations()
        for conversation in conversations:
            conversation.metadata = {**conversation.metadata, "dataset": self.tag}
        return conversations


def resolve_dataset(spec: str, database: Any = None) -> Dataset:
    """The Dataset for `spec` ("demo", "locomo:PATH", "beir:PATH[@SPLIT]", "known-items[:N]")."""
    kind, _, argument = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "demo":
        return demo_dataset()
    if kind == "locomo":
        return locomo_dataset(_path(argument, spec))
    if kind == "beir":
        location, split = _split_suffix(argument)
        return beir_dataset(_path(location, spec), split)
    if kind in ("known-items", "known_items"):
        return known_items_dataset(database, int(argument) if argument else 50)
    if kind == "queryset":  # a query-set directory over the archive in the database
        from dovos.evaluation.queryset_archive import queryset_dataset

        return queryset_dataset(_path(argument, spec), database)
    raise DatasetError(
        f"unknown dataset {spec!r}: use demo, locomo:PATH, beir:PATH[@SPLIT], known-items[:N] "
        "or queryset:PATH"
    )


def _split_suffix(argument: str) -> tuple[str, str | None]:
    """("PATH", "SPLIT") from "PATH@SPLIT"; a path that itself exists with an "@" is kept."""
    location, at, split = argument.rpartition("@")
    if not at or not split or "/" in split or Path(argument).expanduser().exists():
        return argument, None
    return location, split


def _path(argument: str, spec: str) -> Path:
    if not argument:
        raise DatasetError(f"dataset {spec!r} needs a path after the colon")
    path = Path(argument).expanduser()
    if not path.exists():
        raise DatasetError(f"dataset {spec!r}: {path} does not exist")
    return path


# -- the datasets -------------------------------------------------------------------------
def demo_dataset() -> Dataset:
    """The shipped demo archive (data/demo, three export formats) and eval/demo queries."""
    from dovos.evaluation import demo

    queryset = QuerySet.load(demo.QUERYSET_DIR)
    queryset.filters = {"conversation_metadata": {"dataset": "demo"}}

    def load() -> list[ParsedConversation]:
        from dovos.importers import parse_file

        conversations: list[ParsedConversation] = []
        for path in demo.export_paths():
            if not path.is_file():
                raise DatasetError(
                    f"demo export {path} is missing (python -m dovos.evaluation.demo)"
                )
            conversations.extend(parse_file(path).conversations)
        return conversations

    return Dataset(
        "demo",
        "demo",
        {"demo": queryset},
        load,
        f"Demo archive: {len(demo.CONVERSATIONS)} conversations in ChatGPT, Claude and Open WebUI exports.",
    )


def locomo_dataset(path: Path) -> Dataset:
    """LoCoMo: per-sample message- and conversation-level sets, and the whole-archive variant."""
    from dovos.evaluation.locomo import CATEGORIES, DATASET, load_locomo

    loaded = load_locomo(path)
    queries, archive_queries = [], []
    for question in loaded.questions:
        category = CATEGORIES.get(question.category, str(question.category))
        metadata = {"answer": question.answer, "sample_id": question.sample_id}
        scope = {"conversation_metadata": {"dataset": DATASET, "sample_id": question.sample_id}}
        queries.append(Query(question.query_id, question.text, category, scope, metadata))
        archive_queries.append(Query(question.query_id, question.text, category, {}, metadata))
    everywhere = {"conversation_metadata": {"dataset": DATASET}}
    querysets = {
        "locomo": QuerySet(
            "locomo",
            queries,
            loaded.message_qrels,
            "message",
            "LoCoMo evidence turns, each question searched within its sample",
        ),
        "locomo-sessions": QuerySet(
            "locomo-sessions",
            queries,
            loaded.conversation_qrels,
            "conversation",
            "LoCoMo evidence sessions, per sample",
        ),
        "locomo-archive": QuerySet(
            "locomo-archive",
            archive_queries,
            loaded.message_qrels,
            "message",
            "LoCoMo evidence turns, all samples in one search space",
            filters=everywhere,
        ),
    }
    info = {
        "questions": len(loaded.questions),
        "skipped_questions": loaded.skipped_questions,
        "dropped_evidence": len(loaded.dropped_evidence),
        "messages": loaded.message_count,
    }
    return Dataset(
        "locomo",
        DATASET,
        querysets,
        lambda: load_locomo(path).conversations,
        f"LoCoMo from {path}",
        info,
    )


def beir_dataset(path: Path, split: str | None = None) -> Dataset:
    """A BEIR directory judged on `split` (None: test, or its only split); each document
    a one-message conversation. Every split shares the one archive (tag beir:<name>)."""
    from dovos.evaluation.beir import BeirFormatError, choose_split, dataset_tag, load_beir

    try:
        chosen = choose_split(path, split)
    except BeirFormatError as error:
        raise DatasetError(str(error)) from None
    _, queryset = load_beir(path, chosen)
    return Dataset(
        queryset.name,
        dataset_tag(path.name),
        {queryset.name: queryset},
        lambda: load_beir(path, chosen)[0],
        queryset.description,
        {"split": chosen},
    )


def known_items_dataset(database: Any, count: int = 50, seed: int = 0) -> Dataset:
    """Known-item queries generated from the archive already in the database (no import)."""
    from dovos.evaluation.known_items import generate_known_items

    if database is None:
        from dovos.db import get_database

        database = get_database()
    queryset = generate_known_items(database, count=count, seed=seed)
    return Dataset(
        "known-items",
        "",
        {queryset.name: queryset},
        list,
        f"{count} known-item queries generated from the archive (seed {seed})",
    )


# -- import -------------------------------------------------------------------------------
@dataclass
class ImportSummary:
    """What `ensure_imported` found and did."""

    dataset: str
    expected_conversations: int
    expected_messages: int
    found_conversations: int
    found_messages: int
    imported: bool
    messages_added: int = 0
    jobs_enqueued: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def stored_counts(database: Any, tag: str) -> tuple[int, int]:
    """(conversations, messages) in the database tagged with dataset `tag`."""
    from dovos.repositories import conversations

    with database.connect() as conn:
        counts = conversations.counts_with_metadata(conn, {"dataset": tag})
    return counts.conversations, counts.messages


def ensure_imported(database: Any, dataset: Dataset, progress: bool = True) -> ImportSummary:
    """Import `dataset`'s archive unless the database already holds all of it."""
    if not dataset.tag:
        return ImportSummary(dataset.name, 0, 0, 0, 0, imported=False)
    conversations = dataset.conversations()
    expected = (len(conversations), sum(len(c.messages) for c in conversations))
    found = stored_counts(database, dataset.tag)
    summary = ImportSummary(dataset.name, *expected, *found, imported=False)
    if found == expected:
        return summary
    from dovos.ingest import ingest

    batches = [
        conversations[i : i + IMPORT_BATCH] for i in range(0, len(conversations), IMPORT_BATCH)
    ]
    with database.connect(autocommit=True) as conn:
        for batch in tqdm(
            batches,
            desc=f"import {dataset.name}",
            unit="batch",
            disable=not progress or len(batches) < 2,
        ):
            result = ingest(conn, batch)
            summary.messages_added += result.messages_added + result.messages_changed
            summary.jobs_enqueued += result.jobs_enqueued
    summary.imported = True
    summary.found_conversations, summary.found_messages = stored_counts(database, dataset.tag)
    return summary


def fingerprint(queryset: QuerySet) -> str:
    """A short hash of a query set's queries and judgments (names what a report measured)."""
    payload = json.dumps(
        [[q.as_dict() for q in queryset.queries], queryset.qrels, queryset.filters],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]
