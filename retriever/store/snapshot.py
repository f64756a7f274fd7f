"""Read-only views of one index generation: what search and evaluation rank over."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from retriever.bm25.translation import Expansion, Lexicon, glossary_lexicon
from retriever.filters import Filters
from retriever.glossary import Glossary
from retriever.store.backend import EVERYTHING, Selection, VectorBackend
from retriever.store.derived import load_sparse
from retriever.store.faiss_backend import FaissBackend
from retriever.store.language_space import held_scripts
from retriever.store.layout import METADATA
from retriever.store.manifest import Manifest, read_manifest
from retriever.store.metadata import MetadataDB
from retriever.store.rows import ChunkRow, DocumentRow

MAX_CACHED_SETS = 64  # allowed-chunk lists, glossaries, lexicons kept per group combination
_Key = TypeVar("_Key")
_Value = TypeVar("_Value")


def _kept(cache: dict[_Key, _Value], key: _Key, make: Callable[[], _Value]) -> _Value:
    """`cache[key]`, made once; a full cache starts over rather than grow with every group
    combination callers bring."""
    if key not in cache:
        if len(cache) >= MAX_CACHED_SETS:
            cache.clear()
        cache[key] = make()
    return cache[key]


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
        found: Sequence[list[Expansion] | None] | None = None,
    ) -> list[list[tuple[int, float]]]: ...

    def chunk_rows(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRow]: ...

    def expansions(self, question: str, lexicon: Lexicon) -> list[Expansion]: ...

    def lexicon(self, groups: Sequence[str] | None, base: Lexicon | None) -> Lexicon | None: ...

    def glossary(self, groups: Sequence[str] | None = None) -> Glossary: ...

    def scripts(self) -> dict[int, str]: ...

    def held(self) -> frozenset[str]: ...

    def bilingual(self) -> bool: ...

    def documents(self) -> list[DocumentRow]: ...

    def close(self) -> None: ...


class GenerationSnapshot:
    """One generation folder (manifest, metadata, BM25) with its dense vectors wherever the
    backend keeps them."""

    def __init__(self, folder: Path, backend: VectorBackend | None = None) -> None:
        backend = backend or FaissBackend()
        self.folder = folder
        self.manifest = read_manifest(folder)
        backend.check(self.manifest)
        self.dense = backend.reader(folder, self.manifest)
        self._exact = backend.exact
        self.sparse = load_sparse(folder)
        self._meta = MetadataDB(folder / METADATA, read_only=True)
        self._scripts: dict[int, str] | None = None
        self._held: frozenset[str] | None = None
        self._glossaries: dict[tuple[str, ...] | None, Glossary] = {}
        self._lexicons: dict[tuple[tuple[str, ...] | None, int], Lexicon | None] = {}
        self._allowed: dict[tuple[bool, tuple[str, ...] | None], list[int]] = {}
        self._has_superseded = self._meta.count_superseded() > 0
        self._has_restricted = self._meta.count_restricted() > 0

    def bilingual(self) -> bool:
        """Enough zh and en chunks that cross-script matching is worth its cost; from the
        chunks' scripts, so it holds whichever backend keeps the vectors."""
        return self.held() == {"zh", "en"}

    def held(self) -> frozenset[str]:
        """The scripts enough of this generation's chunks are written in to search across."""
        if self._held is None:
            self._held = held_scripts(list(self.scripts().values()))
        return self._held

    def glossary(self, groups: Sequence[str] | None = None) -> Glossary:
        """The terms of the documents a caller with `groups` (None: all) may read, once per
        group combination (a term mined from a restricted document must not leak)."""
        return _kept(self._glossaries, self._groups_key(groups),
                     lambda: self._meta.glossary(groups))  # fmt: skip

    def lexicon(self, groups: Sequence[str] | None, base: Lexicon | None) -> Lexicon | None:
        """The glossary's terms over `base` (the dictionary), for the caller's groups."""

        def layered() -> Lexicon | None:
            terms = self.glossary(groups).translating()
            return glossary_lexicon(terms, base) if terms else base

        return _kept(self._lexicons, (self._groups_key(groups), id(base)), layered)

    def _groups_key(self, groups: Sequence[str] | None) -> tuple[str, ...] | None:
        """What a caller's groups select: every group combination is alike while no document
        is restricted."""
        if groups is None or not self._has_restricted:
            return None
        return tuple(sorted(groups))

    def scripts(self) -> dict[int, str]:
        """Script ('zh' or 'en') of every chunk, read once per snapshot."""
        if self._scripts is None:
            self._scripts = self._meta.chunk_scripts()
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
            return self._meta.chunk_ids_where(filters, include_superseded, groups)
        if groups is None and (include_superseded or not self._has_superseded):
            return None
        key = (include_superseded, self._groups_key(groups))
        where = self._meta.chunk_ids_where
        return _kept(self._allowed, key, lambda: where({}, include_superseded, groups))

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
        admitted = set(self._meta.chunk_ids_where(
            criteria.filters, criteria.include_superseded, criteria.groups,
            among=[chunk_id for chunk_id, _ in ranking],
        ))  # fmt: skip
        return [(chunk_id, score) for chunk_id, score in ranking if chunk_id in admitted]

    def sparse_many(
        self,
        questions: Sequence[str],
        k: int,
        selection: Selection | None = None,
        found: Sequence[list[Expansion] | None] | None = None,
    ) -> list[list[tuple[int, float]]]:
        ids = selection.ids if selection else None
        return self.sparse.search_many(questions, k, ids, found)

    def chunk_rows(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRow]:
        return self._meta.chunk_rows(chunk_ids)

    def expansions(self, question: str, lexicon: Lexicon) -> list[Expansion]:
        """The question's words in the other script, with this generation's BM25 tokens."""
        return self.sparse.expansions(question, lexicon)

    def documents(self) -> list[DocumentRow]:
        return self._meta.documents()

    def documents_where(
        self,
        filters: Filters,
        include_superseded: bool,
        groups: Sequence[str] | None,
        page: tuple[int, int] | None = None,
    ) -> tuple[int, list[tuple[DocumentRow, int]]]:
        """(how many match, the page (offset, limit) of (document, chunk count))."""
        return self._meta.documents_where(filters, include_superseded, groups, page)

    def document_by_key(self, key: str) -> DocumentRow | None:
        return self._meta.document_by_key(key)

    def chunk_docs(self) -> dict[int, str]:
        """The document key of every chunk."""
        return self._meta.chunk_docs()

    def visible(self, chunk_id: int, groups: Sequence[str] | None) -> bool:
        """Whether a chunk exists and a caller with `groups` (None: everything) may see it;
        superseded revisions count as existing."""
        return bool(self._meta.chunk_ids_where({}, True, groups, among=[chunk_id]))

    def facets(self, fields: Sequence[str], groups: Sequence[str] | None) -> dict[str, list[str]]:
        """The distinct values of some metadata fields among the documents one may see."""
        return self._meta.facets(fields, groups)

    def close(self) -> None:
        self._meta.close()
