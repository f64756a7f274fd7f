"""Ingest and query throughput of each vector backend at one size, side by side in one run.

    python -m bench.store_backends [--size 100000] [--queries 300]
                                   [--backends faiss milvus-lite milvus-server]

The corpus is bench/query_latency.py's synthetic one (real chunks from the shared sets, embedded
once, tiled with noise to the size), so no backend pays for embedding: "ingest" is the store
write of vectors, metadata and BM25 in one generation, chunks/s. "dense" is one filtered vector
search (top 100, current revisions only), "hybrid" the whole default search with its query
encode; both are queries/s on one thread, with p50/p99 in ms. The Milvus server is PyPI's
embedded standalone server on loopback, started and stopped here.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from bench.query_latency import _build, sample_questions, sample_texts
from retriever.models.encoder import DEFAULT_MODEL, SentenceTransformerEncoder, load_encoder
from retriever.ranking.search import search
from retriever.store.backend import VectorBackend
from retriever.store.faiss_backend import FaissBackend
from retriever.store.index_store import IndexStore
from retriever.store.milvus.backend import MilvusBackend
from retriever.store.milvus.collection import MilvusTarget
from retriever.store.snapshot import GenerationSnapshot
from tests.milvus_server import milvus_server, server_uri


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--real", type=int, default=2000)
    parser.add_argument("--backends", nargs="+", default=["faiss", "milvus-lite", "milvus-server"])
    parser.add_argument("--models-dir", type=Path, default=Path(".shifu/models"))
    args = parser.parse_args()
    encoder = load_encoder(DEFAULT_MODEL, args.models_dir)
    texts, questions = sample_texts(args.real), sample_questions(args.queries)
    vectors = encoder.encode_passages(texts)
    query_vectors = encoder.encode_queries(questions)
    print(f"{args.size} chunks; {len(questions)} queries\n")
    print("| backend | ingest chunks/s | dense q/s | dense p50 / p99 ms | hybrid q/s "
          "| hybrid p50 / p99 ms |\n|---|---|---|---|---|---|")  # fmt: skip
    for name in args.backends:
        with tempfile.TemporaryDirectory() as home, _backend(name, Path(home)) as backend:
            store = IndexStore(Path(home), backend)
            began = time.perf_counter()
            _build(store, encoder, texts, vectors, args.size)
            ingest_rate = args.size / (time.perf_counter() - began)
            snapshot = store.snapshot()
            assert snapshot is not None
            dense, hybrid = _query_times(snapshot, encoder, questions, query_vectors)
            print(f"| {name} | {ingest_rate:.0f} | {_row(dense)} | {_row(hybrid)} |", flush=True)
            snapshot.close()


def _query_times(
    snapshot: GenerationSnapshot, encoder: SentenceTransformerEncoder, questions: list[str],
    query_vectors: np.ndarray,
) -> tuple[list[float], list[float]]:  # fmt: skip
    dense = _timed(len(questions), lambda i: _dense(snapshot, query_vectors[i : i + 1]))
    hybrid = _timed(len(questions), lambda i: search(snapshot, encoder, questions[i], 10))
    return dense, hybrid


def _dense(snapshot: GenerationSnapshot, vector: np.ndarray) -> None:
    snapshot.dense_many(vector, 100, snapshot.select(None))


def _timed(count: int, run: Callable[[int], object]) -> list[float]:
    run(0)  # warm-up: first-use loading is not throughput
    times = []
    for i in range(count):
        began = time.perf_counter()
        run(i)
        times.append(time.perf_counter() - began)
    return times


def _row(times: list[float]) -> str:
    ms = np.asarray(times) * 1000
    return (
        f"{len(times) / sum(times):.1f} | {np.percentile(ms, 50):.1f} / {np.percentile(ms, 99):.1f}"
    )


@contextmanager
def _backend(name: str, home: Path) -> Iterator[VectorBackend]:
    if name == "faiss":
        yield FaissBackend()
    elif name == "milvus-lite":
        yield MilvusBackend(MilvusTarget(str(home / "milvus.db"), "bench"))
    else:  # the test suite's server: same loopback set-up, and its lock on the fixed ports
        with milvus_server(home / "server") as server:
            yield MilvusBackend(MilvusTarget(server_uri(server), "bench"))


if __name__ == "__main__":
    main()
