"""Read-only views of one index generation: what search and evaluation rank over."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from retriever.generation import load_sparse
from retriever.language_space import is_bilingual
from retriever.manifest import Manifest, read_manifest
from retriever.metadata import MetadataDB
from retriever.rows import ChunkRow, DocumentRow
from retriever.translation import Lexicon
from retriever.vector_backend import EVERYTHING, FaissBackend, Selection, VectorBackend

MAX_CACHED_SETS = 64  # allowed-chunk lists kept per snapshot (one per group combination)


class Snapshot(Protocol):
    """A consistent, read-only view of one index generation."""

    manifest: Manifest

    def select(
        self,
        filters: Mapping[str, Sequence[str]] | None,
        include_superseded: bool = False,
        groups: Sequence[str] | None = None,
    ) -> Selection: ...

    def dense_many(
        self, vectors: np.ndarray, k: int, selection: Selection | None = None
    ) -> list[list[tuple[int, float]]]: ...

    def sparse_many(
        self,
        questions: Sequence[str],
        k: int,
        selection: Selection | None = None,
        lexicon: Lexicon | None = None,
    ) -> list[list[tuple[int, float]]]: ...

    def chunk_rows(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRow]: ...

    def scripts(self) -> dict[int, str]: ...

    def bilingual(self) -> bool: ...

    def documents(self) -> list[DocumentRow]: ...

    def close(self) -> None: ...


class GenerationSnapshot:
    """One generation folder (manifest, metadata, BM25) with its dense vectors wherever the
    backend keeps them."""

    def __init__(self, folder: Path, backend: VectorBackend | None = None) -> None:
        backend = backend or FaissBackend()
        self.folder = folder
        self.manifest = read_manifest(folder / "manifest.json")
        backend.check(self.manifest)
        self.dense = backend.reader(folder, self.manifest)
        self._exact = backend.exact
        self.sparse = load_sparse(folder)
        self.meta = MetadataDB(folder / "meta.sqlite", read_only=True)
        self._scripts: dict[int, str] | None = None
        self._bilingual: bool | None = None
        self._allowed: dict[tuple[bool, tuple[str, ...] | None], list[int]] = {}
        self._has_superseded = self.meta.count_superseded() > 0
        self._has_restricted = self.meta.count_restricted() > 0

    def bilingual(self) -> bool:
        """Enough zh and en chunks that cross-script matching is worth its cost; from the
        chunks' scripts, so it holds whichever backend keeps the vectors."""
        if self._bilingual is None:
            scripts = list(self.scripts().values())
            self._bilingual = is_bilingual(scripts.count("zh"), scripts.count("en"), len(scripts))
        return self._bilingual

    def scripts(self) -> dict[int, str]:
        """Script ('zh' or 'en') of every chunk, read once per snapshot."""
        if self._scripts is None:
            self._scripts = self.meta.chunk_scripts()
        return self._scripts

    def select(
        self,
        filters: Mapping[str, Sequence[str]] | None,
        include_superseded: bool = False,
        groups: Sequence[str] | None = None,
    ) -> Selection:
        criteria = (dict(filters or {}), include_superseded, groups)
        return Selection(self._allowed_ids(filters, include_superseded, groups), *criteria)

    def _allowed_ids(
        self,
        filters: Mapping[str, Sequence[str]] | None,
        include_superseded: bool = False,
        groups: Sequence[str] | None = None,
    ) -> list[int] | None:
        """Chunks a query may rank (None: all). Superseded revisions are left out unless asked
        for, and with `groups` (None: sees everything) documents whose access groups the
        caller shares none of. Without filters the set is computed once per snapshot."""
        if groups is not None and not self._has_restricted:
            groups = None
        if filters:
            return self.meta.chunk_ids_where(filters, include_superseded, groups)
        if groups is None and (include_superseded or not self._has_superseded):
            return None
        key = (include_superseded, None if groups is None else tuple(sorted(groups)))
        if key not in self._allowed:
            if len(self._allowed) >= MAX_CACHED_SETS:
                self._allowed.clear()
            self._allowed[key] = self.meta.chunk_ids_where({}, include_superseded, groups)
        return self._allowed[key]

    def dense_many(
        self, vectors: np.ndarray, k: int, selection: Selection | None = None
    ) -> list[list[tuple[int, float]]]:
        if selection is not None and selection.ids is not None and not selection.ids:
            return [[] for _ in range(len(vectors))]
        rankings = self.dense.search_many(vectors, k, selection)
        if not self._exact:
            rankings = [self._admitted(r, selection) for r in rankings]
        # identical passages tie exactly; backends order ties differently, so order them here
        return [sorted(r, key=lambda hit: (-hit[1], hit[0])) for r in rankings]

    def _admitted(
        self, ranking: list[tuple[int, float]], selection: Selection | None
    ) -> list[tuple[int, float]]:
        """Hits this generation's metadata selects; a backend filtering elsewhere may lag."""
        criteria = selection or EVERYTHING
        admitted = set(self.meta.chunk_ids_where(
            criteria.filters, criteria.include_superseded, criteria.groups,
            among=[chunk_id for chunk_id, _ in ranking],
        ))  # fmt: skip
        return [(chunk_id, score) for chunk_id, score in ranking if chunk_id in admitted]

    def sparse_many(
        self,
        questions: Sequence[str],
        k: int,
        selection: Selection | None = None,
        lexicon: Lexicon | None = None,
    ) -> list[list[tuple[int, float]]]:
        ids = selection.ids if selection else None
        return self.sparse.search_many(questions, k, ids, lexicon)

    def chunk_rows(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRow]:
        return self.meta.chunk_rows(chunk_ids)

    def documents(self) -> list[DocumentRow]:
        return self.meta.documents()

    def close(self) -> None:
        self.meta.close()
