"""The embedder's precision: how it is chosen, the name its vectors are stored under, and
that a bf16 model really runs in bf16 and agrees with fp32 (the real packaged model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dovos.config import Settings
from dovos.embeddings import (
    SentenceTransformerEmbedder,
    configured_storage_name,
    cpu_flags,
    preload_in_background,
    resolve_precision,
    split_storage_name,
    storage_name,
)


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16\n")
    assert {"avx512_bf16", "avx512f"} <= cpu_flags(cpuinfo)
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_auto_is_bf16_only_on_a_cpu_with_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dovos.embeddings.cpu_flags", lambda: frozenset({"avx2", "amx_bf16"}))
    assert resolve_precision("auto", "cpu") == "bf16"
    assert resolve_precision("auto", "cuda") == "fp16"  # see test_embedding_device.py
    monkeypatch.setattr("dovos.embeddings.cpu_flags", lambda: frozenset({"avx2"}))
    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("FP32", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"  # forced, even if emulated
    with pytest.raises(ValueError, match="'int8' is not one of auto, fp32, bf16"):
        resolve_precision("int8", "cpu")


def test_storage_name_keeps_fp32_vectors_under_the_bare_model_name() -> None:
    assert storage_name("all-MiniLM-L6-v2", "fp32") == "all-MiniLM-L6-v2"
    assert storage_name("all-MiniLM-L6-v2", "bf16") == "all-MiniLM-L6-v2@bf16"
    assert split_storage_name("all-MiniLM-L6-v2@bf16") == ("all-MiniLM-L6-v2", "bf16")
    assert split_storage_name("all-MiniLM-L6-v2") == ("all-MiniLM-L6-v2", None)
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        split_storage_name("all-MiniLM-L6-v2@fp8")


def test_embedder_name_is_the_storage_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SentenceTransformerEmbedder(precision="fp32").name == "all-MiniLM-L6-v2"
    bf16 = SentenceTransformerEmbedder(precision="bf16")
    assert (bf16.name, bf16.model_name, bf16.precision) == (
        "all-MiniLM-L6-v2@bf16", "all-MiniLM-L6-v2", "bf16")
    # A precision in the name wins: what is stored under that name is what gets encoded.
    assert SentenceTransformerEmbedder("all-MiniLM-L6-v2@bf16", precision="fp32").precision == "bf16"
    monkeypatch.setenv("DOVOS_EMBEDDING_PRECISION", "bf16")
    assert configured_storage_name(Settings()) == "all-MiniLM-L6-v2@bf16"
    monkeypatch.setenv("DOVOS_EMBEDDING_PRECISION", "fp32")
    assert configured_storage_name(Settings()) == "all-MiniLM-L6-v2"


def test_bf16_model_runs_in_bf16_and_agrees_with_fp32() -> None:
    texts = ["Where did we go hiking last spring?",
             "Dietary fibre intake and the risk of colorectal cancer: a meta-analysis " * 8]
    fp32 = SentenceTransformerEmbedder(precision="fp32")
    bf16 = SentenceTransformerEmbedder(precision="bf16")
    a, b = fp32.encode(texts), bf16.encode(texts)
    import torch

    assert next(bf16.model.parameters()).dtype == torch.bfloat16
    assert next(fp32.model.parameters()).dtype == torch.float32
    assert b.dtype == np.float32 and b.shape == (2, 384)
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert not np.array_equal(a, b)  # really another computation
    assert (a * b).sum(axis=1).min() > 0.99


def test_preload_loads_once_even_when_a_query_comes_first() -> None:
    fresh = SentenceTransformerEmbedder(precision="fp32")
    future = preload_in_background(fresh)
    assert preload_in_background(fresh) is future  # same handle, no second load
    vector = fresh.encode(["a query that may arrive before the preload is done"])
    assert future.result(timeout=600) is fresh
    assert fresh.loaded and fresh.loads == 1
    assert vector.shape == (1, 384)


def test_a_query_is_encoded_on_one_torch_thread_and_the_count_is_restored(
        embedder) -> None:  # type: ignore[no-untyped-def]
    """The search service encodes a query on one intra-op thread (`one_torch_thread`: on
    busy cores two threads wait on each other), and afterwards the calling thread, and
    a batch encoded after it, have the count they had before. The count is read inside
    the real model's forward pass."""
    import torch

    from dovos.search.service import one_torch_thread

    before = torch.get_num_threads()
    seen: list[int] = []
    first_layer = embedder.model[0].auto_model.embeddings
    hook = first_layer.register_forward_pre_hook(
        lambda *_: seen.append(torch.get_num_threads()))
    try:
        with one_torch_thread():
            one = embedder.encode(["how do I revive a sourdough starter"])
        two = embedder.encode(["how do I revive a sourdough starter", "a second text"])
    finally:
        hook.remove()
    assert seen == [1, before]
    assert torch.get_num_threads() == before
    # The same vector either way (one thread changes only how the work is split).
    assert float(one[0] @ two[0]) > 0.9999
