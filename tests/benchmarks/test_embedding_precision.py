"""fp32 against bf16 on the same texts in the same run (`make bench`): prints texts/s,
the bf16/fp32 ratio and the cosine of bf16 vectors to fp32 ones."""

from __future__ import annotations

import pytest

from dovos.benchmarks.embedding_precision import (
    ORDERS,
    PRECISIONS,
    locomo_path,
    nfcorpus_dir,
    run_precision_benchmark,
)

pytestmark = pytest.mark.benchmark


def test_bf16_against_fp32_on_long_and_short_texts() -> None:
    if not (nfcorpus_dir() / "corpus.jsonl").is_file() or not locomo_path().is_file():
        pytest.skip(f"NFCorpus or LoCoMo missing under {nfcorpus_dir().parent}")
    result = run_precision_benchmark(long_count=64, short_count=256, repeats=2)
    for texts in result.sets:
        assert all(texts.rates[p][o] > 0 for p in PRECISIONS for o in ORDERS)
        # bf16 must stay the same embedding, not a cheaper different one
        assert texts.cosine_min > 0.99, texts
    long_set = next(s for s in result.sets if s.name == "long")
    assert long_set.mean_chars > 500  # abstracts, not chat turns
