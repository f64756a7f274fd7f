"""What a generation derives from its chunks at commit time: the search-side dense index (with
the language direction projected out when the index is bilingual) and the BM25 index."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retriever.faiss_index import VectorIndex
from retriever.language_space import language_direction, project_out
from retriever.metadata import MetadataDB
from retriever.sparse import SparseIndex

SEARCH_FILE = "search.faiss"  # only when projected; otherwise the raw vectors are searched
DIRECTION_FILE = "language_direction.npy"
SPARSE_DIR = "sparse"


def write_derived(folder: Path, raw: VectorIndex, meta: MetadataDB) -> bool:
    """Write the derived indexes into a staging folder; True when a language direction is used."""
    features = meta.chunk_features()
    SparseIndex.build([cid for cid, _, _ in features], [t for _, _, t in features]).save(
        folder / SPARSE_DIR
    )
    ids, vectors = raw.everything()
    script_of = {cid: script for cid, script, _ in features}
    direction = language_direction(vectors, [script_of[i] for i in ids])
    if direction is None:
        return False
    np.save(folder / DIRECTION_FILE, direction)
    VectorIndex.from_vectors(ids, project_out(vectors, direction), raw.dim).write(
        folder / SEARCH_FILE
    )
    return True


@dataclass(frozen=True)
class SearchIndexes:
    dense: VectorIndex
    sparse: SparseIndex
    direction: np.ndarray | None

    @classmethod
    def load(cls, folder: Path) -> SearchIndexes:
        projected = (folder / SEARCH_FILE).is_file()
        dense = VectorIndex.read(folder / (SEARCH_FILE if projected else "vectors.faiss"))
        direction = np.load(folder / DIRECTION_FILE) if projected else None
        return cls(dense, SparseIndex.load(folder / SPARSE_DIR), direction)

    def prepare_queries(self, vectors: np.ndarray) -> np.ndarray:
        """Queries go into the same space as the searched passages."""
        if self.direction is None:
            return vectors
        return project_out(vectors, self.direction)
