"""The FAISS seam: the only module that imports faiss (lazily). An index is exact (flat inner
product) or approximate (HNSW over the same vectors); both take the allowed ids of a query as an
id selector, so a filter or access group is applied inside the search and nothing outside it is
ever returned."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retriever.kept import KeptForList
from retriever.lazy import require


def _faiss() -> Any:
    return require("faiss", "faiss-cpu")


HNSW_M = 32  # graph neighbours per vector
HNSW_EF_CONSTRUCTION = 80
# candidates a search keeps (raised to k). At a million tiled e5 vectors Recall@10 against exact
# was 0.923 at 1024, 0.975 at 2048, 0.999 at 4096 (10 ms p50, against 134 ms exact)
HNSW_EF_SEARCH = 4096
# a query allowed fewer than this share of the chunks is searched exactly among them: filtered
# HNSW loses recall when most of the graph is filtered out
EXACT_BELOW_SHARE = 0.1


class VectorIndex:
    """Inner-product index whose row ids are chunk ids (IndexIDMap2 over a flat index, or
    IndexIDMap over HNSW)."""

    def __init__(self, index: Any) -> None:
        self._index = index
        self._hnsw = _hnsw_of(index)
        self._ids: np.ndarray | None = None  # HNSW: chunk id of every internal position
        self._selectors: KeptForList[Any] = KeptForList()  # of chunk ids
        self._positions: KeptForList[Any] = KeptForList()  # of HNSW's internal positions

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
    def hnsw(cls, ids: Sequence[int], vectors: np.ndarray, dim: int) -> VectorIndex:
        """An approximate index over the vectors (they are kept in it, for exact fallbacks)."""
        faiss = _faiss()
        graph = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index = cls(faiss.IndexIDMap(graph))
        index.add(ids, vectors)
        return index

    @property
    def approximate(self) -> bool:
        return self._hnsw is not None

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
        matrix = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(k, self.count)
        few = allowed_ids is not None and len(allowed_ids) < EXACT_BELOW_SHARE * self.count
        if self._hnsw is not None and allowed_ids is not None and few:
            return self._exact_among(matrix, k, allowed_ids)
        scores, ids = _search(faiss, self._index, matrix, k, self._params(faiss, k, allowed_ids))
        return [
            [(int(i), float(s)) for i, s in zip(row_ids, row_scores, strict=True) if i >= 0]
            for row_ids, row_scores in zip(ids, scores, strict=True)
        ]

    def _params(self, faiss: Any, k: int, allowed_ids: Sequence[int] | None) -> Any:
        """The search's parameters: the allowed ids as a selector, HNSW's candidate list."""
        selector = self._selector(faiss, allowed_ids) if allowed_ids is not None else None
        if self._hnsw is not None:
            return faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_EF_SEARCH, k))
        return None if selector is None else faiss.SearchParameters(sel=selector)

    def _selector(self, faiss: Any, allowed_ids: Sequence[int]) -> Any:
        return self._selectors.get(
            allowed_ids, lambda ids: faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64))
        )

    def _exact_among(
        self, queries: np.ndarray, k: int, allowed_ids: Sequence[int]
    ) -> list[list[tuple[int, float]]]:
        """Exact scores of the allowed chunks only: the flat storage HNSW keeps its vectors in,
        searched with a selector of their positions (kept for the same allowed list)."""
        assert self._hnsw is not None
        faiss = _faiss()
        if self._ids is None:
            self._ids = faiss.vector_to_array(self._index.id_map)
        ids = self._ids

        def selector_of(allowed: Sequence[int]) -> Any:
            wanted = np.flatnonzero(np.isin(ids, np.asarray(allowed, dtype=np.int64)))
            return faiss.IDSelectorBatch(wanted.astype(np.int64))

        params = faiss.SearchParameters(sel=self._positions.get(allowed_ids, selector_of))
        scores, positions = _search(faiss, self._hnsw.storage, queries, k, params)
        return [[(int(self._ids[p]), float(s)) for p, s in zip(row, row_scores, strict=True)
                 if p >= 0] for row, row_scores in zip(positions, scores, strict=True)]  # fmt: skip


def _hnsw_of(index: Any) -> Any:
    """The HNSW graph an IndexIDMap wraps, None for a flat index."""
    faiss = _faiss()
    inner = getattr(index, "index", None)
    graph = faiss.downcast_index(inner) if inner is not None else None
    return graph if isinstance(graph, faiss.IndexHNSW) else None


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
