"""fp32 against bf16 for the embedding model, on the same texts in the same run.

Two text sets: *long* (NFCorpus abstracts, the length of long ChatGPT answers) and
*short* (LoCoMo chat turns). Each set is encoded by an fp32 and a bf16 embedder, each
repetition alternating which goes first so that a change in machine load hits both, and
in two batch orders: length-sorted (what sentence-transformers' `encode` does over the
whole list: each batch holds texts of similar length, so little padding) and the texts'
own order (one `encode` call per batch, so each batch is padded to its longest text).
Figures: texts/s per precision and order, bf16/fp32 ratio, cosine of each bf16 vector to
its fp32 twin (min and mean).

Quality on NFCorpus dev (`nfcorpus_dev_quality`): the evaluation pipeline reads only a
BEIR `test` split, and the NFCorpus copy here ships `qrels/dev.tsv` alone, so the dev
nDCG@10 of the vector ranking is computed here: exact cosine over all documents
(what HNSW approximates), the same for both precisions.

`measure_variants` (`--variants`): on the long texts, bf16 at other batch sizes, one or
two torch threads, torch.autocast and oneDNN bf16 matmuls on fp32 weights, each against
fp32 in the same run.

Run: `python -m dovos.benchmarks.embedding_precision [--quality | --variants] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from dovos.config import shared_dir
from dovos.embeddings import SentenceTransformerEmbedder

PRECISIONS = ("fp32", "bf16")
ORDERS = ("sorted", "unsorted")
BATCH_SIZE = 32  # the worker's encode batch


def nfcorpus_dir() -> Path:
    return shared_dir() / "datasets" / "nfcorpus"


def locomo_path() -> Path:
    return shared_dir() / "datasets" / "locomo" / "locomo10_dev.json"


def long_texts(directory: Path, count: int, seed: int = 0) -> list[str]:
    """`count` NFCorpus documents as the importer makes them (title, blank line, text)."""
    rows = [json.loads(line) for line in (directory / "corpus.jsonl").open(encoding="utf-8")]
    texts = [f"{r.get('title') or ''}\n\n{r.get('text') or ''}".strip() for r in rows]
    return random.Random(seed).sample(texts, min(count, len(texts)))


def short_texts(path: Path, count: int, seed: int = 0) -> list[str]:
    """`count` LoCoMo turns (speaker's text only)."""
    turns = []
    for sample in json.loads(path.read_text(encoding="utf-8")):
        conversation = sample["conversation"]
        for key, session in conversation.items():
            if key.startswith("session_") and isinstance(session, list):
                turns.extend(turn["text"] for turn in session if turn.get("text"))
    return random.Random(seed).sample(turns, min(count, len(turns)))


@dataclass
class SetResult:
    """One text set: texts/s by (precision, order), cosine of bf16 to fp32."""

    name: str
    texts: int
    mean_chars: float
    rates: dict[str, dict[str, float]] = field(default_factory=dict)  # precision -> order -> /s
    cosine_min: float = 0.0
    cosine_mean: float = 0.0

    def ratio(self, order: str = "sorted") -> float:
        """bf16 texts/s over fp32 texts/s."""
        return self.rates["bf16"][order] / self.rates["fp32"][order]

    def sort_gain(self, precision: str) -> float:
        """Length-sorted texts/s over texts/s in the texts' own order."""
        return self.rates[precision]["sorted"] / self.rates[precision]["unsorted"]


@dataclass
class PrecisionBenchmark:
    sets: list[SetResult]
    repeats: int
    batch_size: int
    quality: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        value = asdict(self)
        for item, result in zip(value["sets"], self.sets, strict=True):
            item["bf16_over_fp32"] = {o: round(result.ratio(o), 3) for o in ORDERS}
            item["sorted_over_unsorted"] = {p: round(result.sort_gain(p), 3) for p in PRECISIONS}
        return value


def embedders() -> dict[str, SentenceTransformerEmbedder]:
    """A loaded, warmed fp32 and bf16 embedder of the configured model."""
    made = {p: SentenceTransformerEmbedder(precision=p) for p in PRECISIONS}
    for embedder in made.values():
        embedder.warm_up()
    return made


def time_encode(embedder: SentenceTransformerEmbedder, texts: list[str], order: str,
                batch_size: int = BATCH_SIZE) -> tuple[float, np.ndarray]:
    """Seconds to encode `texts` (in `order`) and the vectors, in the texts' order."""
    started = time.perf_counter()
    if order == "sorted":
        vectors = embedder.encode(texts, batch_size=batch_size)
    else:
        vectors = np.concatenate([embedder.encode(texts[i:i + batch_size], batch_size=batch_size)
                                  for i in range(0, len(texts), batch_size)])
    return time.perf_counter() - started, vectors


def measure_set(name: str, texts: list[str], models: dict[str, SentenceTransformerEmbedder],
                repeats: int, batch_size: int = BATCH_SIZE) -> SetResult:
    """Median texts/s per (precision, order) over `repeats`, alternating who goes first."""
    seconds: dict[tuple[str, str], list[float]] = {}
    vectors: dict[str, np.ndarray] = {}
    plan = [(r, o) for r in range(repeats) for o in ORDERS]
    for repeat, order in tqdm(plan, desc=f"{name} texts", leave=False):
        precisions = PRECISIONS if repeat % 2 == 0 else PRECISIONS[::-1]
        for precision in precisions:
            elapsed, encoded = time_encode(models[precision], texts, order, batch_size)
            seconds.setdefault((precision, order), []).append(elapsed)
            vectors[precision] = encoded
    cosines = (vectors["fp32"] * vectors["bf16"]).sum(axis=1)
    result = SetResult(name, len(texts), statistics.fmean(len(t) for t in texts),
                       cosine_min=float(cosines.min()), cosine_mean=float(cosines.mean()))
    for (precision, order), values in seconds.items():
        result.rates.setdefault(precision, {})[order] = len(texts) / statistics.median(values)
    return result


def nfcorpus_dev_quality(models: dict[str, SentenceTransformerEmbedder], directory: Path,
                         k: int = 10) -> dict[str, dict[str, float]]:
    """nDCG@k and recall@k of the exact-cosine vector ranking on NFCorpus dev, per
    precision (every document encoded by each model: minutes on a small CPU)."""
    from ranx import Qrels, Run, evaluate

    from dovos.evaluation.beir import load_beir

    conversations, queryset = load_beir(directory, split="dev")
    doc_ids = [c.messages[0].source_message_id for c in conversations]
    docs = [c.messages[0].content for c in conversations]
    queries = [q.text for q in queryset.queries]
    qrels = Qrels(queryset.qrels)
    quality = {}
    for precision, model in models.items():
        doc_vectors = model.encode(docs, batch_size=BATCH_SIZE)
        scores = model.encode(queries, batch_size=BATCH_SIZE) @ doc_vectors.T
        top = np.argsort(-scores, axis=1)[:, :100]
        run = Run({q.id: {doc_ids[j]: float(scores[i, j]) for j in top[i]}
                   for i, q in enumerate(queryset.queries)})
        figures = evaluate(qrels, run, [f"ndcg@{k}", f"recall@{k}"])
        quality[precision] = {key: round(float(v), 4) for key, v in figures.items()}
    quality["queries"] = {"count": float(len(queries)), "documents": float(len(docs))}
    return quality


def run_precision_benchmark(long_count: int = 128, short_count: int = 512, repeats: int = 2,
                            quality: bool = False, batch_size: int = BATCH_SIZE,
                            progress: bool = True) -> PrecisionBenchmark:
    """Measure both precisions on NFCorpus abstracts and LoCoMo turns; print the table."""
    models = embedders()
    sets = [measure_set("long", long_texts(nfcorpus_dir(), long_count), models, repeats,
                        batch_size),
            measure_set("short", short_texts(locomo_path(), short_count), models, repeats,
                        batch_size)]
    result = PrecisionBenchmark(sets, repeats, batch_size)
    if quality:
        result.quality = nfcorpus_dev_quality(models, nfcorpus_dir())
    print_precision_benchmark(result)
    return result


def print_precision_benchmark(result: PrecisionBenchmark) -> None:
    print(f"embedding precision, batch {result.batch_size}, median of {result.repeats} "
          "repetition(s), same texts, same run")
    print(f"{'set':6} {'texts':>5} {'chars':>6} {'fp32/s':>8} {'bf16/s':>8} {'ratio':>6} "
          f"{'fp32 unsorted/s':>15} {'bf16 unsorted/s':>15} {'cos min':>8} {'cos mean':>8}")
    for s in result.sets:
        print(f"{s.name:6} {s.texts:5d} {s.mean_chars:6.0f} {s.rates['fp32']['sorted']:8.1f} "
              f"{s.rates['bf16']['sorted']:8.1f} {s.ratio():6.2f} "
              f"{s.rates['fp32']['unsorted']:15.1f} {s.rates['bf16']['unsorted']:15.1f} "
              f"{s.cosine_min:8.4f} {s.cosine_mean:8.4f}")
    for precision, figures in result.quality.items():
        print(f"NFCorpus dev {precision}: {figures}")


# Ways to run the model on long texts, each against fp32 at the worker's batch on every
# core in the same run: (precision, batch size, torch threads, how bf16 is applied).
# "model" = weights cast to bf16 (what the embedder does), "autocast" = fp32 weights under
# torch.autocast(bfloat16), "matmul" = fp32 weights with oneDNN matmuls allowed in bf16.
VARIANTS: tuple[tuple[str, int, int, str], ...] = (
    ("fp32", BATCH_SIZE, 2, "model"), ("bf16", BATCH_SIZE, 2, "model"),
    ("bf16", 8, 2, "model"), ("bf16", 16, 2, "model"), ("bf16", 64, 2, "model"),
    ("fp32", BATCH_SIZE, 2, "autocast"), ("fp32", BATCH_SIZE, 2, "matmul"),
    ("fp32", BATCH_SIZE, 1, "model"), ("bf16", BATCH_SIZE, 1, "model"),
)


def variant_name(variant: tuple[str, int, int, str]) -> str:
    precision, batch, threads, how = variant
    return f"{precision if how == 'model' else f'fp32+{how}'} b{batch} t{threads}"


def encode_variant(models: dict[str, SentenceTransformerEmbedder], texts: list[str],
                   variant: tuple[str, int, int, str]) -> np.ndarray:
    """`texts` encoded the way `variant` says (torch's threads restored afterwards)."""
    import contextlib

    import torch

    precision, batch, threads, how = variant
    before = torch.get_num_threads()
    matmul = torch.backends.mkldnn.matmul
    before_matmul = getattr(matmul, "fp32_precision", None)
    torch.set_num_threads(threads)
    if how == "matmul":
        matmul.fp32_precision = "bf16"
    context = (torch.autocast("cpu", dtype=torch.bfloat16) if how == "autocast"
               else contextlib.nullcontext())
    try:
        with context:
            vectors = models[precision].encode(texts, batch_size=batch)
    finally:
        torch.set_num_threads(before)
        if before_matmul is not None:
            matmul.fp32_precision = before_matmul
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def measure_variants(texts: list[str], repeats: int = 3,
                     variants: tuple[tuple[str, int, int, str], ...] = VARIANTS,
                     models: dict[str, SentenceTransformerEmbedder] | None = None,
                     ) -> dict[str, Any]:
    """texts/s (median of `repeats`), ratio to the first variant (fp32) and the minimum
    cosine to its vectors, for each variant, on the same texts in the same run; the
    order rotates and reverses every repetition so that a load change hits all alike."""
    import os

    models = models or embedders()
    names = [variant_name(v) for v in variants]
    seconds: dict[str, list[float]] = {name: [] for name in names}
    vectors: dict[str, np.ndarray] = {}
    loads = []
    for repeat in tqdm(range(repeats), desc="variants", leave=False):
        order = list(zip(names, variants, strict=True))
        order = order[repeat % len(order):] + order[:repeat % len(order)]
        for name, variant in order[::-1] if repeat % 2 else order:
            started = time.perf_counter()
            vectors[name] = encode_variant(models, texts, variant)
            seconds[name].append(time.perf_counter() - started)
        loads.append(round(os.getloadavg()[0], 1))
    reference = names[0]
    rate = {name: len(texts) / statistics.median(values) for name, values in seconds.items()}
    return {"texts": len(texts), "mean_chars": round(statistics.fmean(map(len, texts))),
            "repeats": repeats, "load_average": loads,
            "variants": {name: {"texts_per_s": round(rate[name], 2),
                                f"over_{reference}": round(rate[name] / rate[reference], 3),
                                "cosine_min": round(float(
                                    (vectors[name] * vectors[reference]).sum(axis=1).min()), 4)}
                         for name in names}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", type=int, default=128, help="NFCorpus abstracts to encode")
    parser.add_argument("--short", type=int, default=512, help="LoCoMo turns to encode")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quality", action="store_true", help="also NFCorpus dev nDCG@10")
    parser.add_argument("--variants", action="store_true",
                        help="batch sizes, threads, autocast... on the long texts instead")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.variants:
        figures = measure_variants(long_texts(nfcorpus_dir(), args.long), args.repeats)
        for name, value in figures["variants"].items():
            print(f"{name:22} {value['texts_per_s']:8.1f}/s {value['over_fp32 b32 t2']:6.2f}x "
                  f"cos min {value['cosine_min']:.4f}")
        print(f"{figures['texts']} texts of {figures['mean_chars']} chars, load "
              f"{figures['load_average']}")
        if args.json:
            print(json.dumps(figures, indent=2))
        return
    result = run_precision_benchmark(args.long, args.short, args.repeats, args.quality)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))


if __name__ == "__main__":
    main()
