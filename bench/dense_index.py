"""Exact against approximate (HNSW) FAISS search at a million chunks, side by side in one run:
build seconds, memory, query p50/p99 with and without a filter, and Recall@10 against exact.

    python -m bench.dense_index [--size 1000000] [--queries 200] [--real 2000]

As bench/query_latency.py: `--real` passages of the shared sets are embedded once with the
default model, then tiled to --size with small noise; questions are real ones, embedded. The
filter keeps a random 95% of the chunks (as leaving superseded revisions out does), then 5% (a
narrow metadata filter).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.query_latency import sample_questions, sample_texts
from retriever.models.encoder import DEFAULT_MODEL, load_encoder
from retriever.store.faiss_index import VectorIndex

K = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--real", type=int, default=2000)
    parser.add_argument("--models-dir", type=Path, default=Path(".shifu/models"))
    args = parser.parse_args()
    encoder = load_encoder(DEFAULT_MODEL, args.models_dir, precision="auto")
    real = encoder.encode_passages(sample_texts(args.real))
    queries = encoder.encode_queries(sample_questions(args.queries))
    vectors = _tiled(real, args.size)
    ids = list(range(1, args.size + 1))
    rng = np.random.default_rng(1)
    filters: dict[str, Sequence[int] | None] = {"none": None}
    for share in (0.95, 0.05):
        chosen = rng.random(args.size) < share
        filters[f"{share:.0%} allowed"] = [i for i, keep in zip(ids, chosen, strict=True) if keep]
    indexes = {name: _built(name, ids, vectors) for name in ("exact", "hnsw")}
    del vectors
    print("| index | filter | p50 ms | p99 ms | Recall@10 vs exact |\n|---|---|---|---|---|")
    for label, allowed in filters.items():
        truth = indexes["exact"].search_many(queries, K, allowed)
        for name, index in indexes.items():
            found, timings = _timed(index, queries, allowed)
            print(f"| {name} | {label} | {np.percentile(timings, 50):.1f} | "
                  f"{np.percentile(timings, 99):.1f} | {_recall(found, truth):.3f} |")  # fmt: skip


def _tiled(real: np.ndarray, size: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    vectors = np.empty((size, real.shape[1]), dtype=np.float32)
    for start in range(0, size, len(real)):
        rows = min(len(real), size - start)
        noisy = real[:rows] + rng.normal(0, 0.01, size=(rows, real.shape[1]))
        vectors[start : start + rows] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    return vectors


def _built(name: str, ids: list[int], vectors: np.ndarray) -> VectorIndex:
    began = time.perf_counter()
    dim = vectors.shape[1]
    index = VectorIndex.hnsw(ids, vectors, dim) if name == "hnsw" else VectorIndex.from_vectors(
        ids, vectors, dim)  # fmt: skip
    seconds = time.perf_counter() - began
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "index.faiss"
        index.write(path)
        size = path.stat().st_size
    per_million = size / len(ids) * 1e6 / 2**20
    print(f"{name}: built in {seconds:.0f} s, {per_million:.0f} MiB per million chunks")
    return index


def _timed(
    index: VectorIndex, queries: np.ndarray, allowed: Sequence[int] | None
) -> tuple[list[list[tuple[int, float]]], list[float]]:
    index.search_many(queries[:1], K, allowed)  # warm
    found, timings = [], []
    for query in queries:
        began = time.perf_counter()
        found.extend(index.search_many(query.reshape(1, -1), K, allowed))
        timings.append((time.perf_counter() - began) * 1000)
    return found, timings


def _recall(found: list[list[tuple[int, float]]], truth: list[list[tuple[int, float]]]) -> float:
    pairs = zip(found, truth, strict=True)
    return float(np.mean([len({i for i, _ in f} & {i for i, _ in t}) / max(len(t), 1)
                          for f, t in pairs]))  # fmt: skip


if __name__ == "__main__":
    main()
