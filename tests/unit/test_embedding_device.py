"""The CUDA path's choices (no GPU here: only the choice logic is tested): `auto` is fp16
on a CUDA device, batches there are large, fp16 vectors live under their own name, and
the CPU path keeps its batch size and precision."""

from __future__ import annotations

import pytest

from dovos.config import Settings
from dovos.embeddings import (
    CUDA_MIN_BATCH_SIZE,
    SentenceTransformerEmbedder,
    configured_storage_name,
    encode_batch_size_for,
    is_cuda,
    resolve_precision,
    split_storage_name,
    storage_name,
)


def test_auto_is_fp16_on_cuda_and_unchanged_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dovos.embeddings.cpu_flags", lambda: frozenset({"amx_bf16"}))
    assert resolve_precision("auto", "cuda") == "fp16"
    assert resolve_precision("auto", "cuda:1") == "fp16"
    assert resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr("dovos.embeddings.cpu_flags", lambda: frozenset({"avx2"}))
    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("fp32", "cuda") == "fp32"  # forcing fp32 still works on a GPU
    assert resolve_precision("fp16", "cpu") == "fp16"  # a CPU search host reading GPU vectors


def test_cuda_batches_are_large_and_cpu_batches_as_asked() -> None:
    assert is_cuda("cuda") and is_cuda("CUDA:0") and not is_cuda("cpu") and not is_cuda("mps")
    assert encode_batch_size_for("cuda", 32) == CUDA_MIN_BATCH_SIZE >= 256
    assert encode_batch_size_for("cuda:0", 1024) == 1024  # larger asks are kept
    assert encode_batch_size_for("cpu", 32) == 32
    assert encode_batch_size_for("cpu", 1) == 1


def test_fp16_vectors_are_stored_under_their_own_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert storage_name("all-MiniLM-L6-v2", "fp16") == "all-MiniLM-L6-v2@fp16"
    assert split_storage_name("all-MiniLM-L6-v2@fp16") == ("all-MiniLM-L6-v2", "fp16")
    gpu = SentenceTransformerEmbedder(device="cuda", precision="auto")  # not loaded
    assert (gpu.name, gpu.precision, gpu.loaded) == ("all-MiniLM-L6-v2@fp16", "fp16", False)
    monkeypatch.setenv("DOVOS_EMBEDDING_DEVICE", "cuda")
    monkeypatch.setenv("DOVOS_EMBEDDING_PRECISION", "auto")
    assert configured_storage_name(Settings()) == "all-MiniLM-L6-v2@fp16"
    monkeypatch.setenv("DOVOS_EMBEDDING_PRECISION", "fp32")
    assert configured_storage_name(Settings()) == "all-MiniLM-L6-v2"
