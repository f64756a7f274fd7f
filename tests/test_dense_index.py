"""The approximate FAISS index (HNSW): close to exact search, and never a hit outside the
allowed ids, whether the filter keeps most chunks (searched in the graph with an id selector) or
few (searched exactly among them)."""

from __future__ import annotations

import numpy as np
import pytest

from retriever.store.faiss_backend import approximate
from retriever.store.faiss_index import EXACT_BELOW_SHARE, VectorIndex

COUNT, DIM, K = 3000, 32, 10


@pytest.fixture(scope="module")
def indexes() -> tuple[VectorIndex, VectorIndex, np.ndarray]:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(COUNT, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = list(range(101, 101 + COUNT))  # chunk ids are not row positions
    queries = vectors[rng.choice(COUNT, 40, replace=False)] + 0.1 * rng.normal(size=(40, DIM))
    exact = VectorIndex.from_vectors(ids, vectors, DIM)
    graph = VectorIndex.hnsw(ids, vectors, DIM)
    assert graph.approximate and not exact.approximate
    return exact, graph, queries.astype(np.float32)


def recall(found: list[list[tuple[int, float]]], truth: list[list[tuple[int, float]]]) -> float:
    pairs = zip(found, truth, strict=True)
    return float(np.mean([len({i for i, _ in f} & {i for i, _ in t}) / len(t) for f, t in pairs]))


@pytest.mark.parametrize("share", [1.0, 0.5, 0.04])
def test_hnsw_is_close_to_exact_and_keeps_to_the_allowed_ids(
    indexes: tuple[VectorIndex, VectorIndex, np.ndarray], share: float
) -> None:
    exact, graph, queries = indexes
    rng = np.random.default_rng(int(share * 100))
    allowed = None
    if share < 1:
        allowed = sorted(int(i) for i in rng.choice(range(101, 101 + COUNT), int(share * COUNT),
                                                       replace=False))  # fmt: skip
    truth = exact.search_many(queries, K, allowed)
    found = graph.search_many(queries, K, allowed)
    assert all(len(row) == K for row in found)
    if allowed is not None:
        assert {i for row in found for i, _ in row} <= set(allowed)
    assert recall(found, truth) >= (1.0 if share < EXACT_BELOW_SHARE else 0.95)


def test_auto_turns_approximate_only_for_a_large_home() -> None:
    assert not approximate("auto", 10_000) and approximate("auto", 1_000_000)
    assert approximate("hnsw", 10) and not approximate("flat", 10_000_000)
