"""The `faiss` vector backend (the embedded default): vectors in the generation folder,
searched exactly, or through HNSW in a large home (`dense_index`), with the language direction
projected out of a bilingual index."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from retriever.records import Chunk, Document
from retriever.store.backend import Selection
from retriever.store.derived import write_derived
from retriever.store.faiss_index import VectorIndex
from retriever.store.language_space import project_out
from retriever.store.layout import DIRECTION, RAW_VECTORS, SEARCH_VECTORS
from retriever.store.manifest import Manifest
from retriever.store.metadata import MetadataDB

DenseIndex = Literal["auto", "flat", "hnsw"]
DENSE_INDEXES: tuple[DenseIndex, ...] = get_args(DenseIndex)
# `auto` searches HNSW from this many chunks on: an exact search of 250k x 384 takes about 25 ms
# on these machines (a million, 100 ms), HNSW a few
APPROXIMATE_FROM = 250_000


def approximate(dense_index: DenseIndex, count: int) -> bool:
    return dense_index == "hnsw" or (dense_index == "auto" and count >= APPROXIMATE_FROM)


class FaissVectorWriter:
    def __init__(self, live: Path | None, dim: int, dense_index: DenseIndex = "auto") -> None:
        self._index = VectorIndex.read(live / RAW_VECTORS) if live else VectorIndex.empty(dim)
        self._dense_index = dense_index

    @property
    def count(self) -> int:
        return self._index.count

    def add(self, doc: Document, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        self._index.add([c.chunk_id for c in chunks if c.chunk_id is not None], vectors)

    def add_ids(self, chunk_ids: Sequence[int], vectors: np.ndarray) -> None:
        self._index.add(chunk_ids, vectors)

    def remove(self, chunk_ids: Sequence[int]) -> None:
        self._index.remove(chunk_ids)

    def vectors(self, chunk_ids: Sequence[int]) -> np.ndarray:
        return self._index.vectors(chunk_ids)

    def write(self, staging: Path, meta: MetadataDB, flagged: Sequence[str]) -> bool:
        ann = approximate(self._dense_index, self._index.count)
        projected = write_derived(staging, self._index, meta, ann)
        self._index.write(staging / RAW_VECTORS)
        return projected

    def after_commit(self, live: Path) -> None:
        return None


class FaissDense:
    def __init__(self, folder: Path) -> None:
        derived = (folder / SEARCH_VECTORS).is_file()  # projected, or approximate, or both
        self._index = VectorIndex.read(folder / (SEARCH_VECTORS if derived else RAW_VECTORS))
        projected = (folder / DIRECTION).is_file()
        self._direction = np.load(folder / DIRECTION) if projected else None

    def search_many(
        self, queries: np.ndarray, k: int, selection: Selection | None
    ) -> list[list[tuple[int, float]]]:
        if self._direction is not None:  # queries go into the space of the searched passages
            queries = project_out(queries, self._direction)
        return self._index.search_many(queries, k, selection.ids if selection else None)


class FaissBackend:
    """`exact` is about filters, which HNSW applies inside the search as well (an id selector):
    no hit needs re-checking against the metadata."""

    name = "faiss"
    exact = True

    def __init__(self, dense_index: DenseIndex = "auto") -> None:
        if dense_index not in DENSE_INDEXES:
            raise ValueError(f"unknown dense index {dense_index!r}; choose from {DENSE_INDEXES}")
        self.dense_index: DenseIndex = dense_index

    def check(self, manifest: Manifest) -> None:
        manifest.check_backend(self.name)

    def writer(
        self, root: Path, live: Path | None, previous: Manifest | None, dim: int
    ) -> FaissVectorWriter:
        return FaissVectorWriter(live, dim, self.dense_index)

    def reader(self, folder: Path, manifest: Manifest) -> FaissDense:
        return FaissDense(folder)

    def extra_manifest(self) -> dict[str, Any]:
        return {}
