"""The store seam: where a generation's dense vectors live. `faiss` (the embedded default) keeps
them in the generation folder; `milvus` (retriever/milvus_backend.py) keeps them in a Milvus
collection. Metadata, BM25 and the manifest stay in the generation folder either way, so
ingest, search, citations and the API do not know which backend holds the vectors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from retriever.faiss_index import VectorIndex
from retriever.generation import DIRECTION_FILE, SEARCH_FILE, write_derived
from retriever.language_space import project_out
from retriever.manifest import Manifest
from retriever.metadata import MetadataDB
from retriever.records import Chunk, Document

RAW_FILE = "vectors.faiss"


@dataclass(frozen=True)
class Selection:
    """What a query may rank: `ids` (None: every chunk of the generation) computed by SQL over
    the generation's metadata, and the criteria they came from, for backends that filter
    where the vectors live."""

    ids: Sequence[int] | None
    filters: Mapping[str, Sequence[str]]
    include_superseded: bool
    groups: Sequence[str] | None


EVERYTHING = Selection(None, {}, True, None)


class VectorWriter(Protocol):
    """The vector side of one staged generation."""

    @property
    def count(self) -> int: ...

    def add(self, doc: Document, chunks: Sequence[Chunk], vectors: np.ndarray) -> None: ...

    def remove(self, chunk_ids: Sequence[int]) -> None: ...

    def vectors(self, chunk_ids: Sequence[int]) -> np.ndarray: ...

    def write(self, staging: Path, meta: MetadataDB, flagged: Sequence[str]) -> bool:
        """Write what the generation needs into `staging` (True: a language direction is
        used); `flagged` are the documents whose superseded flag changed."""
        ...

    def after_commit(self, live: Path) -> None:
        """Work that may only happen once the generation in `live` is current."""
        ...


class DenseReader(Protocol):
    def search_many(
        self, queries: np.ndarray, k: int, selection: Selection | None
    ) -> list[list[tuple[int, float]]]: ...


class VectorBackend(Protocol):
    name: str
    exact: bool  # False: hits must be re-checked against the generation's metadata

    def check(self, manifest: Manifest) -> None:
        """Raise StoreError when the generation was not written by this backend."""
        ...

    def writer(
        self, root: Path, live: Path | None, previous: Manifest | None, dim: int
    ) -> VectorWriter: ...

    def reader(self, folder: Path, manifest: Manifest) -> DenseReader: ...

    def extra_manifest(self) -> dict[str, Any]:
        """Fields the manifest records about where the vectors are."""
        ...


class FaissVectorWriter:
    def __init__(self, live: Path | None, dim: int) -> None:
        self._index = VectorIndex.read(live / RAW_FILE) if live else VectorIndex.empty(dim)

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
        self._index.write(staging / RAW_FILE)
        return projected

    def after_commit(self, live: Path) -> None:
        return None


class FaissDense:
    def __init__(self, folder: Path) -> None:
        projected = (folder / SEARCH_FILE).is_file()
        self._index = VectorIndex.read(folder / (SEARCH_FILE if projected else RAW_FILE))
        self._direction = np.load(folder / DIRECTION_FILE) if projected else None

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
