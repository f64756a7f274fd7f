"""The FAISS seam: the only module that imports faiss (lazily)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retriever.lazy import require


def _faiss() -> Any:
    return require("faiss", "faiss-cpu")


class VectorIndex:
    """Inner-product index whose row ids are chunk ids (IndexIDMap2 over a flat index)."""

    def __init__(self, index: Any) -> None:
        self._index = index

    @classmethod
    def empty(cls, dim: int) -> VectorIndex:
        faiss = _faiss()
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)))

    @classmethod
    def from_vectors(cls, ids: Sequence[int], vectors: np.ndarray, dim: int) -> VectorIndex:
        index = cls.empty(dim)
        index.add(ids, vectors)
        return index

    @classmethod
    def read(cls, path: Path) -> VectorIndex:
        return cls(_faiss().read_index(str(path)))

    def write(self, path: Path) -> None:
        _faiss().write_index(self._index, str(path))

    @property
    def dim(self) -> int:
        return int(self._index.d)

    @property
    def count(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        self._index.add_with_ids(matrix, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: Sequence[int]) -> None:
        if len(ids) == 0:
            return
        self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def everything(self) -> tuple[list[int], np.ndarray]:
        """All (ids, vectors) in storage order, read in one call rather than one per row."""
        if self.count == 0:
            return [], np.zeros((0, self.dim), dtype=np.float32)
        ids = _faiss().vector_to_array(self._index.id_map).tolist()
        return ids, self._index.index.reconstruct_n(0, self.count).astype(np.float32)

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        if len(ids) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        keys = np.asarray(ids, dtype=np.int64)
        return np.asarray(self._index.reconstruct_batch(keys), dtype=np.float32)

    def search(
        self, query: np.ndarray, k: int, allowed_ids: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (chunk id, score); `allowed_ids` restricts the search before ranking."""
        return self.search_many(query.reshape(1, -1), k, allowed_ids)[0]

    def search_many(
        self, queries: np.ndarray, k: int, allowed_ids: Sequence[int] | None = None
    ) -> list[list[tuple[int, float]]]:
        if self.count == 0 or k <= 0 or (allowed_ids is not None and len(allowed_ids) == 0):
            return [[] for _ in range(len(queries))]
        faiss = _faiss()
        params = None
        if allowed_ids is not None:
            selector = faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype=np.int64))
            params = faiss.SearchParameters(sel=selector)
        matrix = np.ascontiguousarray(queries, dtype=np.float32)
        scores, ids = _search(faiss, self._index, matrix, min(k, self.count), params)
        return [
            [(int(i), float(s)) for i, s in zip(row_ids, row_scores, strict=True) if i >= 0]
            for row_ids, row_scores in zip(ids, scores, strict=True)
        ]


FEW_QUERIES = 4  # up to this many queries are searched in the calling thread


def _search(faiss: Any, index: Any, matrix: np.ndarray, k: int, params: Any) -> tuple:
    """A query's search is well under a millisecond alone, but OpenMP workers that must wait for
    cores (torch's just encoded the question) stretch it to many: a few queries run in the
    calling thread. The thread count is a per-thread OpenMP setting, restored after."""
    if len(matrix) > FEW_QUERIES:
        return index.search(matrix, k, params=params)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return index.search(matrix, k, params=params)
    finally:
        faiss.omp_set_num_threads(threads)
