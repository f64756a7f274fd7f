"""The store seam: where a generation's dense vectors live, one backend a file behind this
protocol. `faiss` (retriever/store/faiss_backend.py, the embedded default) keeps them in the
generation folder; `milvus` (retriever/store/milvus/backend.py) keeps them in a Milvus
collection. Metadata, BM25 and the manifest stay in the generation folder either way, so
ingest, search, citations and the API do not know which backend holds the vectors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from retriever.records import Chunk, Document
from retriever.store.manifest import Manifest
from retriever.store.metadata import MetadataDB


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
