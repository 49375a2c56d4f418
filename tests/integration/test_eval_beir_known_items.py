"""The BEIR loader on a tiny BEIR directory written in tmp_path (imported into the real
database and searched), and the seeded known-item generator over an imported archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_support import TINY_CORPUS, write_tiny_beir

from dovos.config import shared_dir
from dovos.evaluation.beir import BeirFormatError, load_beir
from dovos.evaluation.datasets import DatasetError, ensure_imported, resolve_dataset, stored_counts
from dovos.evaluation.known_items import content_words, generate_known_items
from dovos.evaluation.runs import execute_run


def test_beir_directory_becomes_one_message_conversations(tmp_path: Path) -> None:
    conversations, queryset = load_beir(write_tiny_beir(tmp_path / "tiny"))
    assert len(conversations) == len(TINY_CORPUS)
    first = conversations[0]
    assert (first.source, first.source_id, first.title) == (
        "unknown",
        "beir:tiny:d1",
        "Sourdough starter",
    )
    assert first.messages[0].source_message_id == "d1"
    assert first.messages[0].content.startswith("Sourdough starter\n\nFeed the starter")
    assert queryset.qrels["q6"] == {"d6": 2, "d7": 0}
    assert [q.id for q in queryset.judged().queries] == ["q1", "q2", "q3", "q4", "q5", "q6"]
    assert queryset.filters == {"conversation_metadata": {"dataset": "beir:tiny"}}


def test_beir_import_and_lexical_run(database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from dovos.search.service import SearchService

    dataset = resolve_dataset(f"beir:{write_tiny_beir(tmp_path / 'tiny')}")
    summary = ensure_imported(database, dataset, progress=False)
    assert summary.imported and stored_counts(database, "beir:tiny") == (8, 8)
    assert not ensure_imported(database, dataset, progress=False).imported  # already there
    run = execute_run(SearchService(database), dataset.queryset, "lexical", progress=False).run
    assert next(iter(run["q5"])) == "d5"  # "tomato plant yellow leaves nitrogen"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: (d / "corpus.jsonl").unlink(), "corpus.jsonl is missing"),
        (lambda d: (d / "qrels" / "test.tsv").write_text("q1\td1\n"), "test.tsv:1: expected 3"),
        (lambda d: (d / "qrels" / "test.tsv").write_text("q1\tzz\t1\n"), "not in corpus.jsonl"),
        (
            lambda d: (d / "queries.jsonl").write_text('{"_id": "q1"}\n'),
            "queries.jsonl:1: field 'text'",
        ),
        (lambda d: (d / "corpus.jsonl").write_text("{oops\n"), "corpus.jsonl:1: invalid JSON"),
    ],
)
def test_bad_beir_directories_are_named(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    directory = write_tiny_beir(tmp_path / "tiny")
    mutate(directory)
    with pytest.raises(BeirFormatError, match=message):
        load_beir(directory)


def test_unknown_dataset_specs_are_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown dataset 'msmarco'"):
        resolve_dataset("msmarco")
    with pytest.raises(DatasetError, match="does not exist"):
        resolve_dataset(f"beir:{tmp_path / 'nowhere'}")
    with pytest.raises(DatasetError, match="needs a path"):
        resolve_dataset("locomo:")


def test_known_items_are_reproducible_and_come_from_their_message(database) -> None:  # type: ignore[no-untyped-def]
    ensure_imported(database, resolve_dataset("demo"), progress=False)
    first = generate_known_items(database, count=25, seed=11, noise=0.0)
    again = generate_known_items(database, count=25, seed=11, noise=0.0)
    other = generate_known_items(database, count=25, seed=12, noise=0.0)
    assert [q.as_dict() for q in first.queries] == [q.as_dict() for q in again.queries]
    assert first.qrels == again.qrels
    assert [q.text for q in first.queries] != [q.text for q in other.queries]
    with database.connect() as conn:
        contents = dict(conn.execute("SELECT source_message_id, content FROM messages").fetchall())
    for query in first.queries:
        (target,) = first.qrels[query.id]
        words = query.text.split()
        assert 2 <= len(words) <= 5
        assert set(words) <= set(content_words(contents[target])), query.text
    noisy = generate_known_items(database, count=25, seed=11, noise=1.0)
    changed = sum(q.text != n.text for q, n in zip(first.queries, noisy.queries, strict=True))
    assert changed > 0


def test_known_items_need_an_archive(database) -> None:  # type: ignore[no-untyped-def]
    from dovos.evaluation.querysets import QuerySetError

    with pytest.raises(QuerySetError, match="import conversations first"):
        generate_known_items(database, count=5)


def test_known_items_queryset_round_trips(database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from dovos.evaluation.querysets import QuerySet

    ensure_imported(database, resolve_dataset("demo"), progress=False)
    generated = generate_known_items(database, count=10, seed=0)
    generated.save(tmp_path / "ki")
    assert json.loads((tmp_path / "ki" / "queryset.json").read_text())["name"] == "known-items"
    assert QuerySet.load(tmp_path / "ki").qrels == generated.qrels


# -- splits -------------------------------------------------------------------------------
SHARED_NFCORPUS = shared_dir() / "datasets" / "nfcorpus"


def _with_dev_split(directory: Path, drop_test: bool) -> Path:
    """The tiny directory plus qrels/dev.tsv judging q1 and q2 only."""
    (directory / "qrels" / "dev.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n"
    )
    if drop_test:
        (directory / "qrels" / "test.tsv").unlink()
    return directory


def test_beir_split_is_chosen_by_suffix_and_defaults_to_test(tmp_path: Path) -> None:
    directory = _with_dev_split(write_tiny_beir(tmp_path / "tiny"), drop_test=False)
    test = resolve_dataset(f"beir:{directory}")
    dev = resolve_dataset(f"beir:{directory}@dev")
    assert test.queryset.name == "beir-tiny" and len(test.queryset) == 6
    assert dev.queryset.name == "beir-tiny-dev" and sorted(dev.queryset.qrels) == ["q1", "q2"]
    assert [q.id for q in dev.queryset.queries] == ["q1", "q2"]
    assert test.tag == dev.tag == "beir:tiny"  # one archive for every split
    assert (test.info["split"], dev.info["split"]) == ("test", "dev")
    with pytest.raises(DatasetError, match=r"no split 'train' .*splits there: dev, test"):
        resolve_dataset(f"beir:{directory}@train")


def test_beir_without_test_split_takes_its_only_split_or_names_them(tmp_path: Path) -> None:
    directory = _with_dev_split(write_tiny_beir(tmp_path / "tiny"), drop_test=True)
    only = resolve_dataset(f"beir:{directory}")
    assert only.info["split"] == "dev" and only.queryset.name == "beir-tiny-dev"
    (directory / "qrels" / "train.tsv").write_text("q3\td3\t1\n")
    with pytest.raises(DatasetError, match=r"no qrels/test.tsv and several splits \(dev, train\)"):
        resolve_dataset(f"beir:{directory}")
    assert resolve_dataset(f"beir:{directory}@train").queryset.qrels == {"q3": {"d3": 1}}
    (directory / "qrels" / "dev.tsv").unlink()
    (directory / "qrels" / "train.tsv").unlink()
    with pytest.raises(BeirFormatError, match="holds no <split>.tsv"):
        load_beir(directory)


def test_a_path_holding_an_at_sign_is_a_path(tmp_path: Path) -> None:
    directory = write_tiny_beir(tmp_path / "tiny@home")
    assert resolve_dataset(f"beir:{directory}").queryset.name == "beir-tiny@home"


@pytest.mark.skipif(
    not (SHARED_NFCORPUS / "qrels" / "dev.tsv").is_file(),
    reason=f"the shared NFCorpus dev split is absent ({SHARED_NFCORPUS})",
)
def test_shared_nfcorpus_dev_split() -> None:
    dev = resolve_dataset(f"beir:{SHARED_NFCORPUS}@dev")
    assert dev.info["split"] == "dev" and dev.tag == "beir:nfcorpus"
    assert len(dev.queryset.judged()) == 324  # the README's count of dev queries
    if not (SHARED_NFCORPUS / "qrels" / "test.tsv").exists():  # kept apart: dev is the only one
        assert resolve_dataset(f"beir:{SHARED_NFCORPUS}").queryset.name == "beir-nfcorpus-dev"
