"""What a generation derives from its chunks at commit time: the BM25 index, and for the FAISS
backend the search-side dense index when it differs from the raw vectors (the language direction
projected out of a bilingual index; an approximate HNSW index of a large one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from retriever.bm25.index import SparseIndex
from retriever.store.faiss_index import VectorIndex
from retriever.store.language_space import language_direction, project_out
from retriever.store.layout import DIRECTION, SEARCH_VECTORS, SPARSE_DIR
from retriever.store.metadata import MetadataDB


def write_sparse(folder: Path, meta: MetadataDB) -> dict[int, str]:
    """Write the BM25 index; returns every chunk's script, which the dense side needs next."""
    script_of: dict[int, str] = {}

    def rows() -> Iterator[tuple[int, list[str]]]:
        for chunk_id, script, tokens in meta.chunk_features():
            script_of[chunk_id] = script
            yield chunk_id, tokens

    SparseIndex.build(rows()).save(folder / SPARSE_DIR)
    return script_of


def load_sparse(folder: Path) -> SparseIndex:
    return SparseIndex.load(folder / SPARSE_DIR)


def write_derived(folder: Path, raw: VectorIndex, meta: MetadataDB, approximate: bool) -> bool:
    """Write the derived indexes into a staging folder; True when a language direction is used.
    `approximate`: search an HNSW index instead of the exact one."""
    script_of = write_sparse(folder, meta)
    ids, vectors = raw.everything()
    direction = language_direction(vectors, [script_of[i] for i in ids])
    if direction is not None:
        np.save(folder / DIRECTION, direction)
        vectors = project_out(vectors, direction)
    if approximate:
        VectorIndex.hnsw(ids, vectors, raw.dim).write(folder / SEARCH_VECTORS)
    elif direction is not None:
        VectorIndex.from_vectors(ids, vectors, raw.dim).write(folder / SEARCH_VECTORS)
    return direction is not None
