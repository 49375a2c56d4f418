"""Import LoCoMo dev and NFCorpus dev into the database of $DOVOS_HOME and embed them.

    DOVOS_HOME=/tmp/ideas-home .venv/bin/python eval/experiments/prepare.py

Run once; the experiment scripts (legs.py) then read the archives. NFCorpus is read with
its dev split (the test split is kept apart); the Dataset is built here from
`load_beir(..., split="dev")` so this works before `beir:PATH@dev` exists.
"""

from __future__ import annotations

from pathlib import Path

from dovos.evaluation.beir import dataset_tag, load_beir
from dovos.evaluation.datasets import Dataset, locomo_dataset
from dovos.evaluation.pipeline import prepare_dataset

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"
LOCOMO = SHARED / "locomo" / "locomo10_dev.json"
NFCORPUS = SHARED / "nfcorpus"


def nfcorpus_dev() -> Dataset:
    """NFCorpus with its dev queries and judgments."""
    _, queryset = load_beir(NFCORPUS, split="dev")
    return Dataset(
        queryset.name,
        dataset_tag(NFCORPUS.name),
        {queryset.name: queryset},
        lambda: load_beir(NFCORPUS, split="dev")[0],
        queryset.description,
    )


def datasets() -> dict[str, Dataset]:
    """The two development datasets by short name."""
    return {"locomo": locomo_dataset(LOCOMO), "nfcorpus": nfcorpus_dev()}


if __name__ == "__main__":
    for name, dataset in datasets().items():
        prepared = prepare_dataset(dataset)
        print(name, prepared.imported.as_dict(), prepared.drain.summary() if prepared.drain else None)
