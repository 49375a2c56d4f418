"""The precision benchmark's variants encode the same texts the same way (real model)."""

from __future__ import annotations

import torch

from dovos.benchmarks.embedding_precision import measure_variants, variant_name

TEXTS = ["A long answer about tuning autovacuum workers on a busy PostgreSQL server.",
         "short turn", "Swimming lessons for the kids start on Monday morning.",
         "The HNSW ef_search parameter trades recall for latency in pgvector."]
VARIANTS = (("fp32", 32, 2, "model"), ("bf16", 2, 1, "model"),
            ("fp32", 32, 2, "autocast"), ("fp32", 32, 2, "matmul"))


def test_every_variant_is_the_same_embedding_and_settings_are_restored() -> None:
    threads = torch.get_num_threads()
    figures = measure_variants(TEXTS, repeats=1, variants=VARIANTS)
    assert list(figures["variants"]) == [variant_name(v) for v in VARIANTS]
    reference = figures["variants"]["fp32 b32 t2"]
    assert reference["over_fp32 b32 t2"] == 1.0 and reference["cosine_min"] > 0.9999
    for name, value in figures["variants"].items():
        assert value["texts_per_s"] > 0, name
        assert value["cosine_min"] > 0.99, name  # bf16 arithmetic, same model
    assert torch.get_num_threads() == threads
    assert torch.backends.mkldnn.matmul.fp32_precision == "none"
