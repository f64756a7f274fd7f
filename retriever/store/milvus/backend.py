"""The `milvus` vector backend: dense vectors in a Milvus collection, everything else in the
generation folder as with FAISS.

How a generation stays one consistent view although Milvus is written in place:
- a writer upserts new chunks at once, under ids at or above the live manifest's
  next_chunk_id, which every reader's filter keeps out (`id < next_chunk_id`);
- deletes and superseded-flag changes are written into the new generation (layout.MILVUS_SYNC)
  and applied only after CURRENT names it; a writer re-applies the live generation's file
  first (it is idempotent), and removes what a crashed writer added;
- search admits only hits the generation's own metadata selects (GenerationSnapshot), so a
  lagging flag or a not-yet-deleted vector can cost a slot, never show a wrong passage.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retriever.records import Chunk, Document
from retriever.store.backend import EVERYTHING, Selection
from retriever.store.derived import write_sparse
from retriever.store.errors import StoreError
from retriever.store.language_space import direction_from_sums, project_out
from retriever.store.layout import DIRECTION, LANGUAGE_SUMS, MILVUS_CLAIM, MILVUS_SYNC
from retriever.store.manifest import Manifest
from retriever.store.metadata import MetadataDB
from retriever.store.milvus.collection import MilvusCollection, MilvusTarget
from retriever.store.milvus.tags import access_tags, document_tags, expression
from retriever.text import script_of


class MilvusBackend:
    name = "milvus"
    exact = False  # filtered HNSW: hits are re-checked against the generation's metadata

    def __init__(self, target: MilvusTarget) -> None:
        self.target = target
        self._collection: MilvusCollection | None = None

    def collection(self, dim: int) -> MilvusCollection:
        if self._collection is None:
            self._collection = MilvusCollection(self.target, dim)
        return self._collection

    def check(self, manifest: Manifest) -> None:
        manifest.check_backend(self.name, self.target.collection)

    def writer(
        self, root: Path, live: Path | None, previous: Manifest | None, dim: int
    ) -> MilvusVectorWriter:
        collection = self.collection(dim)
        claim(root, collection, self.target)
        return MilvusVectorWriter(collection, live, previous, dim)

    def reader(self, folder: Path, manifest: Manifest) -> MilvusDense:
        return MilvusDense(self.collection(manifest.dim), folder, manifest)

    def extra_manifest(self) -> dict[str, Any]:
        return {"collection": self.target.collection}


def claim(root: Path, collection: MilvusCollection, target: MilvusTarget) -> None:
    """A home writes only to a collection it created or adopted, never into another's data."""
    claim = root / MILVUS_CLAIM
    if claim.is_file() and json.loads(claim.read_text()).get("collection") == target.collection:
        return
    if collection.count() > 0:
        raise StoreError(
            f"Milvus collection {target.collection!r} already holds vectors this home did not "
            "write; set SHIFU_MILVUS_COLLECTION to a new name, or migrate into it"
        )
    claim.write_text(json.dumps({"uri": target.uri, "collection": target.collection}))


class LanguageSums:
    """Per-script vector sums, kept up to date per change, from which the language direction
    follows without reading every vector back from Milvus at each commit."""

    def __init__(self, dim: int, folder: Path | None) -> None:
        self.sums = {s: np.zeros(dim, dtype=np.float64) for s in ("zh", "en")}
        self.counts = {"zh": 0, "en": 0}
        self.total = 0
        path = folder / LANGUAGE_SUMS if folder else None
        if path is not None and path.is_file():
            data = np.load(path)
            self.sums = {s: data[f"{s}_sum"] for s in ("zh", "en")}
            self.counts = {s: int(data[f"{s}_count"]) for s in ("zh", "en")}
            self.total = int(data["total"])

    def change(self, scripts: Sequence[str], vectors: np.ndarray, sign: int) -> None:
        self.total += sign * len(scripts)
        for script, vector in zip(scripts, vectors, strict=True):
            if script in self.sums:
                self.sums[script] += sign * vector.astype(np.float64)
                self.counts[script] += sign

    def save(self, folder: Path) -> np.ndarray | None:
        np.savez(
            folder / LANGUAGE_SUMS,
            zh_sum=self.sums["zh"],
            en_sum=self.sums["en"],
            zh_count=self.counts["zh"],
            en_count=self.counts["en"],
            total=self.total,
        )
        return direction_from_sums(self.sums["zh"], self.counts["zh"], self.sums["en"],
                                   self.counts["en"], self.total)  # fmt: skip


