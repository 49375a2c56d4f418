"""Any BEIR-format directory as an archive plus a query set.

BEIR (Thakur et al., 2021) ships each dataset as `corpus.jsonl` ({"_id", "title",
"text"}), `queries.jsonl` ({"_id", "text"}) and `qrels/<split>.tsv` (a header line,
then "query-id<TAB>corpus-id<TAB>score"). Each document becomes a one-message
conversation (source "unknown", source_id "beir:<name>:<doc id>", the message's
source_message_id = the doc id, conversation metadata {"dataset": "beir:<name>"}), so
the search service ranks documents exactly as it ranks chat messages. The query set is
restricted to that dataset with a metadata filter, since doc ids of different datasets
may collide in one archive.

Splits: `load_beir(directory, split)` reads `qrels/<split>.tsv`. Without a split it
takes "test" when `qrels/test.tsv` exists, else the only split the directory holds (the
query set's name then ends in that split, e.g. "beir-nfcorpus-dev", so every table says
which split it measured); with several splits and no test split it refuses and names
them. The archive (the corpus) is the same for every split: one import serves all.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dovos.evaluation.querysets import Query, QuerySet, QuerySetError
from dovos.importers.parsed import ParsedConversation, ParsedMessage


class BeirFormatError(QuerySetError):
    """A BEIR directory is missing a file or holds a malformed line (named in the message)."""


def dataset_tag(name: str) -> str:
    """The `dataset` metadata value of the conversations imported from BEIR dataset `name`."""
    return f"beir:{name}"


DEFAULT_SPLIT = "test"


def available_splits(directory: str | Path) -> list[str]:
    """The splits a BEIR directory holds judgments for (`qrels/<split>.tsv`), sorted."""
    return sorted(path.stem for path in (Path(directory) / "qrels").glob("*.tsv"))


def choose_split(directory: str | Path, split: str | None = None) -> str:
    """`split` if its qrels exist; without one "test", else the only split there is."""
    splits = available_splits(directory)
    held = ", ".join(splits) or "none"
    if split:
        if split not in splits:
            raise BeirFormatError(
                f"BEIR directory {directory}: no split {split!r} "
                f"(qrels/{split}.tsv is missing); splits there: {held}"
            )
        return split
    if DEFAULT_SPLIT in splits:
        return DEFAULT_SPLIT
    if len(splits) == 1:
        return splits[0]
    if not splits:
        raise BeirFormatError(f"BEIR directory {directory}: qrels/ holds no <split>.tsv")
    raise BeirFormatError(
        f"BEIR directory {directory}: no qrels/test.tsv and several splits ({held}): "
        f"name one, e.g. beir:{directory}@{splits[0]}"
    )


def load_beir(
    directory: str | Path, split: str | None = None, name: str | None = None
) -> tuple[list[ParsedConversation], QuerySet]:
    """Read a BEIR directory into (one-message conversations, message-level query set).

    `split` None: "test", or the directory's only split (see the module docstring)."""
    directory = Path(directory)
    name = name or directory.name
    for path in (directory / "corpus.jsonl", directory / "queries.jsonl"):
        if not path.is_file():
            raise BeirFormatError(f"BEIR directory {directory}: {path.name} is missing ({path})")
    split = choose_split(directory, split)
    qrels_path = directory / "qrels" / f"{split}.tsv"
    qrels = _read_qrels(qrels_path)
    conversations = [
        _conversation(row, name, where) for row, where in _jsonl(directory / "corpus.jsonl")
    ]
    corpus_ids = {c.messages[0].source_message_id for c in conversations}
    queries = []
    for row, where in _jsonl(directory / "queries.jsonl"):
        query_id, text = _field(row, "_id", where), _field(row, "text", where)
        if query_id in qrels:
            queries.append(Query(query_id, text, metadata=_extra(row)))
    unknown_docs = sorted({d for docs in qrels.values() for d in docs} - corpus_ids)
    if unknown_docs:
        raise BeirFormatError(
            f"{qrels_path}: judged doc ids not in corpus.jsonl: {unknown_docs[:5]}"
        )
    unknown_queries = sorted(set(qrels) - {q.id for q in queries})
    if unknown_queries:
        raise BeirFormatError(
            f"{qrels_path}: query ids not in queries.jsonl: {unknown_queries[:5]}"
        )
    queryset = QuerySet(
        name=f"beir-{name}" if split == DEFAULT_SPLIT else f"beir-{name}-{split}",
        queries=queries,
        qrels=qrels,
        level="message",
        description=f"BEIR dataset {name!r} ({split} split) from {directory}",
        filters={"conversation_metadata": {"dataset": dataset_tag(name)}},
    )
    return conversations, queryset


def _conversation(row: dict[str, Any], name: str, where: str) -> ParsedConversation:
    doc_id = _field(row, "_id", where)
    if any(ch.isspace() for ch in doc_id):
        raise BeirFormatError(f"{where}: '_id' {doc_id!r} holds whitespace")
    title = row.get("title") or ""
    text = row.get("text") or ""
    if not isinstance(title, str) or not isinstance(text, str):
        raise BeirFormatError(f"{where}: 'title' and 'text' must be strings")
    content = f"{title}\n\n{text}" if title and text else (title or text)
    if not content.strip():
        raise BeirFormatError(f"{where}: document {doc_id!r} has neither title nor text")
    return ParsedConversation(
        source="unknown",
        source_id=f"{dataset_tag(name)}:{doc_id}",
        title=title or doc_id,
        messages=[ParsedMessage(role="user", content=content, source_message_id=doc_id)],
        metadata={"dataset": dataset_tag(name), "beir_id": doc_id},
    )


def _jsonl(path: Path) -> Iterator[tuple[dict[str, Any], str]]:
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise BeirFormatError(f"{where}: invalid JSON ({error.msg})") from None
            if not isinstance(row, dict):
                raise BeirFormatError(f"{where}: expected a JSON object")
            yield row, where


def _field(row: dict[str, Any], name: str, where: str) -> str:
    value = row.get(name)
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise BeirFormatError(f"{where}: field {name!r} must be a non-empty string")
    return value


def _extra(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("_id", "text")}


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for number, cells in enumerate(csv.reader(handle, delimiter="\t"), 1):
            if not cells or (number == 1 and cells[0].strip().lower() == "query-id"):
                continue
            if len(cells) != 3:
                raise BeirFormatError(f"{path}:{number}: expected 3 tab-separated columns")
            query_id, doc_id, score = (cell.strip() for cell in cells)
            try:
                qrels.setdefault(query_id, {})[doc_id] = int(float(score))
            except ValueError:
                raise BeirFormatError(f"{path}:{number}: score {score!r} is not a number") from None
    return qrels
