"""`queryset:PATH`: any query-set directory evaluated against the archive already in the
database (nothing imported): your own judged set (dovos.evaluation.judging), or the demo set.

The judgments name documents by export ids (querysets module docstring). Before any run,
every positively judged id is looked up in the archive; a set made on another archive
(or an archive where those messages were deleted) is refused with how many are missing,
rather than scored as if the system had failed to find them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dovos.evaluation.querysets import QuerySet, QuerySetError


class MissingDocumentsError(QuerySetError):
    """Judged documents of a query set are not in the archive of the database in use."""


def queryset_dataset(path: Path, database: Any = None) -> Any:
    """A Dataset (nothing to import) whose one query set is the directory at `path`."""
    from dovos.evaluation.datasets import Dataset

    if database is None:
        from dovos.db import get_database

        database = get_database()
    queryset = QuerySet.load(path)
    check_in_archive(database, queryset, path)
    return Dataset(
        queryset.name,
        "",
        {queryset.name: queryset},
        list,
        queryset.description or f"query set {path}",
        {"queryset_path": str(path)},
    )


def check_in_archive(database: Any, queryset: QuerySet, where: Path | str = "") -> None:
    """Raise MissingDocumentsError unless every positively judged doc id is in the archive."""
    judged = {doc for docs in queryset.qrels.values() for doc, rel in docs.items() if rel > 0}
    if not judged:
        raise QuerySetError(f"query set {where or queryset.name} has no positive judgments")
    found = archive_ids(database, sorted(judged), queryset.level)
    missing = sorted(judged - found)
    if missing:
        raise MissingDocumentsError(
            f"query set {where or queryset.name}: {len(missing)} of {len(judged)} judged "
            f"{queryset.level} ids are not in this archive (e.g. {', '.join(missing[:3])}); "
            "import the archive it was judged on, or judge this archive "
            "(dovos.evaluation.judging)"
        )


def archive_ids(database: Any, ids: list[str], level: str = "message") -> set[str]:
    """Which of `ids` the archive holds, as message doc ids or conversation source ids."""
    from dovos.repositories import conversations, messages

    with database.connect() as conn:
        if level == "conversation":
            return conversations.existing_source_ids(conn, ids)
        return messages.existing_doc_ids(conn, ids)