class MilvusVectorWriter:
    def __init__(
        self, collection: MilvusCollection, live: Path | None, previous: Manifest | None, dim: int
    ) -> None:
        self._collection = collection
        if live is not None:
            apply_sync(collection, live)
        collection.delete_from(previous.next_chunk_id if previous else 1)
        self._count = previous.count if previous else 0
        self._sums = LanguageSums(dim, live)
        self._deleted: list[int] = []

    @property
    def count(self) -> int:
        return self._count

    def add(self, doc: Document, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        tags, access = document_tags(doc), access_tags(doc.meta.access)
        scripts = [script_of(c.text) for c in chunks]
        rows = [
            {"id": c.chunk_id, "vector": v.astype(np.float32).tolist(), "doc_key": doc.key,
             "script": s, "tags": tags, "access": access, "superseded": False}
            for c, v, s in zip(chunks, vectors, scripts, strict=True)
        ]  # fmt: skip
        self._collection.upsert(rows)
        self._sums.change(scripts, np.asarray(vectors), +1)
        self._count += len(rows)

    def remove(self, chunk_ids: Sequence[int]) -> None:
        rows = self._collection.rows(chunk_ids)
        if rows:
            vectors = np.asarray([r["vector"] for r in rows], dtype=np.float32)
            self._sums.change([r["script"] for r in rows], vectors, -1)
        self._count -= len(rows)
        self._deleted.extend(int(r["id"]) for r in rows)

    def vectors(self, chunk_ids: Sequence[int]) -> np.ndarray:
        by_id = {int(r["id"]): r["vector"] for r in self._collection.rows(chunk_ids)}
        missing = [i for i in chunk_ids if i not in by_id]
        if missing:
            raise StoreError(f"Milvus has no vectors for chunks {missing[:5]}; re-ingest them")
        return np.asarray([by_id[i] for i in chunk_ids], dtype=np.float32).reshape(
            len(chunk_ids), self._collection.dim
        )

    def write(self, staging: Path, meta: MetadataDB, flagged: Sequence[str]) -> bool:
        write_sparse(staging, meta)
        direction = self._sums.save(staging)
        if direction is not None:
            np.save(staging / DIRECTION, direction)
        flags = {key: row.superseded for key in flagged if (row := meta.document_by_key(key))}
        superseded = {
            flag: [cid for key, f in flags.items() if f == flag for cid in meta.chunk_ids_of(key)]
            for flag in (True, False)
        }
        sync = {"delete": self._deleted, "superseded": superseded[True],
                "current": superseded[False]}  # fmt: skip
        (staging / MILVUS_SYNC).write_text(json.dumps(sync))
        return direction is not None

    def after_commit(self, live: Path) -> None:
        apply_sync(self._collection, live)


def apply_sync(collection: MilvusCollection, generation: Path) -> None:
    """Bring Milvus in line with a committed generation: deletes, then superseded flags."""
    path = generation / MILVUS_SYNC
    if not path.is_file():
        return
    sync = json.loads(path.read_text())
    collection.delete(sync["delete"])
    for flag, ids in ((True, sync["superseded"]), (False, sync["current"])):
        rows = [r for r in collection.rows(ids) if bool(r["superseded"]) != flag]
        collection.upsert([{**r, "superseded": flag} for r in rows])


class MilvusDense:
    """Filtered HNSW search in Milvus. With a language direction the query is projected and
    the fetched hits re-scored exactly against their projected vectors, as FAISS's projected
    index would score them."""

    def __init__(self, collection: MilvusCollection, folder: Path, manifest: Manifest) -> None:
        self._collection = collection
        self._below = manifest.next_chunk_id
        path = folder / DIRECTION
        self._direction = np.load(path) if path.is_file() else None

    def search_many(
        self, queries: np.ndarray, k: int, selection: Selection | None
    ) -> list[list[tuple[int, float]]]:
        if k <= 0:
            return [[] for _ in range(len(queries))]
        criteria = selection or EVERYTHING
        expr = expression(criteria.filters, criteria.include_superseded, criteria.groups,
                          self._below)  # fmt: skip
        if self._direction is None:
            hits = self._collection.search(queries, k, expr, with_vectors=False)
            return [[(i, s) for i, s, _ in row] for row in hits]
        projected = project_out(queries, self._direction)
        hits = self._collection.search(projected, 2 * k, expr, with_vectors=True)
        return [self._rescored(q, row, k) for q, row in zip(projected, hits, strict=True)]

    def _rescored(
        self, query: np.ndarray, row: list[tuple[int, float, np.ndarray | None]], k: int
    ) -> list[tuple[int, float]]:
        if not row or self._direction is None:
            return []
        ids = [i for i, _, _ in row]
        vectors = project_out(np.vstack([v for _, _, v in row if v is not None]), self._direction)
        scores = vectors @ query
        order = np.argsort(-scores, kind="stable")[:k]
        return [(ids[j], float(scores[j])) for j in order]
