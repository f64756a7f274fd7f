"""Index store: generations of (SQLite metadata + BM25 + manifest, and the dense vectors in
the folder with FAISS or in a Milvus collection), swapped atomically.

Layout under `<home>/index/`:
    CURRENT            name of the live generation (replaced by rename)
    gen-000007/        manifest.json, meta.sqlite, sparse/, vectors.faiss (FAISS backend)
    .writer.lock       held by the one writer (CLI or service)
A writer builds the next generation in a temporary folder beside the live one and only then
points CURRENT at it, so a crash at any point leaves the previous generation loadable.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from retriever.faults import crash_point
from retriever.fsutil import (
    LockBusy,
    acquire_lock,
    atomic_write,
    fsync_tree,
    prune_generations,
    remove_stale_staging,
)
from retriever.manifest import (
    FORMAT_VERSION,
    Manifest,
    ModelMismatchError,
    StoreError,
    WriterBusyError,
    read_manifest,
)
from retriever.metadata import MetadataDB
from retriever.records import Chunk, Document
from retriever.rows import DocumentRow
from retriever.snapshot import GenerationSnapshot, Snapshot
from retriever.vector_backend import FaissBackend, VectorBackend

__all__ = [
    "FORMAT_VERSION", "GenerationSnapshot", "IndexStore", "Manifest", "ModelMismatchError",
    "Snapshot", "StoreError", "StoreWriter", "WriterBusyError", "text_hash",
]  # fmt: skip

KEEP_GENERATIONS = 2  # the live one and its predecessor, which open readers may still use


class IndexStore:
    """Opens snapshots and writers over one home directory."""

    def __init__(self, home: Path, backend: VectorBackend | None = None) -> None:
        self.root = home / "index"
        self.backend = backend or FaissBackend()

    def current_generation(self) -> str | None:
        try:
            name = (self.root / "CURRENT").read_text().strip()
        except FileNotFoundError:
            return None
        return name or None

    def manifest(self) -> Manifest | None:
        name = self.current_generation()
        return read_manifest(self.root / name / "manifest.json") if name else None

    def snapshot(self) -> GenerationSnapshot | None:
        name = self.current_generation()
        if name is None:
            return None
        folder = self.root / name
        if not folder.is_dir():
            raise StoreError(f"index generation {folder} named by CURRENT is missing")
        return GenerationSnapshot(folder, self.backend)

    def writer(self, model: str, dim: int) -> StoreWriter:
        return StoreWriter(self, model, dim)

    def check_writer_free(self) -> None:
        """Fail now, before a caller spends time loading a model, when another ingest writes."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            acquire_lock(self.root / ".writer.lock").close()
        except LockBusy as exc:
            raise WriterBusyError(
                f"another ingest is writing to {self.root}; wait for it to finish"
            ) from exc


class StoreWriter:
    """Stages the next generation; `commit()` swaps it in, `abort()` throws it away."""

    def __init__(self, store: IndexStore, model: str, dim: int) -> None:
        self._store = store
        store.root.mkdir(parents=True, exist_ok=True)
        try:
            self._lock = acquire_lock(store.root / ".writer.lock")
        except LockBusy as exc:
            raise WriterBusyError(
                f"another ingest is writing to {store.root}; wait for it to finish"
            ) from exc
        try:
            remove_stale_staging(store.root, store.current_generation())
            self._open_staging(model, dim)
        except BaseException:
            self._lock.close()
            raise

    def _open_staging(self, model: str, dim: int) -> None:
        previous = self._store.manifest()
        if previous is not None:
            previous.check_model(model, dim)
            self._store.backend.check(previous)
        generation = previous.generation + 1 if previous else 1
        self._staging = self._store.root / f".gen-{generation:06d}.tmp-{os.getpid()}"
        self._staging.mkdir()
        live = self._store.root / f"gen-{previous.generation:06d}" if previous else None
        if live is not None:
            shutil.copyfile(live / "meta.sqlite", self._staging / "meta.sqlite")
        self.vectors = self._store.backend.writer(self._store.root, live, previous, dim)
        self.meta = MetadataDB(self._staging / "meta.sqlite")
        self._flagged: set[str] = set()
        crash_point("writer:staged")
        self.manifest = Manifest(
            FORMAT_VERSION, model, dim, 0, previous.next_chunk_id if previous else 1,
            generation, time.time(), backend=self._store.backend.name,
            **self._store.backend.extra_manifest(),
        )  # fmt: skip

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._lock.closed:
            return
        self.abort()

    def put_document(self, doc: Document, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Insert or replace a document and all its chunks."""
        self.delete_document(doc.key)
        first = self.manifest.next_chunk_id
        numbered = [replace(c, chunk_id=first + i) for i, c in enumerate(chunks)]
        self.manifest = replace(self.manifest, next_chunk_id=first + len(chunks))
        self.meta.put_document(doc, time.time())
        self.meta.put_chunks(numbered, [text_hash(c.indexed_text) for c in numbered])
        self.vectors.add(doc, numbered, vectors)

    def document_by_path(self, path: str) -> DocumentRow | None:
        return self.meta.document_by_path(path)

    def documents(self) -> list[DocumentRow]:
        return self.meta.documents()

    def key_taken(self, key: str) -> bool:
        return self.meta.key_taken(key)

    def revisions_of(self, doc_id: str) -> list[DocumentRow]:
        return self.meta.revisions_of(doc_id)

    def stored_vectors(self, key: str) -> dict[str, np.ndarray]:
        """Vectors of a document's current chunks by text hash, to skip re-embedding them."""
        by_hash = self.meta.chunk_hashes_of(key)
        vectors = self.vectors.vectors(list(by_hash.values()))
        return dict(zip(by_hash.keys(), vectors, strict=True))

    def mark_superseded(self) -> None:
        self._flagged.update(self.meta.mark_superseded())

    def delete_document(self, key: str) -> None:
        self.vectors.remove(self.meta.chunk_ids_of(key))
        self.meta.delete_document(key)

    def commit(self) -> Manifest:
        crash_point("commit:begin")
        self.mark_superseded()
        self.meta.commit()
        count = self.meta.count_chunks()
        if count != self.vectors.count:
            raise StoreError(f"metadata holds {count} chunks but the index {self.vectors.count}")
        projected = self.vectors.write(self._staging, self.meta, sorted(self._flagged))
        crash_point("commit:derived")
        self.meta.close()
        self.manifest = replace(
            self.manifest, count=count, created_at=time.time(), language_projection=projected
        )
        crash_point("commit:vectors")
        (self._staging / "manifest.json").write_text(json.dumps(asdict(self.manifest), indent=2))
        crash_point("commit:manifest")
        fsync_tree(self._staging)
        crash_point("commit:fsynced")
        final = self._store.root / f"gen-{self.manifest.generation:06d}"
        shutil.rmtree(final, ignore_errors=True)  # leftover of a crash after rename, never live
        os.replace(self._staging, final)
        crash_point("commit:renamed")
        atomic_write(self._store.root / "CURRENT", final.name)
        crash_point("commit:current")
        self.vectors.after_commit(final)
        prune_generations(self._store.root, keep=KEEP_GENERATIONS)
        crash_point("commit:pruned")
        self._lock.close()
        return self.manifest

    def abort(self) -> None:
        self.meta.close()
        shutil.rmtree(self._staging, ignore_errors=True)
        self._lock.close()


def text_hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()
