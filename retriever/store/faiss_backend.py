"""The `faiss` vector backend (the embedded default): vectors in the generation folder,
searched exactly, with the language direction projected out of a bilingual index."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retriever.records import Chunk, Document
from retriever.store.backend import Selection
from retriever.store.derived import write_derived
from retriever.store.faiss_index import VectorIndex
from retriever.store.language_space import project_out
from retriever.store.layout import DIRECTION, RAW_VECTORS, SEARCH_VECTORS
from retriever.store.manifest import Manifest
from retriever.store.metadata import MetadataDB


class FaissVectorWriter:
    def __init__(self, live: Path | None, dim: int) -> None:
        self._index = VectorIndex.read(live / RAW_VECTORS) if live else VectorIndex.empty(dim)

    @property
    def count(self) -> int:
        return self._index.count

    def add(self, doc: Document, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        self._index.add([c.chunk_id for c in chunks if c.chunk_id is not None], vectors)

    def remove(self, chunk_ids: Sequence[int]) -> None:
        self._index.remove(chunk_ids)

    def vectors(self, chunk_ids: Sequence[int]) -> np.ndarray:
        return self._index.vectors(chunk_ids)

    def write(self, staging: Path, meta: MetadataDB, flagged: Sequence[str]) -> bool:
        projected = write_derived(staging, self._index, meta)
        self._index.write(staging / RAW_VECTORS)
        return projected

    def after_commit(self, live: Path) -> None:
        return None


class FaissDense:
    def __init__(self, folder: Path) -> None:
        projected = (folder / SEARCH_VECTORS).is_file()
        self._index = VectorIndex.read(folder / (SEARCH_VECTORS if projected else RAW_VECTORS))
        self._direction = np.load(folder / DIRECTION) if projected else None

    def search_many(
        self, queries: np.ndarray, k: int, selection: Selection | None
    ) -> list[list[tuple[int, float]]]:
        if self._direction is not None:  # queries go into the space of the searched passages
            queries = project_out(queries, self._direction)
        return self._index.search_many(queries, k, selection.ids if selection else None)


class FaissBackend:
    name = "faiss"
    exact = True

    def check(self, manifest: Manifest) -> None:
        manifest.check_backend(self.name)

    def writer(
        self, root: Path, live: Path | None, previous: Manifest | None, dim: int
    ) -> FaissVectorWriter:
        return FaissVectorWriter(live, dim)

    def reader(self, folder: Path, manifest: Manifest) -> FaissDense:
        return FaissDense(folder)

    def extra_manifest(self) -> dict[str, Any]:
        return {}
